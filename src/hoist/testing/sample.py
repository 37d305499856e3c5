"""Small, deterministic sample images built with hoist's own model, for demos and tests.

``write_samples`` makes a two-platform base image and an app image built on it that shares
the base layer, with a Dockerfile-like history, and writes them to any store.
``write_demo_layout`` writes those and the images the README's examples use besides (the base
moved on, a second version of the app, the app for each platform) into one OCI layout, as
``hoist demo --layout DIR`` does.
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

__all__ = [
    "DEMO_TAGS",
    "Layer",
    "SampleImage",
    "build_image",
    "demo_images",
    "make_layer",
    "write_demo_layout",
    "write_image",
    "write_samples",
]

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


DEMO_TAGS = ("base", "app", "base-v2", "app-v2", "app-amd64", "app-arm64")
"""The tags of :func:`write_demo_layout`, in the order written."""


def _base_v2(base: SampleImage) -> SampleImage:
    """The base moved on: each platform's layer kept, a security fix on top (an index)."""
    blobs: dict[Any, bytes] = {}
    children = []
    fix = make_layer({"etc/": None, "etc/security-fix": b"patched\n"})
    for child, desc in zip(base.children, _index_children(base), strict=True):
        assert desc.platform is not None
        layer_desc = child.layers[0]
        blob = base.blobs[layer_desc.digest]
        layer = Layer(blob, layer_desc, digest_of(gzip.decompress(blob)))
        arch = desc.platform.architecture
        manifest, more = build_image(
            [layer, fix],
            [
                _step(f"ADD rootfs-{arch}.tar /"),
                _step("COPY security-fix /etc/"),
                _step('CMD ["/bin/sh"]', True),
            ],
            platform=desc.platform,
            config={"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
        )
        blobs.update(more)
        children.append(manifest)
    descs = zip(children, _index_children(base), strict=True)
    index = Index.build([m.descriptor(platform=d.platform) for m, d in descs])
    return SampleImage(blobs, children, index)


def _app_v2(app: SampleImage) -> SampleImage:
    """The app's next version: one more layer (server.py deleted, main.py added, the config
    file changed), a new port, entrypoint and label."""
    assert isinstance(app.top, ImageManifest)
    old = app.top
    layers = [
        Layer(app.blobs[d.digest], d, digest_of(gzip.decompress(app.blobs[d.digest])))
        for d in old.layers
    ]
    v2 = make_layer(
        {
            "app/": None,
            "app/.wh.server.py": b"",
            "app/main.py": b"print('v2')\n",
            "etc/": None,
            "etc/app.conf": b"listen = 9090\n",
        }
    )
    manifest, blobs = build_image(
        [*layers, v2],
        [
            _step("ADD rootfs-amd64.tar /"),
            _step('CMD ["/bin/sh"]', True),
            _step("LABEL maintainer=hoist", True),
            _step("COPY server.py /app/"),
            _step("COPY app.conf /etc/"),
            _step("COPY v2/ /"),
            _step("LABEL version=2", True),
            _step("ENV APP_PORT=9090", True),
            _step("EXPOSE 9090/tcp", True),
            _step('ENTRYPOINT ["python3", "/app/main.py"]', True),
        ],
        platform=Platform("linux", "amd64"),
        config={
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "APP_PORT=9090"],
            "Entrypoint": ["python3", "/app/main.py"],
            "ExposedPorts": {"9090/tcp": {}},
            "Labels": {"maintainer": "hoist", "version": "2"},
        },
    )
    return SampleImage(blobs, [], manifest)


def demo_images() -> dict[str, SampleImage]:
    """The images of :func:`write_demo_layout` by tag (see :data:`DEMO_TAGS`)."""
    amd64, arm64 = Platform("linux", "amd64"), Platform("linux", "arm64", "v8")
    base = base_image([amd64, arm64])
    app = app_image(base, amd64)
    return {
        "base": base,
        "app": app,
        "base-v2": _base_v2(base),
        "app-v2": _app_v2(app),
        "app-amd64": app,
        "app-arm64": app_image(base, arm64),
    }


def write_demo_layout(
    store: Store, layout: ImageRef, tags: Sequence[str] = DEMO_TAGS
) -> dict[str, Descriptor]:
    """Write the demo's images (``tags`` of :func:`demo_images`) to ``layout``, each under its
    tag: the layout ``hoist demo --layout DIR`` leaves and the README's examples use."""
    images = demo_images()
    return {tag: write_image(store, layout.with_tag(tag), images[tag]) for tag in tags}
