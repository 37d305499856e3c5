"""The files of a built stage or an image, for ``COPY --from``: read only when asked.

The merged filesystem comes from listing every layer (hoist.layers); file bytes come from
one more pass over just the layers that hold the files copied. For a stage built by hoist
on ``scratch`` that is only its own new layers; a stage on a base image needs the base
layers too, and this is the only place the builder ever downloads them.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from hoist.authoring.context import go_match
from hoist.errors import InvalidLayer
from hoist.layers.entries import Entry, list_layer, walk_layer
from hoist.layers.merge import FileTree
from hoist.layers.stream import LayerStream
from hoist.model.digest import CHUNK

if TYPE_CHECKING:
    from hoist.authoring.copying import Node, PlanEntry
    from hoist.authoring.draft import DraftLayer

__all__ = ["StageFiles"]


class StageFiles:
    """The filesystem the layers ``layers`` make together (``name`` for messages)."""

    def __init__(self, layers: Sequence[DraftLayer], name: str, workdir: Path) -> None:
        self.layers = list(layers)
        self.name = name
        self.workdir = workdir
        self.read_layers = 0

    def _stream(self, index: int) -> LayerStream:
        layer = self.layers[index]
        self.read_layers += 1
        return LayerStream(
            layer.open(),
            layer.descriptor.media_type,
            name=f"{self.name} layer {index} ({layer.descriptor.digest})",
            size_hint=layer.descriptor.size,
        )

    @cached_property
    def tree(self) -> FileTree:
        listings = []
        for i in range(len(self.layers)):
            with self._stream(i) as stream:
                listings.append(list_layer(stream, layer=i))
        return FileTree.from_listings(listings)

    def _node(self, entry: Entry, rel: str) -> Node:
        from hoist.authoring.copying import Node

        kind = "file" if entry.kind == "hardlink" else entry.kind
        return Node(
            rel=rel,
            real=entry.path,
            kind=kind,
            mode=entry.mode,
            uid=entry.uid,
            gid=entry.gid,
            linkname=entry.linkname,
            data=entry.data,
        )

    def lookup(self, rel: str) -> Node | None:
        """The entry at ``rel``, symlinks followed inside the image."""
        entry = self.tree.get(rel)
        return None if entry is None else self._node(entry, rel)

    def glob(self, pattern: str) -> list[Node]:
        pattern = posixpath.normpath("/" + pattern).lstrip("/")
        out = []
        for entry in self.tree.walk():
            if go_match(pattern, entry.path):
                node = self.lookup(entry.path) if entry.kind == "symlink" else None
                out.append(node or self._node(entry, entry.path))
        return out

    def walk(self, top: Node) -> Iterator[Node]:
        """Everything under directory ``top``, sorted, parents first (symlinks kept)."""
        prefix = top.real + "/" if top.real else ""
        for entry in self.tree.walk():
            if entry.path.startswith(prefix):
                yield self._node(entry, entry.path)

    def materialize(self, plan: Sequence[PlanEntry]) -> list[PlanEntry]:
        """``plan`` with each file's bytes taken out of its layer into a temporary file."""
        wanted: dict[int, set[int]] = {}
        for entry in plan:
            if entry.data is not None:
                wanted.setdefault(entry.data[0], set()).add(entry.data[1])
        paths: dict[tuple[int, int], str] = {}
        for layer in sorted(wanted):
            with self._stream(layer) as stream:
                for member in walk_layer(stream, layer=layer):
                    ordinal = member.entry.ordinal
                    if ordinal not in wanted[layer]:
                        continue
                    path = self.workdir / f"from-{id(self)}-{layer}-{ordinal}"
                    with member.open() as src, open(path, "wb") as out:
                        while chunk := src.read(CHUNK):
                            out.write(chunk)
                    os.chmod(path, 0o600)
                    paths[(layer, ordinal)] = str(path)
                stream.finish()
                missing = wanted[layer] - {o for lay, o in paths if lay == layer}
                if missing:
                    raise InvalidLayer(f"{self.name} layer {layer}: tar members {missing} missing")
        return [
            dataclasses.replace(e, source=paths[e.data], data=None) if e.data is not None else e
            for e in plan
        ]
