"""``image mod``: change an image's config, layers and media types, keeping digests right.

Each change adds a history entry; layers removed or added keep ``rootfs.diff_ids`` and the
history in step, so the result is a valid image whose blobs are all present at the target.
Each platform image is a :class:`~hoist.authoring.draft.Draft` revised in place; its config
changes are the edits of :mod:`hoist.authoring.edits`, shared with Dockerfile builds.

::

    from hoist.authoring.mod import Changes, image_mod

    changes = Changes(labels={"org.example.stage": "prod"}, entrypoint=["/app", "--serve"])
    image_mod(client.at("ocidir://./oci:v1"), client.at("ocidir://./oci:v2"), changes)
"""

from __future__ import annotations

import json
import logging
import os
import tarfile
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hoist.authoring import edits
from hoist.authoring.commit import write_manifest
from hoist.authoring.draft import Draft, DraftLayer, rfc3339
from hoist.errors import InvalidInput, Unsupported
from hoist.layers.tarball import (
    COMPRESSIONS,
    HashingWriter,
    LayerBuilder,
    NewLayer,
    compressed_writer,
    layer_media_type,
)
from hoist.model import mediatype as mt
from hoist.model.base_image import ANNOTATION_BASE_DIGEST, ANNOTATION_BASE_NAME, RecordedBase
from hoist.model.descriptor import Descriptor
from hoist.model.digest import CHUNK, digest_of
from hoist.model.manifest import ImageManifest, Index

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.platform import Platform

__all__ = ["Changes", "Rebase", "image_mod"]

log = logging.getLogger(__name__)

_TO_DOCKER = {
    mt.OCI_MANIFEST: mt.DOCKER_MANIFEST,
    mt.OCI_INDEX: mt.DOCKER_MANIFEST_LIST,
    mt.OCI_CONFIG: mt.DOCKER_CONFIG,
    mt.OCI_LAYER_GZIP: mt.DOCKER_LAYER,
    mt.OCI_LAYER: "application/vnd.docker.image.rootfs.diff.tar",
    mt.OCI_LAYER_ND_GZIP: mt.DOCKER_FOREIGN_LAYER,
}
_TO_OCI = {v: k for k, v in _TO_DOCKER.items()}
_TO_OCI["application/vnd.docker.image.rootfs.diff.tar.zstd"] = mt.OCI_LAYER_ZSTD  # moby's


@dataclass(frozen=True)
class Rebase:
    """Swap ``old`` base's layers (a prefix of the image's) for ``new`` base's.

    ``old`` None is the base each platform image records (its ``base.name`` repository at
    its ``base.digest``, opened in ``new``'s store; see :mod:`hoist.model.base_image`). The
    result records ``new`` as its base.
    """

    old: Location | None
    new: Location


def _strings(name: str, value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str | bytes):
        raise InvalidInput(f"{name} wants a list of strings, not one string")
    out = tuple(value)
    if not all(isinstance(x, str) for x in out):
        raise InvalidInput(f"{name} wants a list of strings")
    return out


def _mapping(name: str, value: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    if isinstance(value, str | bytes):
        raise InvalidInput(f"{name} wants a mapping or (key, value) pairs, not a string")
    try:
        out = dict(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} wants a mapping or (key, value) pairs") from None
    for key, val in out.items():
        if not isinstance(key, str) or not isinstance(val, str) or not key:
            raise InvalidInput(f"{name} wants non-empty string keys and string values: {key!r}")
    return out


@dataclass(frozen=True)
class Changes:
    """What ``image mod`` changes; the defaults change nothing.

    Lists may be given as any sequence and maps as mappings (``env`` also as key-value
    pairs); they are kept as tuples and dicts. Bad values raise InvalidInput when made.
    """

    labels: Mapping[str, str] = field(default_factory=dict)
    labels_rm: Sequence[str] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    """Manifest (and index) annotations to set."""
    env: Mapping[str, str] | Sequence[tuple[str, str]] = field(default_factory=dict)
    env_rm: Sequence[str] = ()
    entrypoint: Sequence[str] | None = None
    """The new entrypoint; None leaves it as it is (``entrypoint_rm`` clears it)."""
    entrypoint_rm: bool = False
    cmd: Sequence[str] | None = None
    """The new default command; None leaves it as it is (``cmd_rm`` clears it)."""
    cmd_rm: bool = False
    user: str | None = None
    workdir: str | None = None
    expose: Sequence[str] = ()
    """Ports to expose: ``80`` (tcp) or ``53/udp``."""
    expose_rm: Sequence[str] = ()
    """Ports to stop exposing; ``all`` for every one."""
    volumes: Sequence[str] = ()
    stop_signal: str | None = None
    created: str | None = None
    """RFC 3339 time or ``now``."""
    layer_add: Sequence[tuple[str | os.PathLike[str], str]] = ()
    """Layers to add, from a directory or a tar file each: (path, destination in the image;
    empty for a tar, ``/`` by default for a directory)."""
    layer_rm: Sequence[int] = ()
    """Indexes of layers to remove (0-based; negative ones count from the end)."""
    layer_strip_file: Sequence[str] = ()
    """Paths to remove from every layer."""
    rebase: Rebase | None = None
    to_oci: bool = False
    to_docker: bool = False
    reproducible: bool = False
    """Fixed times (``epoch``) for new layers' files, ``created`` and every history entry."""
    epoch: int | None = None
    """Seconds since 1970 used when ``reproducible`` (None: 0). The CLI passes
    ``SOURCE_DATE_EPOCH``; the library never reads the environment."""
    layer_compress: str | None = None
    """Compression of new layers (gzip, zstd or none); existing ones are recompressed to it."""

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("labels", _mapping("labels", self.labels))
        put("annotations", _mapping("annotations", self.annotations))
        put("env", _mapping("env", self.env))
        for name in ("labels_rm", "env_rm", "expose", "expose_rm", "volumes", "layer_strip_file"):
            put(name, _strings(name, getattr(self, name)))
        for name, clear in (("entrypoint", self.entrypoint_rm), ("cmd", self.cmd_rm)):
            value = getattr(self, name)
            if value is not None:
                if clear:
                    raise InvalidInput(f"{name} is both set and removed")
                put(name, _strings(name, value))
        if isinstance(self.layer_add, str | bytes):
            raise InvalidInput("layer_add wants (path, destination) pairs")
        try:
            put("layer_add", tuple((Path(path), str(dest)) for path, dest in self.layer_add))
        except (TypeError, ValueError):
            raise InvalidInput("layer_add wants (path, destination) pairs") from None
        layer_rm = tuple(self.layer_rm)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in layer_rm):
            raise InvalidInput("layer_rm wants layer indexes (integers)")
        put("layer_rm", layer_rm)
        if self.to_oci and self.to_docker:
            raise InvalidInput("converting to OCI and to Docker media types are exclusive")
        if self.layer_compress is not None and self.layer_compress not in COMPRESSIONS:
            raise InvalidInput(
                f"unknown compression {self.layer_compress!r}: {', '.join(COMPRESSIONS)}"
            )


def _fixed_time(changes: Changes) -> int | None:
    """The time everything new gets when reproducible, else None (entries keep their own)."""
    if not changes.reproducible:
        return None
    return changes.epoch if changes.epoch is not None else 0


def image_mod(
    src: Location, dst: Location, changes: Changes, *, platform: Platform | None = None
) -> Descriptor:
    """Apply ``changes`` to ``src`` (every platform unless ``platform``) and write to ``dst``."""
    mod = _Mod(src, dst, changes)
    try:
        return mod.run(platform)
    finally:
        for layer in mod.made:
            layer.discard()


class _Mod:
    """One run of image mod: the source, the target, the changes and the layers made."""

    def __init__(self, src: Location, dst: Location, changes: Changes) -> None:
        self.src, self.dst = src, dst
        self.changes = changes
        self.made: list[NewLayer] = []
        self.sources: list[Location] = [src]
        if changes.rebase is not None:
            self.sources.append(changes.rebase.new)
        fixed = _fixed_time(changes)
        if fixed is not None:
            self.created = rfc3339(fixed)
        elif changes.created in (None, "now"):
            self.created = rfc3339(int(time.time()))
        else:
            self.created = str(changes.created)

    def run(self, platform: Platform | None) -> Descriptor:
        top = self.src.manifest_get()
        if isinstance(top, ImageManifest):
            return self.write(self.mod_one(top, platform), tag=True)
        if not isinstance(top, Index):
            raise Unsupported(f"cannot modify {top.media_type} manifests")
        entries = []
        for desc in top.manifests:
            wanted = platform is None or (desc.platform and platform.matches(desc.platform))
            child = self.src.by_digest(desc.digest).manifest_get() if wanted else None
            if not isinstance(child, ImageManifest):
                entries.append(desc)
                continue
            new = self.write(self.mod_one(child, desc.platform), tag=False)
            entries.append(new.replace(platform=desc.platform, annotations=desc.annotations))
        media_type = self.convert(top.media_type)
        annotations = {**top.annotations, **self.changes.annotations}
        rebase = self.changes.rebase
        if rebase is not None and RecordedBase.from_annotations(top.annotations) is not None:
            new_top = rebase.new.manifest_head().digest
            annotations.update(RecordedBase(str(rebase.new), new_top).annotations())
        if mt.is_docker(media_type) and annotations:
            log.warning("Docker manifest lists carry no annotations; dropping them")
            annotations = {}
        index = Index.build(
            entries, media_type=media_type, annotations=annotations, subject=top.subject
        )
        return self.dst.manifest_put(index)

    def convert(self, media_type: str) -> str:
        if self.changes.to_docker:
            if media_type in (mt.OCI_LAYER_ZSTD, mt.OCI_LAYER_ND_ZSTD):
                raise Unsupported("zstd layers have no Docker media type; recompress with gzip")
            return _TO_DOCKER.get(media_type, media_type)
        if self.changes.to_oci:
            return _TO_OCI.get(media_type, media_type)
        return media_type

    # -- one platform ----------------------------------------------------------------------

    def mod_one(self, manifest: ImageManifest, platform: Platform | None) -> Draft:
        desc = manifest.config
        with self.src.blob_get(desc.digest, desc.size) as reader:
            draft = Draft.revise(manifest, reader.read(), self.src)
        c = self.changes
        if c.layer_rm:
            self.remove_layers(draft)
        if c.layer_strip_file:
            self.strip_files(draft)
        if c.rebase is not None:
            _rebase(draft, c.rebase, platform)
        for source, dest in c.layer_add:
            self.add_layer(draft, Path(source), dest)
        if c.layer_compress:
            self.recompress(draft, c.layer_compress)
        _edit_config(draft, c, self.created)
        return draft

    def remove_layers(self, draft: Draft) -> None:
        count = len(draft.layers)
        wanted = set()
        for i in self.changes.layer_rm:
            if not -count <= i < count:
                raise InvalidInput(f"cannot remove layer {i}: the image has {count} layers")
            wanted.add(i % count)
        draft.remove_layers(wanted)

    def builder(self, *, docker: bool, compression: str | None = None) -> LayerBuilder:
        return LayerBuilder(
            compression=compression or self.changes.layer_compress or "gzip",
            mtime=_fixed_time(self.changes),
            docker=docker,
        )

    def keep(self, layer: NewLayer) -> NewLayer:
        self.made.append(layer)
        return layer

    def add_layer(self, draft: Draft, source: Path, dest: str) -> None:
        assert draft.manifest is not None
        docker = self.convert(draft.manifest.media_type) == mt.DOCKER_MANIFEST
        builder = self.builder(docker=docker)
        if source.is_file():
            with open(source, "rb") as f:
                builder.add_tar(f)
        elif source.is_dir():
            builder.add_path(source, dest or "/")
        else:
            raise InvalidInput(f"layer to add from {source}: no such file or directory")
        layer = self.keep(builder.finish())
        draft.add_layer(DraftLayer(layer.descriptor, layer.diff_id, new=layer))
        what = f"{source.name}:{dest}" if dest else source.name
        draft.add_history(f"hoist image mod --layer-add {what}", self.created, layer=True)

    def strip_files(self, draft: Draft) -> None:
        drop = [p.strip("/") for p in self.changes.layer_strip_file]
        for i, layer in enumerate(list(draft.layers)):
            desc = layer.descriptor
            builder = self.builder(
                docker=mt.is_docker(desc.media_type), compression=mt.compression_of(desc.media_type)
            )
            builder.mtime = None  # entries keep their own times
            if _rewrite(layer, builder, drop):
                new = self.keep(builder.finish())
                descriptor = new.descriptor.replace(media_type=desc.media_type)
                draft.layers[i] = DraftLayer(descriptor, new.diff_id, new=new)
        draft.add_history("hoist image mod --layer-strip-file " + " ".join(drop), self.created)

    def recompress(self, draft: Draft, compression: str) -> None:
        for i, layer in enumerate(list(draft.layers)):
            desc = layer.descriptor
            if mt.compression_of(desc.media_type) == compression or not mt.is_layer(
                desc.media_type
            ):
                continue
            if layer.new is not None:
                continue
            new = self.keep(_recompress(layer, compression))
            draft.layers[i] = DraftLayer(new.descriptor, layer.diff_id, new=new)

    def write(self, draft: Draft, *, tag: bool) -> Descriptor:
        source = draft.manifest
        assert source is not None
        raw = draft.config_blob(self.created if _sets_created(self.changes) else None)
        manifest_type = self.convert(source.media_type)
        config = Descriptor(self.convert(source.config.media_type), digest_of(raw), len(raw))
        layers = [
            x.descriptor.replace(media_type=self.convert(x.descriptor.media_type))
            for x in draft.layers
        ]
        annotations = {**draft.annotations, **self.changes.annotations}
        if mt.is_docker(manifest_type) and (annotations or source.subject):
            if source.subject is not None:
                raise Unsupported("a Docker manifest cannot have a subject; keep it OCI")
            log.warning("Docker manifests carry no annotations; dropping them")
            annotations = {}
        manifest = ImageManifest.build(
            config,
            layers,
            media_type=manifest_type,
            annotations=annotations,
            subject=source.subject,
            artifact_type=source.artifact_type,
        )
        return write_manifest(
            self.dst,
            manifest,
            blobs={config.digest: raw},
            layers=draft.new_layers(),
            sources=self.sources,
            tag=tag,
        )


def _sets_created(changes: Changes) -> bool:
    return changes.created is not None or changes.reproducible


def _edit_config(draft: Draft, changes: Changes, created: str) -> None:
    """Apply the config changes, one history entry each (worded as the CLI's flags)."""

    def step(*flags: str) -> None:
        draft.add_history("hoist image mod " + " ".join(flags), created)

    if changes.labels or changes.labels_rm:
        if changes.labels:
            edits.set_labels(draft, changes.labels)
        if changes.labels_rm:
            edits.remove_labels(draft, changes.labels_rm)
        step(
            *(f"--label {k}={v}" for k, v in changes.labels.items()),
            *(f"--label-rm {k}" for k in changes.labels_rm),
        )
    env = dict(changes.env)
    if env or changes.env_rm:
        for key, value in env.items():
            edits.set_env(draft, key, value)
        for key in changes.env_rm:
            edits.unset_env(draft, key)
        step(
            *(f"--env {k}={v}" for k, v in env.items()),
            *(f"--env-rm {k}" for k in changes.env_rm),
        )
    if changes.entrypoint is not None or changes.entrypoint_rm:
        edits.set_entrypoint(draft, changes.entrypoint)
        step(f"--entrypoint {_json(changes.entrypoint)}")
    if changes.cmd is not None or changes.cmd_rm:
        edits.set_cmd(draft, changes.cmd)
        step(f"--cmd {_json(changes.cmd)}")
    if changes.user is not None:
        edits.set_user(draft, changes.user)
        step(f"--user {changes.user}")
    if changes.workdir is not None:
        edits.set_workdir(draft, changes.workdir)
        step(f"--workdir {changes.workdir}")
    if changes.stop_signal is not None:
        edits.set_stop_signal(draft, changes.stop_signal)
        step(f"--stop-signal {changes.stop_signal}")
    if changes.expose or changes.expose_rm:
        if "all" in changes.expose_rm:
            edits.unexpose_all(draft)
        edits.unexpose(draft, [_port(p) for p in changes.expose_rm if p != "all"])
        edits.expose(draft, [_port(p) for p in changes.expose])
        step(
            *(f"--expose {p}" for p in changes.expose),
            *(f"--expose-rm {p}" for p in changes.expose_rm),
        )
    if changes.volumes:
        edits.add_volumes(draft, changes.volumes)
        step(*(f"--volume {v}" for v in changes.volumes))
    if changes.reproducible:
        for h in draft.history:
            h["created"] = created


def _port(text: str) -> str:
    return text if "/" in text else f"{text}/tcp"


def _json(value: Sequence[str] | None) -> str:
    return json.dumps(None if value is None else list(value), ensure_ascii=False)


def _rewrite(layer: DraftLayer, builder: LayerBuilder, drop: Sequence[str]) -> bool:
    """Feed the layer's entries, minus those under ``drop``, to ``builder``; True if any dropped."""
    from hoist.layers.entries import open_member
    from hoist.layers.stream import LayerStream

    desc = layer.descriptor
    changed = False
    with (
        layer.open() as blob,
        LayerStream(blob, desc.media_type, name=str(desc.digest)) as stream,
    ):
        source: Any = stream
        with tarfile.open(fileobj=source, mode="r|") as tar:
            for info in tar:
                name = info.name.removeprefix("./").rstrip("/")
                if any(name == p or name.startswith(p + "/") for p in drop):
                    changed = True
                    continue
                data = None
                if info.isfile():
                    with open_member(tar, info) as f:  # sparse entries are refused
                        data = f.read()
                builder.add_raw(info, data)
        stream.finish()
    return changed


def _recompress(layer: DraftLayer, compression: str) -> NewLayer:
    """The layer's exact tar bytes under another compression: the diff_id stays the same."""
    from hoist.layers.stream import LayerStream

    desc = layer.descriptor
    fd, tmp = tempfile.mkstemp(prefix="hoist-layer-")
    try:
        with os.fdopen(fd, "wb") as out:
            compressed = HashingWriter(out)
            with (
                compressed_writer(compressed, compression) as writer,
                layer.open() as blob,
                LayerStream(blob, desc.media_type) as stream,
            ):
                plain = HashingWriter(writer)
                while chunk := stream.read(CHUNK):
                    plain.write(chunk)
                stream.finish()
    except BaseException:
        os.unlink(tmp)
        raise
    media_type = layer_media_type(compression, docker=mt.is_docker(desc.media_type))
    return NewLayer(
        Descriptor(media_type, compressed.digest, compressed.size), plain.digest, Path(tmp)
    )


def _recorded_old_base(draft: Draft, new: Location) -> Location:
    """Where the base ``draft`` records lives: its name's repository at its digest."""
    from hoist.location import Location
    from hoist.model.reference import parse_reference

    recorded = RecordedBase.from_annotations(draft.annotations)
    if recorded is None or not recorded.name or recorded.digest is None:
        raise InvalidInput(
            f"the image records no base ({ANNOTATION_BASE_NAME} and {ANNOTATION_BASE_DIGEST});"
            " name the old base"
        )
    ref = parse_reference(recorded.name)
    if ref.kind != new.ref.kind:
        raise InvalidInput(
            f"the image's recorded base {recorded.name} is not where {new} is; name the old base"
        )
    return Location(new.store, ref.by_digest(recorded.digest))


def _rebase(draft: Draft, rebase: Rebase, platform: Platform | None) -> None:
    from hoist.image import Image

    old_at = rebase.old if rebase.old is not None else _recorded_old_base(draft, rebase.new)
    old = Image(old_at, platform=platform)
    new = Image(rebase.new, platform=platform)
    n = len(old.layers)
    if [x.descriptor.digest for x in draft.layers[:n]] != [d.digest for d in old.layers]:
        raise InvalidInput(
            f"{old_at} is not the base of this image: its {n} layers are not a prefix"
        )
    old_history = len(old.config.history)
    draft.layers[:n] = [
        DraftLayer(desc, diff_id, location=rebase.new)
        for desc, diff_id in zip(new.layers, new.config.diff_ids, strict=True)
    ]
    draft.history[:old_history] = [h.to_dict() for h in new.config.history]
    if draft.manifest is None or not mt.is_docker(draft.manifest.media_type):
        draft.annotations.update(RecordedBase(str(rebase.new), new.manifest.digest).annotations())
