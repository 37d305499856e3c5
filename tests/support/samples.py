"""The insight sample layout shared by the library and CLI tests (a module fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hoist.model.config import History
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
from hoist.model.digest import digest_of
from hoist.model.manifest import ImageManifest
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import SampleImage, build_image, make_layer, write_image, write_samples

AMD64 = Platform("linux", "amd64")


def layout_ref(root: Path, tag: str | None = None) -> LayoutReference:
    return LayoutReference("ocidir", str(root), tag)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample base (amd64 + arm64 index) and app (amd64, on the base) images, plus:
    ``base-v2`` (the base moved on: a new base layer), ``base-plus`` (the base with one
    more layer), a referrer of the app and a cosign-style ``sha256-<hex>.sig`` tag."""
    root = tmp_path_factory.mktemp("insight") / "layout"
    store = OCIDirStore(fsync=False)
    _, app_desc = write_samples(store, layout_ref(root, "base"), layout_ref(root, "app"))
    app = store.manifest_get(layout_ref(root, "app"))
    assert isinstance(app, ImageManifest)
    history = [History(created_by="ADD rootfs.tar /")]
    new_base = make_layer({"etc/": None, "etc/os-release": b"NAME=hoist-sample\nVERSION=2\n"})
    moved, blobs = build_image([new_base], history, platform=AMD64)
    write_image(store, layout_ref(root, "base-v2"), SampleImage(blobs, [], moved))
    base_layer = _sample_layer(store, root, app.layers[0])
    extra = make_layer({"etc/": None, "etc/security-fix": b"patched\n"})
    plus, blobs = build_image([base_layer, extra], history * 2, platform=AMD64)
    write_image(store, layout_ref(root, "base-plus"), SampleImage(blobs, [], plus))
    # a referrer (an artifact whose subject is the app) and a digest tag for the app
    ref = layout_ref(root)
    store.blob_put(ref, b"{}")
    store.blob_put(ref, b"signature")
    sig = ImageManifest.build(
        EMPTY_DESCRIPTOR,
        [Descriptor.of("application/vnd.example.signature", b"signature")],
        artifact_type="application/vnd.example.signature",
        subject=app_desc,
    )
    store.manifest_put(ref.by_digest(sig.digest), sig)
    cosign = ImageManifest.build(
        EMPTY_DESCRIPTOR, [Descriptor.of("application/vnd.example.cosign", b"signature")]
    )
    store.manifest_put(layout_ref(root, f"sha256-{app_desc.digest.hex}.sig"), cosign)
    return root


def _sample_layer(store: OCIDirStore, root: Path, desc: Descriptor) -> Any:
    import gzip

    from hoist.testing.sample import Layer

    with store.blob_get(layout_ref(root), desc.digest, desc.size) as reader:
        blob = reader.read()
    return Layer(blob, desc, digest_of(gzip.decompress(blob)))
