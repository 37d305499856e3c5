"""Location: a store bound to a reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from hoist.client import Client
from hoist.errors import ManifestNotFound
from hoist.model.digest import digest_of
from hoist.model.reference import LayoutReference, Reference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    ref = LayoutReference("ocidir", str(tmp_path / "oci"))
    write_samples(OCIDirStore(fsync=False), ref.with_tag("base"), ref.with_tag("app"))
    return tmp_path / "oci"


def test_at_binds_the_store_of_the_reference_kind(layout: Path) -> None:
    with Client() as client:
        a = client.at(f"ocidir://{layout}:app")
        b = client.at(LayoutReference("ocidir", str(layout), "base"))
        assert isinstance(a.store, OCIDirStore) and a.store is b.store
        assert client.at(a) is a
        assert str(a) == f"ocidir://{layout}:app" and a.tag == "app" and a.digest is None
        assert a.is_layout and not a.is_registry and a.host is None
        registry = client.at("localhost:5000/app:v1")
        assert registry.is_registry and registry.host == "localhost:5000"
        assert isinstance(registry.ref, Reference)


def test_derived_locations_keep_store_and_repository(layout: Path) -> None:
    with Client() as client:
        app = client.at(f"ocidir://{layout}:app")
        desc = app.manifest_head()
        pinned = app.by_digest(desc.digest)
        assert pinned.store is app.store and pinned.tag is None and pinned.digest == desc.digest
        assert pinned.same_repository(app) and app.with_tag("base").same_repository(app)
        assert app.with_digest(desc.digest).tag == "app"
        assert pinned.manifest_get().digest == desc.digest
        other = client.at(f"ocidir://{layout}-other:app")
        assert not other.same_repository(app)


def test_bound_operations(layout: Path) -> None:
    with Client() as client:
        base = client.at(f"ocidir://{layout}:base")
        assert base.tag_list() == ["app", "base"]
        desc = base.blob_put(b"hello")
        assert desc.digest == digest_of(b"hello") and base.blob_head(desc.digest).size == 5
        with base.blob_get(desc.digest, 5) as reader:
            assert reader.read() == b"hello"
        manifest = base.manifest_get()
        copy = base.with_tag("again")
        copy.manifest_put(manifest)
        assert copy.manifest_head().digest == manifest.digest
        copy.tag_delete()
        with pytest.raises(ManifestNotFound):
            copy.manifest_head()
        assert base.by_digest(manifest.digest).referrers_list() == []
