"""OCI 1.1 artifacts: files pushed as an image manifest, often attached to a subject.

::

    app = client.at("reg/app:v1")
    m = artifact_put(app, [ArtifactFile(Path("sbom.json"), SBOM)],    # by digest, beside app
                     artifact_type="application/spdx+json", subject=app, tag=False)
    artifact_get(app.by_digest(m.digest), Path("out"))
    artifact_list(app)           # referrers, sorted
    artifact_tree(app)           # referrers of referrers too

An artifact's config is the empty descriptor (``{}``) unless a config file is given, its
``artifactType`` says what it is, and each file is a layer whose
``org.opencontainers.image.title`` annotation is the file's name. Referrers come from the
referrers API, the ``sha256-<hex>`` fallback tag of registries without one, or an OCI layout's
index.json, whichever the store has.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from hoist.errors import InvalidInput, UnsafeLayer, Unsupported, UnsupportedMediaType
from hoist.fsutil import atomic_file
from hoist.index import same_location
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Annotations, Descriptor
from hoist.model.digest import CHUNK, Digest, digest_stream
from hoist.model.manifest import ImageManifest
from hoist.model.reference import LayoutReference, parse_reference

if TYPE_CHECKING:
    from hoist.location import Location

__all__ = [
    "ANNOTATION_TITLE",
    "ArtifactFile",
    "ReferrerNode",
    "artifact_get",
    "artifact_list",
    "artifact_put",
    "artifact_tree",
    "check_media_type",
    "has_explicit_tag",
    "safe_title",
]

log = logging.getLogger(__name__)

ANNOTATION_TITLE = "org.opencontainers.image.title"
"""The layer annotation holding a file's name."""
DEFAULT_FILE_TYPE = "application/octet-stream"

# RFC 6838 type/subtype (with an optional +suffix): restricted-name characters only.
_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_NAME}/{_NAME}")


@dataclass(frozen=True)
class ArtifactFile:
    """A file to push as a layer: its path, media type and title (default: its name)."""

    path: Path
    media_type: str = DEFAULT_FILE_TYPE
    title: str | None = None

    @property
    def name(self) -> str:
        """The title stored in the layer's annotation."""
        return self.title if self.title is not None else Path(self.path).name


@dataclass
class ReferrerNode:
    """A manifest and, recursively, the manifests that refer to it."""

    descriptor: Descriptor
    referrers: list[ReferrerNode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The descriptor's JSON object with a ``referrers`` list of the same shape."""
        out = self.descriptor.to_dict()
        out["referrers"] = [r.to_dict() for r in self.referrers]
        return out

    def walk(self, depth: int = 0) -> Iterator[tuple[int, ReferrerNode]]:
        """Every node, depth first, with its depth (the root is 0)."""
        yield depth, self
        for child in self.referrers:
            yield from child.walk(depth + 1)


def check_media_type(value: str, what: str = "media type") -> str:
    """``value`` if it is an RFC 6838 ``type/subtype``; InvalidInput otherwise."""
    if not _MEDIA_TYPE.fullmatch(value):
        raise InvalidInput(f"invalid {what} {value!r}: want type/subtype (RFC 6838)")
    return value


def has_explicit_tag(text: str) -> bool:
    """Whether reference ``text`` spells a tag, as opposed to being given ``latest`` by default.

    ``reg/app`` parses to tag ``latest`` but names none, so ``artifact_put(...,
    tag=has_explicit_tag(text))`` pushes it by digest; ``reg/app:latest`` is tagged. A layout
    reference has a tag only when one is written. Raises InvalidReference for bad text.
    """
    ref = parse_reference(text)
    if ref.tag is None:
        return False
    if isinstance(ref, LayoutReference):
        return True
    name = text.partition("@")[0]  # a registry reference's digest follows its first '@'
    return name.endswith(f":{ref.tag}")


def safe_title(title: str) -> PurePosixPath:
    """A title as a relative path that stays inside the directory it is written to.

    Raises UnsafeLayer for empty or absolute titles, ``.``, ``..`` or empty components, NUL
    and backslash.
    """
    path = PurePosixPath(title)
    if (
        not title
        or "\0" in title
        or "\\" in title
        or path.is_absolute()
        or any(part in ("", ".", "..") for part in title.split("/"))
    ):
        raise UnsafeLayer(f"unsafe file name {title!r} in an artifact layer", title)
    return path


def _file_descriptor(f: ArtifactFile) -> Descriptor:
    check_media_type(f.media_type, "file media type")
    safe_title(f.name)
    with open(Path(f.path), "rb") as fh:
        digest, size = digest_stream(iter(lambda: fh.read(CHUNK), b""))
    return Descriptor(
        f.media_type, digest, size, annotations=Annotations({ANNOTATION_TITLE: f.name})
    )


def _upload(dst: Location, path: Path, desc: Descriptor) -> None:
    with open(path, "rb") as fh:
        dst.blob_put(fh, digest=desc.digest, size=desc.size, media_type=desc.media_type)


def _subject(dst: Location, subject: Location | Digest) -> Descriptor:
    """The subject's descriptor (media type, digest, size); it must be in ``dst``'s repository.

    A digest names a manifest in ``dst``'s repository.
    """
    where = dst.by_digest(subject) if isinstance(subject, Digest) else subject
    if where.store is not dst.store or not same_location(where.ref, dst.ref):
        raise InvalidInput(
            f"the subject {where} is not in {dst.ref.name}: referrers are found only in the "
            "subject's repository, so push the artifact there"
        )
    head = where.manifest_head()
    return Descriptor(head.media_type, head.digest, head.size)


def artifact_put(
    dst: Location,
    files: Sequence[ArtifactFile],
    *,
    artifact_type: str,
    subject: Location | Digest | None = None,
    annotations: Mapping[str, str] | None = None,
    config: ArtifactFile | None = None,
    tag: bool = True,
) -> ImageManifest:
    """Push ``files`` as an artifact at ``dst``; returns the manifest (its digest is the id).

    ``tag=False`` (or a location with no tag) pushes by digest only, which needs a
    ``subject`` to find the artifact by: a location in ``dst``'s repository, or the digest of
    a manifest there. Files get their name as title; two with one title are refused. With
    no files the single layer is the empty descriptor (spec guidance).
    """
    check_media_type(artifact_type, "artifact type")
    tagged = tag and dst.tag is not None
    if subject is None and not tagged:
        raise InvalidInput(
            "an artifact with neither subject nor tag could not be found again: "
            "give a tag or a subject"
        )
    subject_desc = _subject(dst, subject) if subject is not None else None
    layers = [_file_descriptor(f) for f in files]
    titles = [d.annotations[ANNOTATION_TITLE] for d in layers]
    dupes = sorted({t for t in titles if titles.count(t) > 1})
    if dupes:
        raise InvalidInput(f"two files with the same title: {', '.join(dupes)}")
    config_desc = EMPTY_DESCRIPTOR
    if config is not None:
        config_desc = _file_descriptor(config).replace(annotations={})
    uploads = list(zip(files, layers, strict=True))
    if config is not None:
        uploads.append((config, config_desc))
    for f, desc in uploads:
        _upload(dst, Path(f.path), desc)
    if config is None or not layers:
        dst.blob_put(b"{}", digest=EMPTY_DESCRIPTOR.digest, size=2)
    manifest = ImageManifest.build(
        config_desc,
        layers or [EMPTY_DESCRIPTOR],
        artifact_type=artifact_type,
        subject=subject_desc,
        annotations=annotations,
    )
    target = dst.with_tag(dst.tag) if tagged else dst.by_digest(manifest.digest)
    target.manifest_put(manifest)
    return manifest


def _write_verified(src: Location, desc: Descriptor, target: Path) -> None:
    """Stream a blob to a temporary file, verify it, then rename it to ``target``."""
    with src.blob_get(desc.digest, desc.size) as reader, atomic_file(target) as out:
        for chunk in reader:
            out.write(chunk)


def _destination(root: Path, title: str) -> Path:
    """Where a title lands under ``root``; refuses escapes, also through symlinks."""
    rel = safe_title(title)
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(target.parent)
    if os.path.commonpath([real_root, real_parent]) != real_root or target.is_symlink():
        raise UnsafeLayer(f"file name {title!r} would be written outside {root}", title)
    return target


def artifact_get(src: Location, directory: str | Path) -> list[Path]:
    """Download every titled layer of the artifact ``src`` into ``directory``, verified.

    Returns the paths written, in layer order. Layers without a title (the empty layer)
    are skipped. Titles are checked before anything is downloaded.
    """
    manifest = src.manifest_get()
    if not isinstance(manifest, ImageManifest):
        raise UnsupportedMediaType(
            f"{src} is a {manifest.media_type}; an artifact is an image manifest",
            manifest.media_type,
        )
    titled = [
        (d, d.annotations[ANNOTATION_TITLE])
        for d in manifest.layers
        if d.annotations.get(ANNOTATION_TITLE)
    ]
    seen: set[str] = set()
    for _, title in titled:
        safe_title(title)
        if title in seen:
            raise UnsafeLayer(f"two layers with the title {title!r}", title)
        seen.add(title)
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    pinned = src.with_digest(manifest.digest)
    targets = [_destination(root, title) for _, title in titled]
    for (desc, _), target in zip(titled, targets, strict=True):
        _write_verified(pinned, desc, target)
    skipped = len(manifest.layers) - len(titled)
    if skipped:
        log.info("%d layer(s) without a title skipped", skipped)
    return targets


def _pin(subject: Location) -> tuple[Location, Descriptor]:
    head = subject.manifest_head()
    return subject.with_digest(head.digest), Descriptor(head.media_type, head.digest, head.size)


def _sorted(found: Sequence[Descriptor]) -> list[Descriptor]:
    return sorted(set(found), key=lambda d: (d.artifact_type or "", str(d.digest)))


def artifact_list(subject: Location, *, artifact_type: str | None = None) -> list[Descriptor]:
    """The referrers of ``subject``, sorted by artifact type then digest."""
    pinned, _ = _pin(subject)
    assert pinned.digest is not None
    return _sorted(pinned.referrers_list(artifact_type=artifact_type))


def artifact_tree(subject: Location, *, artifact_type: str | None = None) -> ReferrerNode:
    """``subject`` and its referrers, recursively; each manifest appears once (cycle-safe).

    ``artifact_type`` filters the referrers at every level.
    """
    pinned, desc = _pin(subject)
    root = ReferrerNode(desc)
    seen: set[Digest] = {desc.digest}
    todo = [root]
    while todo:
        node = todo.pop()
        try:
            found = pinned.by_digest(node.descriptor.digest).referrers_list(
                artifact_type=artifact_type
            )
        except Unsupported as exc:
            log.info("no referrers of %s: %s", node.descriptor.digest, exc)
            continue
        for d in _sorted(found):
            if d.digest in seen:
                continue
            seen.add(d.digest)
            child = ReferrerNode(d)
            node.referrers.append(child)
            todo.append(child)
    return root
