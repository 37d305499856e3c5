"""Small, deterministic sample images built with hoist's own model, for demos and tests.

``write_samples`` makes a two-platform base image and an app image built on it that shares
the base layer, with a Dockerfile-like history, and writes them to any store.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoist.model import mediatype as mt
from hoist.model.config import History, ImageConfig
from hoist.model.descriptor import Descriptor
from hoist.model.digest import digest_of
from hoist.model.manifest import ImageManifest, Index
from hoist.model.platform import Platform

if TYPE_CHECKING:
    from hoist.model.reference import ImageRef
    from hoist.store.base import Store

__all__ = ["Layer", "SampleImage", "build_image", "make_layer", "write_image", "write_samples"]

CREATED = "2024-01-01T00:00:00Z"


@dataclass(frozen=True)
class Layer:
    """A layer as built: compressed blob, its descriptor and its diff_id."""

    blob: bytes
    descriptor: Descriptor
    diff_id: Any


@dataclass(frozen=True)
class SampleImage:
    """An image ready to write: blobs by digest, child manifests, top manifest."""

    blobs: Mapping[Any, bytes]
    children: Sequence[ImageManifest]
    top: ImageManifest | Index


def make_layer(
    files: Mapping[str, bytes | None],
    *,
    compression: str = "gzip",
    docker: bool = False,
) -> Layer:
    """A layer tar of ``files`` (path -> content; None makes a directory), sorted, mtime 0."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            content = files[path]
            info = tarfile.TarInfo(path)
            info.mtime = 0
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    if compression == "gzip":
        blob = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
        media_type = mt.DOCKER_LAYER if docker else mt.OCI_LAYER_GZIP
    elif compression == "none":
        blob = tar_bytes
        media_type = mt.OCI_LAYER
    else:
        import zstandard

        blob = zstandard.ZstdCompressor().compress(tar_bytes)
        media_type = mt.OCI_LAYER_ZSTD
    return Layer(blob, Descriptor.of(media_type, blob), digest_of(tar_bytes))


def build_image(
    layers: Sequence[Layer],
    history: Sequence[History],
    *,
    platform: Platform,
    config: Mapping[str, Any] | None = None,
    docker: bool = False,
    annotations: Mapping[str, str] | None = None,
) -> tuple[ImageManifest, dict[Any, bytes]]:
    """A manifest and its blobs for ``layers`` with a config built from the rest."""
    cfg = ImageConfig.build(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant or "",
        diff_ids=[layer.diff_id for layer in layers],
        history=history,
        config=config,
        created=CREATED,
    )
    cfg_desc = Descriptor.of(mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG, cfg.raw)
    manifest = ImageManifest.build(
        cfg_desc,
        [layer.descriptor for layer in layers],
        media_type=mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
        annotations=annotations,
    )
    blobs = {cfg_desc.digest: cfg.raw}
    blobs.update({layer.descriptor.digest: layer.blob for layer in layers})
    return manifest, blobs


def _step(created_by: str, empty: bool = False) -> History:
    return History(created=CREATED, created_by=created_by, empty_layer=empty)


def base_image(platforms: Sequence[Platform], *, docker: bool = False) -> SampleImage:
    """A tiny multi-platform "base" image: one layer per platform, an index on top."""
    blobs: dict[Any, bytes] = {}
    children = []
    for p in platforms:
        layer = make_layer(
            {
                "etc/": None,
                "etc/os-release": f"NAME=hoist-sample\nPLATFORM={p}\n".encode(),
                "bin/": None,
                "bin/hello": b"#!/bin/sh\necho hello from the base layer\n",
            },
            docker=docker,
        )
        manifest, more = build_image(
            [layer],
            [_step(f"ADD rootfs-{p.architecture}.tar /"), _step('CMD ["/bin/sh"]', True)],
            platform=p,
            config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
            docker=docker,
        )
        blobs.update(more)
        children.append(manifest)
    index = Index.build(
        [m.descriptor(platform=p) for m, p in zip(children, platforms, strict=True)],
        media_type=mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX,
    )
    return SampleImage(blobs, children, index)


def app_image(base: SampleImage, platform: Platform) -> SampleImage:
    """A single-platform "app" image on ``base``: shares the base layer, adds two of its own."""
    base_manifest = next(
        m
        for m, d in zip(base.children, _index_children(base), strict=True)
        if d.platform is not None and d.platform.matches(platform)
    )
    base_layer_desc = base_manifest.layers[0]
    base_blob = base.blobs[base_layer_desc.digest]
    base_layer = Layer(base_blob, base_layer_desc, digest_of(gzip.decompress(base_blob)))
    app = make_layer({"app/": None, "app/server.py": b"print('hello from the app layer')\n"})
    conf = make_layer({"etc/": None, "etc/app.conf": b"listen = 8080\n"})
    manifest, blobs = build_image(
        [base_layer, app, conf],
        [
            _step(f"ADD rootfs-{platform.architecture}.tar /"),
            _step('CMD ["/bin/sh"]', True),
            _step("LABEL maintainer=hoist", True),
            _step("ENV APP_PORT=8080", True),
            _step("COPY server.py /app/"),
            _step("COPY app.conf /etc/"),
            _step("EXPOSE 8080/tcp", True),
            _step('ENTRYPOINT ["python3", "/app/server.py"]', True),
        ],
        platform=platform,
        config={
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "APP_PORT=8080"],
            "Entrypoint": ["python3", "/app/server.py"],
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"maintainer": "hoist"},
        },
    )
    return SampleImage(blobs, [], manifest)


def _index_children(image: SampleImage) -> tuple[Descriptor, ...]:
    assert isinstance(image.top, Index)
    return image.top.manifests


def write_image(store: Store, ref: ImageRef, image: SampleImage) -> Descriptor:
    """Write blobs, then child manifests, then the top manifest tagged at ``ref``."""
    for digest, blob in image.blobs.items():
        store.blob_put(ref, blob, digest=digest, size=len(blob))
    for child in image.children:
        store.manifest_put(ref.by_digest(child.digest), child)
    return store.manifest_put(ref, image.top)


def write_samples(
    store: Store, base_ref: ImageRef, app_ref: ImageRef
) -> tuple[Descriptor, Descriptor]:
    """Write the sample base (linux/amd64 + linux/arm64) and the app (linux/amd64) image."""
    base = base_image([Platform("linux", "amd64"), Platform("linux", "arm64", "v8")])
    app = app_image(base, Platform("linux", "amd64"))
    return write_image(store, base_ref, base), write_image(store, app_ref, app)
