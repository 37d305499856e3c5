"""OCI 1.1 artifacts: files and directories pushed as an image manifest, often attached to a
subject.

::

    app = client.at("reg/app:v1")
    m = artifact_put(app, [ArtifactFile(Path("sbom.json"), SBOM)],    # by digest, beside app
                     artifact_type="application/spdx+json", subject=app, tag=False)
    artifact_put(client.at("reg/docs:1"), [ArtifactFile(Path("site"))],   # a directory
                 artifact_type="application/vnd.example.site", tags=["latest"])
    artifact_get(app.by_digest(m.digest), Path("out"))
    artifact_get(app, Path("out"), match=ReferrerFilter("application/spdx+json", latest=True))
    artifact_list(app)           # referrers, sorted (hoist.referrers)
    artifact_tree(app)           # referrers of referrers, and of each platform's manifest

An artifact's config is the empty descriptor (``{}``) unless a config file is given, its
``artifactType`` says what it is, and each file is a layer whose
``org.opencontainers.image.title`` annotation is the file's name.

A directory becomes one tar+gzip layer the way oras packs it: its entries are under the
directory's name, the layer is annotated ``io.deis.oras.content.unpack: "true"`` and
``io.deis.oras.content.digest`` (the sha256 of the tar), and it is reproducible (sorted
entries, time 0, owner 0:0, no user names), so the same tree gives the same digest anywhere.
``artifact_get`` unpacks such layers with the rules of ``image unpack`` (nothing lands outside
the directory, a size limit against bombs, no device nodes), checks the tar's digest, refuses
links that point out of the directory, and moves the directory into place only once all of it
is verified. oras-py marks directories by the media type alone
(``application/vnd.oci.image.layer.v1.tar+gzip``, no annotations); such a layer is unpacked
too when it holds a directory of its title, and written as a file otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from hoist.errors import (
    DigestMismatch,
    InvalidInput,
    InvalidLayer,
    UnsafeLayer,
    UnsupportedMediaType,
)
from hoist.fsutil import atomic_file
from hoist.index import same_location
from hoist.layers.stream import DEFAULT_MAX_BYTES
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Annotations, Descriptor
from hoist.model.digest import CHUNK, Digest, digest_stream
from hoist.model.jsonvalue import parse_json
from hoist.model.manifest import ImageManifest
from hoist.model.reference import LayoutReference, parse_reference
from hoist.referrers import (
    ANNOTATION_CREATED,
    ReferrerFilter,
    ReferrerNode,
    artifact_list,
    artifact_select,
    artifact_tree,
)

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.platform import Platform

__all__ = [
    "ANNOTATION_CONTENT_DIGEST",
    "ANNOTATION_CREATED",
    "ANNOTATION_TITLE",
    "ANNOTATION_UNPACK",
    "AnnotationFile",
    "ArtifactFile",
    "ReferrerFilter",
    "ReferrerNode",
    "artifact_get",
    "artifact_list",
    "artifact_put",
    "artifact_select",
    "artifact_tree",
    "check_media_type",
    "has_explicit_tag",
    "safe_title",
]

log = logging.getLogger(__name__)

ANNOTATION_TITLE = "org.opencontainers.image.title"
"""The layer annotation holding a file's name."""
ANNOTATION_UNPACK = "io.deis.oras.content.unpack"
"""oras's mark of a layer that is a packed directory (``"true"``)."""
ANNOTATION_CONTENT_DIGEST = "io.deis.oras.content.digest"
"""oras's digest of a packed directory's uncompressed tar."""
DEFAULT_FILE_TYPE = "application/octet-stream"
DIRECTORY_TYPE = mt.OCI_LAYER_GZIP
"""The media type of a packed directory, as oras gives it."""
DEFAULT_CONFIG_TYPE = "application/vnd.unknown.config.v1+json"
"""A config file's media type when none is given, as oras gives it."""
MAX_ANNOTATION_FILE = 4 * 1024 * 1024
_RESERVED = (ANNOTATION_TITLE, ANNOTATION_UNPACK, ANNOTATION_CONTENT_DIGEST)

# RFC 6838 type/subtype (with an optional +suffix): restricted-name characters only.
_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_NAME}/{_NAME}")


@dataclass(frozen=True)
class ArtifactFile:
    """A file, a directory or a stream to push as one layer.

    ``path`` is a file (pushed as it is), a directory (packed as one tar+gzip layer, as oras
    does) or a binary stream such as stdin (read to its end into a temporary file first, to
    learn its digest). ``media_type`` defaults to ``application/octet-stream``, or
    ``application/vnd.oci.image.layer.v1.tar+gzip`` for a directory. ``title`` defaults to
    the name of the file or directory; a stream needs one. ``annotations`` are added to the
    layer's; the title and oras's directory annotations are hoist's to set.
    """

    path: Path | BinaryIO
    media_type: str | None = None
    title: str | None = None
    annotations: Mapping[str, str] = field(default_factory=Annotations)

    def __post_init__(self) -> None:
        if isinstance(self.path, str):
            object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "annotations", Annotations(self.annotations))
        if self.is_stream and self.title is None:
            raise InvalidInput("a file read from a stream needs a title")
        reserved = sorted(k for k in self.annotations if k in _RESERVED)
        if reserved:
            raise InvalidInput(f"{', '.join(reserved)}: set by hoist (give the title as the title)")

    @property
    def is_stream(self) -> bool:
        return not isinstance(self.path, Path)

    @property
    def is_directory(self) -> bool:
        return isinstance(self.path, Path) and self.path.is_dir()

    @property
    def name(self) -> str:
        """The title stored in the layer's annotation."""
        if self.title is not None:
            return self.title
        assert isinstance(self.path, Path)
        return os.path.basename(os.path.abspath(self.path))

    @property
    def layer_media_type(self) -> str:
        """The media type given, or the default for a file or a directory."""
        if self.media_type is not None:
            return self.media_type
        return DIRECTORY_TYPE if self.is_directory else DEFAULT_FILE_TYPE

    def with_annotations(self, extra: Mapping[str, str]) -> ArtifactFile:
        """A copy with ``extra`` added to the annotations."""
        return ArtifactFile(self.path, self.media_type, self.title, {**self.annotations, **extra})


def _string_map(value: object, where: str) -> Annotations:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput(f"{where}: want an object of string values")
    return Annotations(value)


@dataclass(frozen=True)
class AnnotationFile:
    """oras's annotation file: ``{"$manifest": {...}, "$config": {...}, "<file>": {...}}``.

    A file's key is its title or its path as given (``./a/b.txt`` matches ``a/b.txt``).
    """

    manifest: Annotations = field(default_factory=Annotations)
    config: Annotations = field(default_factory=Annotations)
    files: Mapping[str, Annotations] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes, what: str = "annotation file") -> AnnotationFile:
        """Parse the JSON (bounded); InvalidInput says what is wrong."""
        obj = parse_json(data, what=what, max_size=MAX_ANNOTATION_FILE)
        if not isinstance(obj, dict):
            raise InvalidInput(f"{what}: want a JSON object of objects")
        sections = {k: _string_map(v, f"{what}: {k!r}") for k, v in obj.items()}
        manifest = sections.pop("$manifest", Annotations())
        config = sections.pop("$config", Annotations())
        return cls(manifest, config, sections)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AnnotationFile:
        """Read and parse the file at ``path``."""
        with open(path, "rb") as f:
            data = f.read(MAX_ANNOTATION_FILE + 1)
        return cls.parse(data, what=f"annotation file {os.fspath(path)}")

    def apply(self, files: Sequence[ArtifactFile]) -> list[ArtifactFile]:
        """``files`` with the annotations this file gives each; a key that names none of them
        is refused (a typo would otherwise go unnoticed)."""
        used: set[str] = set()
        out = []
        for f in files:
            names = {f.name}
            if isinstance(f.path, Path):
                names |= {str(f.path), os.path.normpath(f.path), os.path.abspath(f.path)}
            keys = [k for k in self.files if k in names or os.path.normpath(k) in names]
            used.update(keys)
            extra: dict[str, str] = {}
            for k in keys:
                extra.update(self.files[k])
            out.append(f.with_annotations(extra) if extra else f)
        unknown = sorted(set(self.files) - used)
        if unknown:
            raise InvalidInput(f"the annotation file names no file given: {', '.join(unknown)}")
        return out


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


# ----------------------------------------------------------------------------- put


def _spool(stream: BinaryIO, stack: contextlib.ExitStack) -> Path:
    """Copy ``stream`` to a temporary file (removed when ``stack`` closes)."""
    fd, name = tempfile.mkstemp(prefix="hoist-artifact-")
    path = Path(name)
    stack.callback(path.unlink, missing_ok=True)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(CHUNK):
            out.write(chunk)
    return path


def _check_names(root: Path) -> None:
    """Refuse names a layer tar cannot carry back: ``.wh.*`` reads as a deletion."""
    for here, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            if name.startswith(".wh."):
                shown = os.path.relpath(os.path.join(here, name), root)
                raise InvalidInput(
                    f"{root}: {shown!r} would read as a whiteout (a deletion) in a layer tar"
                )


def _pack(f: ArtifactFile, stack: contextlib.ExitStack) -> tuple[Descriptor, Path]:
    """A directory as one reproducible tar layer in a temporary file, oras's way."""
    from hoist.layers.tarball import LayerBuilder

    assert isinstance(f.path, Path)
    media_type = f.layer_media_type
    root = Path(os.path.realpath(f.path))
    _check_names(root)
    compression = mt.compression_of(media_type) if mt.is_layer(media_type) else "gzip"
    builder = LayerBuilder(compression=compression, mtime=0, uid=0, gid=0)
    builder.add_path(root, f.name)
    layer = builder.finish()
    stack.callback(layer.discard)
    annotations = Annotations(
        {
            ANNOTATION_TITLE: f.name,
            ANNOTATION_UNPACK: "true",
            ANNOTATION_CONTENT_DIGEST: str(layer.diff_id),
            **f.annotations,
        }
    )
    desc = Descriptor(
        media_type, layer.descriptor.digest, layer.descriptor.size, annotations=annotations
    )
    return desc, layer.path


def _prepare(
    f: ArtifactFile, stack: contextlib.ExitStack, *, what: str = "file media type"
) -> tuple[Descriptor, Path]:
    """The layer descriptor of ``f`` and the local file holding its bytes."""
    check_media_type(f.layer_media_type, what)
    if f.is_directory:
        return _pack(f, stack)
    path = _spool(f.path, stack) if not isinstance(f.path, Path) else f.path
    with open(path, "rb") as fh:
        digest, size = digest_stream(iter(lambda: fh.read(CHUNK), b""))
    annotations = Annotations({ANNOTATION_TITLE: f.name, **f.annotations})
    return Descriptor(f.layer_media_type, digest, size, annotations=annotations), path


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


def _tags(dst: Location, tag: bool, tags: Sequence[str]) -> list[Location]:
    """Where to put the manifest by tag: ``dst``'s tag (when ``tag``), then ``tags``."""
    names = ([dst.tag] if tag and dst.tag is not None else []) + list(tags)
    return [dst.with_tag(t) for t in dict.fromkeys(names)]  # validates each tag


def artifact_put(
    dst: Location,
    files: Sequence[ArtifactFile],
    *,
    artifact_type: str,
    subject: Location | Digest | None = None,
    annotations: Mapping[str, str] | None = None,
    config: ArtifactFile | None = None,
    config_annotations: Mapping[str, str] | None = None,
    tag: bool = True,
    tags: Sequence[str] = (),
) -> ImageManifest:
    """Push ``files`` as an artifact at ``dst``; returns the manifest (its digest is the id).

    The manifest is put at ``dst``'s tag (unless ``tag=False``) and at each of ``tags``. With
    no tag at all it is pushed by digest only, which needs a ``subject`` to find it by: a
    location in ``dst``'s repository, or the digest of a manifest there. Files get their
    name as title; two with one title are refused. Directories are packed as oras packs
    them. With no files the single layer is the empty descriptor (spec guidance).
    ``config`` is a file (default media type ``application/vnd.unknown.config.v1+json``);
    ``config_annotations`` go on the config descriptor.
    """
    check_media_type(artifact_type, "artifact type")
    targets = _tags(dst, tag, tags)
    if subject is None and not targets:
        raise InvalidInput(
            "an artifact with neither subject nor tag could not be found again: "
            "give a tag or a subject"
        )
    if sum(f.is_stream for f in [*files, *([config] if config else [])]) > 1:
        raise InvalidInput("only one file can be read from a stream")
    titles = [f.name for f in files]
    for title in titles:
        safe_title(title)
    dupes = sorted({t for t in titles if titles.count(t) > 1})
    if dupes:
        raise InvalidInput(f"two files with the same title: {', '.join(dupes)}")
    if config is not None and config.is_directory:
        raise InvalidInput(f"the config {config.path} is a directory; a config is one file")
    subject_desc = _subject(dst, subject) if subject is not None else None
    with contextlib.ExitStack() as stack:
        uploads = [_prepare(f, stack) for f in files]
        layers = [desc for desc, _ in uploads]
        config_desc = EMPTY_DESCRIPTOR
        if config is not None:
            if config.media_type is None:
                config = ArtifactFile(config.path, DEFAULT_CONFIG_TYPE, config.title)
            desc, path = _prepare(config, stack, what="config media type")
            config_desc = desc.replace(annotations={})
            uploads.append((config_desc, path))
        if config_annotations:
            config_desc = config_desc.replace(annotations=config_annotations)
        for desc, path in uploads:
            _upload(dst, path, desc)
    if config is None or not layers:
        dst.blob_put(b"{}", digest=EMPTY_DESCRIPTOR.digest, size=2)
    manifest = ImageManifest.build(
        config_desc,
        layers or [EMPTY_DESCRIPTOR],
        artifact_type=artifact_type,
        subject=subject_desc,
        annotations=annotations,
    )
    for target in targets or [dst.by_digest(manifest.digest)]:
        target.manifest_put(manifest)
    return manifest


# ----------------------------------------------------------------------------- get


def _write_verified(src: Location, desc: Descriptor, target: Path) -> None:
    """Stream a blob to a temporary file, verify it, then rename it to ``target`` (replacing
    a directory there too)."""
    if not (target.is_dir() and not target.is_symlink()):
        with src.blob_get(desc.digest, desc.size) as reader, atomic_file(target) as out:
            for chunk in reader:
                out.write(chunk)
        return
    staging = Path(tempfile.mkdtemp(prefix=".hoist-file-", dir=target.parent))
    try:
        _write_verified(src, desc, staging / "file")
        _move_into_place(staging / "file", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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


def _is_directory(desc: Descriptor) -> bool:
    """Whether a layer holds a packed directory: oras's annotation says so, or (oras-py,
    which sets none) the media type is the tar+gzip layer's."""
    flag = desc.annotations.get(ANNOTATION_UNPACK)
    if flag is not None:
        return flag == "true"
    return desc.media_type == DIRECTORY_TYPE


def _unpack_layer(src: Location, desc: Descriptor, staging: Path, max_bytes: int | None) -> Digest:
    """Unpack the layer into ``staging`` with image unpack's rules; returns the tar's digest."""
    from hoist.layers.stream import LayerStream
    from hoist.layers.unpack import Unpacker

    unpacker = Unpacker(staging, devices=False)
    title = desc.annotations[ANNOTATION_TITLE]
    with (
        src.blob_get(desc.digest, desc.size) as blob,
        LayerStream(
            blob,
            desc.media_type,
            name=f"{title} ({desc.digest})",
            size_hint=desc.size,
            max_bytes=max_bytes,
        ) as stream,
    ):
        unpacker.apply(stream)
        diff_id = stream.finish()
    for what in unpacker.finish().skipped:
        log.warning("%s: not made: %s", title, what)
    return diff_id


def _staged_tree(staging: Path, title: str) -> Path:
    """The directory ``title`` in ``staging``, which must hold nothing else, and whose links
    all stay inside it."""
    here = staging
    for part in PurePosixPath(title).parts:
        names = os.listdir(here)
        if part not in names:
            raise InvalidLayer(f"{title!r}: the layer holds no directory {title}/")
        if len(names) > 1:
            others = ", ".join(sorted(n for n in names if n != part)[:3])
            raise UnsafeLayer(f"{title!r}: the layer has entries outside {title}/ ({others})")
        here = here / part
        if not stat.S_ISDIR(os.lstat(here).st_mode):
            raise InvalidLayer(f"{title!r}: the layer holds no directory {title}/")
    real = os.path.realpath(here)
    for parent, dirs, files in os.walk(here):
        for name in (*dirs, *files):
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                continue
            link = os.readlink(path)
            inside = os.path.realpath(path)
            if os.path.isabs(link) or os.path.commonpath([real, inside]) != real:
                shown = os.path.relpath(path, staging)
                raise UnsafeLayer(f"{shown}: the link to {link!r} points outside {title}/", shown)
    return here


def _check_content_digest(desc: Descriptor, diff_id: Digest, title: str) -> None:
    text = desc.annotations.get(ANNOTATION_CONTENT_DIGEST)
    if text is None:
        return
    try:
        expected = Digest.parse(text)
    except ValueError:
        raise InvalidLayer(
            f"{title!r}: {ANNOTATION_CONTENT_DIGEST} {text!r} is not a digest"
        ) from None
    if expected.algorithm != diff_id.algorithm:
        log.warning("%s: cannot check a %s content digest", title, expected.algorithm)
        return
    if expected != diff_id:
        raise DigestMismatch(
            f"{title!r}: the unpacked tar's digest {diff_id} differs from its "
            f"{ANNOTATION_CONTENT_DIGEST} {expected}",
            expected=str(expected),
            actual=str(diff_id),
        )


def _move_into_place(tree: Path, target: Path) -> None:
    """Rename ``tree`` to ``target``, replacing what is there (a previous download)."""
    try:
        os.lstat(target)
    except FileNotFoundError:
        os.rename(tree, target)
        return
    old = Path(tempfile.mkdtemp(prefix=".hoist-old-", dir=target.parent))
    try:
        os.rename(target, old / "old")
        try:
            os.rename(tree, target)
        except BaseException:
            os.rename(old / "old", target)
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _get_directory(
    src: Location, desc: Descriptor, title: str, target: Path, max_bytes: int | None
) -> bool:
    """Unpack a directory layer to ``target``; False when a layer marked only by its media
    type holds no directory of its title (the caller writes it as a file)."""
    marked = ANNOTATION_UNPACK in desc.annotations
    staging = Path(tempfile.mkdtemp(prefix=".hoist-unpack-", dir=target.parent))
    try:
        try:
            diff_id = _unpack_layer(src, desc, staging, max_bytes)
            tree = _staged_tree(staging, title)
        except (InvalidLayer, UnsafeLayer) as exc:
            if marked:
                raise
            log.info("%s is not a packed directory (%s): written as a file", title, exc)
            return False
        _check_content_digest(desc, diff_id, title)
        _move_into_place(tree, target)
        return True
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def artifact_get(
    src: Location,
    directory: str | Path,
    *,
    match: ReferrerFilter | None = None,
    platform: Platform | str | None = None,
    unpack: bool = True,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> list[Path]:
    """Download every titled layer of the artifact ``src`` into ``directory``, verified.

    With ``match`` (or ``platform``), ``src`` is the subject and the artifact is the one
    referrer :func:`~hoist.referrers.artifact_select` picks. Returns the paths written, in
    layer order. Layers without a title (the empty layer) are skipped; titles are checked
    before anything is downloaded. Packed directories are unpacked (unless ``unpack`` is
    false), each layer to at most ``max_bytes`` (None: no limit), and replace what is at
    their path; files are replaced too.
    """
    if match is not None or platform is not None:
        chosen = artifact_select(src, match or ReferrerFilter(), platform=platform)
        src = src.by_digest(chosen.digest)
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
    for (desc, title), target in zip(titled, targets, strict=True):
        unpacked = unpack and _is_directory(desc)
        if not (unpacked and _get_directory(pinned, desc, title, target, max_bytes)):
            _write_verified(pinned, desc, target)
    skipped = len(manifest.layers) - len(titled)
    if skipped:
        log.info("%d layer(s) without a title skipped", skipped)
    return targets
