"""Why is an image big? Each layer's unpacked size, its largest files, and the bytes wasted
by files that later layers overwrite or delete, straight from where the image lives.

This is dive's view without an engine. Each layer is read once (headers only, its digest
verified and its diff_id checked against the config); the layers are merged as unpacking
would merge them, and every file's bytes either reach the final filesystem or are wasted:
shipped in a layer, then overwritten or deleted by a later one (a hard link that still
reaches them keeps them)::

    report = image_waste(client.image("ghcr.io/org/app:1"))
    print(f"{report.efficiency:.1%}", report.wasted, [p.path for p in report.paths[:3]])

``efficiency`` is ``1 - wasted / total``, with ``total`` the bytes of every file of every
layer. dive prints a similar score that counts each path's smallest version as needed, so
a file added and later deleted lowers dive's score by half its size, and this one by all of
it: those bytes are downloaded and stored for nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoist.layers.entries import Entry, LayerListing
from hoist.layers.merge import FileTree
from hoist.layers.paths import display, split
from hoist.layers.stream import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.model.digest import Digest

__all__ = ["FileSize", "LayerWaste", "WasteReport", "WastedPath", "image_waste"]


@dataclass(frozen=True)
class FileSize:
    """A file of a layer and its size; ``wasted`` when its bytes never reach the final
    filesystem."""

    path: str
    size: int
    wasted: bool

    def to_dict(self) -> dict[str, Any]:
        return {"path": display(self.path), "size": self.size, "wasted": self.wasted}


@dataclass(frozen=True)
class LayerWaste:
    """One layer: its sizes, its history step, its largest files, what of it is wasted."""

    index: int
    digest: Digest
    size: int
    """Compressed (what is downloaded)."""
    tar_size: int
    """Uncompressed tar bytes."""
    files: int
    """Regular files in the layer (hard links not counted)."""
    file_bytes: int
    """Their bytes: the layer's unpacked size."""
    wasted: int
    """Bytes of this layer's files that later layers overwrite or delete."""
    deletions: int
    """Whiteouts and opaque directories in the layer."""
    created_by: str | None
    largest: tuple[FileSize, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "digest": str(self.digest),
            "size": self.size,
            "tar_size": self.tar_size,
            "files": self.files,
            "file_bytes": self.file_bytes,
            "wasted": self.wasted,
            "deletions": self.deletions,
            "created_by": self.created_by,
            "largest": [f.to_dict() for f in self.largest],
        }


@dataclass(frozen=True)
class WastedPath:
    """A path whose bytes were shipped more than they are needed."""

    path: str
    wasted: int
    versions: int
    """Versions of the file in the layers (the surviving one, if any, included)."""
    layers: tuple[int, ...]
    """The layers holding the wasted versions."""
    how: str
    """``overwritten`` or ``deleted`` (the last wasted version's fate), or ``replaced`` when
    the layer that did it cannot be told (a path written through a symlink)."""
    by: int | None
    """The layer that overwrote or deleted the last wasted version."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": display(self.path),
            "wasted": self.wasted,
            "versions": self.versions,
            "layers": list(self.layers),
            "how": self.how,
            "by": self.by,
        }


@dataclass(frozen=True)
class WasteReport:
    """What :func:`image_waste` found."""

    image: str
    digest: Digest
    """The platform manifest's digest."""
    platform: str
    layers: tuple[LayerWaste, ...]
    total: int
    """Bytes of every file of every layer."""
    final: int
    """Bytes of the files of the final filesystem (hard-linked bytes once)."""
    paths: tuple[WastedPath, ...]
    """The paths wasting the most, largest first (at most the number asked for)."""
    wasted_paths: int
    """How many paths waste bytes in all."""

    @property
    def wasted(self) -> int:
        return self.total - self.final

    @property
    def efficiency(self) -> float:
        """``1 - wasted / total`` (1.0 for an image without file bytes)."""
        return 1.0 if self.total == 0 else 1 - self.wasted / self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "digest": str(self.digest),
            "platform": self.platform,
            "total": self.total,
            "final": self.final,
            "wasted": self.wasted,
            "efficiency": round(self.efficiency, 6),
            "layers": [x.to_dict() for x in self.layers],
            "wasted_paths": self.wasted_paths,
            "paths": [p.to_dict() for p in self.paths],
        }


def _ancestors(path: str) -> list[str]:
    out = []
    parent, _ = split(path)
    while parent:
        out.append(parent)
        parent, _ = split(parent)
    return out


class _Touches:
    """What each layer does to paths: entries (with their kinds), whiteouts, opaque dirs."""

    def __init__(self, listings: Sequence[LayerListing]) -> None:
        self.kinds = [{e.path: e.kind for e in x.entries if not e.is_deletion} for x in listings]
        self.whiteouts = [{e.path for e in x.entries if e.kind == "whiteout"} for x in listings]
        self.opaque = [{e.path for e in x.entries if e.kind == "opaque"} for x in listings]

    def fate(self, path: str, after: int) -> tuple[str, int | None]:
        """How the version of ``path`` in layer ``after`` went, and in which layer."""
        above = _ancestors(path)
        for j in range(after + 1, len(self.kinds)):
            kinds = self.kinds[j]
            if path in self.whiteouts[j] or any(a in self.whiteouts[j] for a in above):
                return "deleted", j
            if any(a in self.opaque[j] for a in above):
                return "deleted", j
            if any(kinds.get(a, "dir") != "dir" for a in above):
                return "deleted", j
            if path in kinds:
                return "overwritten", j
        return "replaced", None


def image_waste(
    image: Image,
    *,
    largest: int = 5,
    paths: int = 20,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> WasteReport:
    """Sizes and waste of ``image``, layer by layer: each layer's ``largest`` files and the
    ``paths`` wasting the most (see the module's docstring).

    Raises DigestMismatch when a layer's diff_id is not the config's, and the layers' errors
    (InvalidLayer, LayerTooLarge past ``max_bytes``).
    """
    from hoist.files import check_diff_id, layer_listings

    listings = layer_listings(image, max_bytes=max_bytes)
    for listing in listings:
        i = listing.layer
        check_diff_id(i, image.layers[i], listing.diff_id, image.config.diff_ids)
    tree = FileTree.from_listings(listings)
    live = {e.data for e in tree.walk() if e.data is not None}
    steps = {i: step for step, i in image.config.layer_history() if i is not None}

    layers = []
    by_path: dict[str, list[Entry]] = {}
    versions: dict[str, int] = {}
    final = 0
    for listing in listings:
        files = [e for e in listing.entries if e.kind == "file"]
        wasted_here = 0
        for entry in files:
            versions[entry.path] = versions.get(entry.path, 0) + 1
            if entry.data in live:
                final += entry.size
            elif entry.size:
                wasted_here += entry.size
                by_path.setdefault(entry.path, []).append(entry)
        top = heapq.nlargest(largest, files, key=lambda e: (e.size, e.path)) if largest else []
        step = steps.get(listing.layer)
        desc = image.layers[listing.layer]
        layers.append(
            LayerWaste(
                index=listing.layer,
                digest=desc.digest,
                size=desc.size,
                tar_size=listing.size,
                files=len(files),
                file_bytes=sum(e.size for e in files),
                wasted=wasted_here,
                deletions=sum(1 for e in listing.entries if e.is_deletion),
                created_by=step.created_by if step is not None else None,
                largest=tuple(FileSize(e.path, e.size, e.data not in live) for e in top),
            )
        )
    touches = _Touches(listings)
    ranked = heapq.nlargest(
        paths, by_path.items(), key=lambda kv: (sum(e.size for e in kv[1]), kv[0])
    )
    found = []
    for path, entries in ranked:
        how, by = touches.fate(path, entries[-1].layer)
        found.append(
            WastedPath(
                path,
                sum(e.size for e in entries),
                versions[path],
                tuple(e.layer for e in entries),
                how,
                by,
            )
        )
    return WasteReport(
        image=str(image.location),
        digest=image.manifest.digest,
        platform=str(image.config.platform),
        layers=tuple(layers),
        total=sum(x.file_bytes for x in layers),
        final=final,
        paths=tuple(found),
        wasted_paths=len(by_path),
    )
