"""``image mod``: change an image's config, layers and media types, keeping digests right.

Each change adds a history entry; layers removed or added keep ``rootfs.diff_ids`` and the
history in step, so the result is a valid image whose blobs are all present at the target.
This module runs a mod and does the layer operations; the config edits (labels, env, ports,
...) and the per-image working state live in :mod:`hoist.authoring.config_edit`.
"""

from __future__ import annotations

import json
import logging
import os
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hoist.authoring.commit import Source, write_manifest
from hoist.authoring.config_edit import _edit_config, _Work
from hoist.authoring.state import rfc3339
from hoist.errors import InvalidInput, Unsupported
from hoist.layers.tarball import (
    HashingWriter,
    LayerBuilder,
    NewLayer,
    compressed_writer,
    layer_media_type,
)
from hoist.model import mediatype as mt
from hoist.model.descriptor import Descriptor
from hoist.model.digest import CHUNK, digest_of
from hoist.model.manifest import ImageManifest, Index
from hoist.model.platform import Platform

if TYPE_CHECKING:
    from hoist.model.reference import ImageRef
    from hoist.store.base import Store

__all__ = ["Changes", "Rebase", "mod_image"]

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


@dataclass(frozen=True)
class Rebase:
    """Swap ``old`` base's layers (a prefix of the image's) for ``new`` base's."""

    old_store: Store
    old: ImageRef
    new_store: Store
    new: ImageRef


@dataclass(frozen=True)
class Changes:
    """What ``image mod`` changes; the defaults change nothing."""

    labels: Mapping[str, str] = field(default_factory=dict)
    labels_rm: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    env_rm: tuple[str, ...] = ()
    entrypoint: str | None = None
    """JSON: a list of strings, or null to clear."""
    cmd: str | None = None
    user: str | None = None
    workdir: str | None = None
    expose: tuple[str, ...] = ()
    expose_rm: tuple[str, ...] = ()
    """Ports to stop exposing; ``all`` for every one."""
    volumes: tuple[str, ...] = ()
    stop_signal: str | None = None
    created: str | None = None
    """RFC 3339 time or ``now``."""
    layer_add: tuple[tuple[Path, str], ...] = ()
    layer_rm: tuple[int, ...] = ()
    layer_strip_file: tuple[str, ...] = ()
    rebase: Rebase | None = None
    to_oci: bool = False
    to_docker: bool = False
    reproducible: bool = False
    """Fixed times (``epoch``) for new layers' files, ``created`` and every history entry."""
    epoch: int | None = None
    """Seconds since 1970 used when ``reproducible`` (None: 0). The CLI passes
    ``SOURCE_DATE_EPOCH``; the library never reads the environment."""
    layer_compress: str | None = None


def _fixed_time(changes: Changes) -> int | None:
    """The time everything new gets when reproducible, else None (entries keep their own)."""
    if not changes.reproducible:
        return None
    return changes.epoch if changes.epoch is not None else 0


def mod_image(
    store: Store,
    ref: ImageRef,
    target_store: Store,
    target: ImageRef,
    changes: Changes,
    *,
    platform: Platform | None = None,
) -> Descriptor:
    """Apply ``changes`` to ``ref`` (every platform unless ``platform``) and write to ``target``."""
    if changes.to_oci and changes.to_docker:
        raise InvalidInput("--to-oci and --to-docker are exclusive")
    mod = _Mod(store, ref, target_store, target, changes)
    try:
        return mod.run(platform)
    finally:
        for layer in mod.made:
            layer.discard()


class _Mod:
    """One run of image mod: the source, the target, the changes and the layers made."""

    def __init__(
        self, store: Store, ref: ImageRef, target_store: Store, target: ImageRef, changes: Changes
    ) -> None:
        self.store, self.ref = store, ref
        self.target_store, self.target = target_store, target
        self.changes = changes
        self.made: list[NewLayer] = []
        self.sources: list[Source] = [(store, ref)]
        if changes.rebase is not None:
            self.sources.append((changes.rebase.new_store, changes.rebase.new))
        fixed = _fixed_time(changes)
        if fixed is not None:
            self.created = rfc3339(fixed)
        elif changes.created in (None, "now"):
            self.created = rfc3339(int(time.time()))
        else:
            self.created = str(changes.created)

    def run(self, platform: Platform | None) -> Descriptor:
        top = self.store.manifest_get(self.ref)
        if isinstance(top, ImageManifest):
            return self.write(self.mod_one(top, platform), tag=True)
        if not isinstance(top, Index):
            raise Unsupported(f"cannot modify {top.media_type} manifests")
        entries = []
        for desc in top.manifests:
            wanted = platform is None or (desc.platform and platform.matches(desc.platform))
            child = self.store.manifest_get(self.ref.by_digest(desc.digest)) if wanted else None
            if not isinstance(child, ImageManifest):
                entries.append(desc)
                continue
            new = self.write(self.mod_one(child, desc.platform), tag=False)
            entries.append(new.replace(platform=desc.platform, annotations=desc.annotations))
        media_type = self.convert(top.media_type)
        annotations = {**top.annotations, **self.changes.annotations}
        if mt.is_docker(media_type) and annotations:
            log.warning("Docker manifest lists carry no annotations; dropping them")
            annotations = {}
        index = Index.build(
            entries, media_type=media_type, annotations=annotations, subject=top.subject
        )
        return self.target_store.manifest_put(self.target, index)

    def convert(self, media_type: str) -> str:
        if self.changes.to_docker:
            if media_type in (mt.OCI_LAYER_ZSTD, mt.OCI_LAYER_ND_ZSTD):
                raise Unsupported("zstd layers have no Docker media type; recompress with gzip")
            return _TO_DOCKER.get(media_type, media_type)
        if self.changes.to_oci:
            return _TO_OCI.get(media_type, media_type)
        return media_type

    # -- one platform ----------------------------------------------------------------------

    def mod_one(self, manifest: ImageManifest, platform: Platform | None) -> _Work:
        desc = manifest.config
        with self.store.blob_get(self.ref, desc.digest, desc.size) as reader:
            config = json.loads(reader.read())
        rootfs = config.get("rootfs") or {}
        work = _Work(
            manifest,
            config,
            list(manifest.layers),
            list(rootfs.get("diff_ids") or []),
            list(config.get("history") or []),
        )
        c = self.changes
        if c.layer_rm:
            self.remove_layers(work)
        if c.layer_strip_file:
            self.strip_files(work)
        if c.rebase is not None:
            _rebase(work, c.rebase, platform)
        for source, dest in c.layer_add:
            self.add_layer(work, source, dest)
        if c.layer_compress:
            self.recompress(work, c.layer_compress)
        _edit_config(work, c, self.created)
        return work

    def remove_layers(self, work: _Work) -> None:
        count = len(work.layers)
        wanted = set()
        for i in self.changes.layer_rm:
            if not -count <= i < count:
                raise InvalidInput(f"--layer-rm {i}: the image has {count} layers")
            wanted.add(i % count)
        steps = work.layer_steps()
        drop_steps = {steps[i] for i in wanted if steps[i] >= 0}
        work.layers = [d for i, d in enumerate(work.layers) if i not in wanted]
        work.diff_ids = [d for i, d in enumerate(work.diff_ids) if i not in wanted]
        work.history = [h for i, h in enumerate(work.history) if i not in drop_steps]

    def builder(self, *, docker: bool, compression: str | None = None) -> LayerBuilder:
        return LayerBuilder(
            compression=compression or self.changes.layer_compress or "gzip",
            mtime=_fixed_time(self.changes),
            docker=docker,
        )

    def keep(self, work: _Work, layer: NewLayer) -> NewLayer:
        self.made.append(layer)
        work.new_layers.append(layer)
        return layer

    def add_layer(self, work: _Work, source: Path, dest: str) -> None:
        docker = self.convert(work.manifest.media_type) == mt.DOCKER_MANIFEST
        builder = self.builder(docker=docker)
        if source.is_file():
            with open(source, "rb") as f:
                builder.add_tar(f)
        elif source.is_dir():
            builder.add_path(source, dest or "/")
        else:
            raise InvalidInput(f"--layer-add {source}: no such file or directory")
        layer = self.keep(work, builder.finish())
        work.layers.append(layer.descriptor)
        work.diff_ids.append(str(layer.diff_id))
        what = f"{source.name}:{dest}" if dest else source.name
        work.add_history(self.created, f"hoist image mod --layer-add {what}", empty=False)

    def strip_files(self, work: _Work) -> None:
        drop = [p.strip("/") for p in self.changes.layer_strip_file]
        for i, desc in enumerate(list(work.layers)):
            builder = self.builder(
                docker=mt.is_docker(desc.media_type), compression=mt.compression_of(desc.media_type)
            )
            builder.mtime = None  # entries keep their own times
            if _rewrite(self.store, self.ref, desc, builder, drop):
                layer = self.keep(work, builder.finish())
                work.layers[i] = layer.descriptor.replace(media_type=desc.media_type)
                work.diff_ids[i] = str(layer.diff_id)
        work.add_history(self.created, "hoist image mod --layer-strip-file " + " ".join(drop))

    def recompress(self, work: _Work, compression: str) -> None:
        for i, desc in enumerate(list(work.layers)):
            if mt.compression_of(desc.media_type) == compression or not mt.is_layer(
                desc.media_type
            ):
                continue
            if any(n.descriptor.digest == desc.digest for n in work.new_layers):
                continue
            layer = self.keep(work, _recompress(self.store, self.ref, desc, compression))
            work.layers[i] = layer.descriptor

    def write(self, work: _Work, *, tag: bool) -> Descriptor:
        raw = json.dumps(work.config, separators=(",", ":")).encode()
        manifest_type = self.convert(work.manifest.media_type)
        config = Descriptor(self.convert(work.manifest.config.media_type), digest_of(raw), len(raw))
        layers = [d.replace(media_type=self.convert(d.media_type)) for d in work.layers]
        annotations = {**work.manifest.annotations, **self.changes.annotations}
        if mt.is_docker(manifest_type) and (annotations or work.manifest.subject):
            if work.manifest.subject is not None:
                raise Unsupported("a Docker manifest cannot have a subject; keep it OCI")
            log.warning("Docker manifests carry no annotations; dropping them")
            annotations = {}
        manifest = ImageManifest.build(
            config,
            layers,
            media_type=manifest_type,
            annotations=annotations,
            subject=work.manifest.subject,
            artifact_type=work.manifest.artifact_type,
        )
        return write_manifest(
            self.target_store,
            self.target,
            manifest,
            blobs={config.digest: raw},
            layers=work.new_layers,
            sources=self.sources,
            tag=tag,
        )


def _rewrite(
    store: Store, ref: ImageRef, desc: Descriptor, builder: LayerBuilder, drop: Sequence[str]
) -> bool:
    """Feed the layer's entries, minus those under ``drop``, to ``builder``; True if any dropped."""
    from hoist.layers.stream import LayerStream

    changed = False
    with (
        store.blob_get(ref, desc.digest, desc.size) as blob,
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
                    f = tar.extractfile(info)
                    data = f.read() if f is not None else b""
                builder.add_raw(info, data)
        stream.finish()
    return changed


def _recompress(store: Store, ref: ImageRef, desc: Descriptor, compression: str) -> NewLayer:
    """The layer's exact tar bytes under another compression: the diff_id stays the same."""
    from hoist.layers.stream import LayerStream

    fd, tmp = tempfile.mkstemp(prefix="hoist-layer-")
    try:
        with os.fdopen(fd, "wb") as out:
            compressed = HashingWriter(out)
            with (
                compressed_writer(compressed, compression) as writer,
                store.blob_get(ref, desc.digest, desc.size) as blob,
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


def _rebase(work: _Work, rebase: Rebase, platform: Platform | None) -> None:
    from hoist.image import Image

    old = Image(rebase.old_store, rebase.old, platform=platform)
    new = Image(rebase.new_store, rebase.new, platform=platform)
    n = len(old.layers)
    if [d.digest for d in work.layers[:n]] != [d.digest for d in old.layers]:
        raise InvalidInput(
            f"{rebase.old} is not the base of this image: its {n} layers are not a prefix"
        )
    old_history = len(old.config.history)
    work.layers[:n] = list(new.layers)
    work.diff_ids[:n] = [str(d) for d in new.config.diff_ids]
    work.history[:old_history] = [h.to_dict() for h in new.config.history]
