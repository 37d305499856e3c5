"""One contract every store keeps, run against each backend.

Backends: an OCI layout directory, the real ``docker-registry`` in its three auth set-ups,
and ``hoist serve`` (which has the referrers API the others lack).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.registry_fixtures import registry_store_options

from hoist.errors import BlobNotFound, DigestMismatch, ManifestNotFound
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
from hoist.model.digest import digest_of
from hoist.model.manifest import ImageManifest, Index
from hoist.model.platform import Platform
from hoist.model.reference import ImageRef, LayoutReference, Reference
from hoist.testing.sample import base_image, write_image

MakeRef = Callable[[], ImageRef]

BACKENDS = ["ocidir", "registry_anon", "registry_basic", "registry_token", "hoist_serve"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Any, MakeRef]]:
    """A store and a factory of fresh references (a new layout or repository each call)."""
    kind = request.param
    if kind == "ocidir":
        from hoist.store.ocidir import OCIDirStore

        store: Any = OCIDirStore()

        def make() -> ImageRef:
            return LayoutReference("ocidir", str(tmp_path / uuid.uuid4().hex[:8]), "latest")

    else:
        from hoist.store.registry import RegistryStore

        server = request.getfixturevalue(kind)
        store = RegistryStore(**registry_store_options(server))

        def make() -> ImageRef:
            return Reference(server.host, f"contract/{uuid.uuid4().hex[:10]}", "latest")

    try:
        yield store, make
    finally:
        store.close()


def _blob(n: int = 1000) -> bytes:
    return uuid.uuid4().bytes * (n // 16 + 1)


def test_blob_round_trip(backend: tuple[Any, MakeRef]) -> None:
    store, make = backend
    ref = make()
    data = _blob(300_000)
    desc = store.blob_put(ref, data, digest=digest_of(data), size=len(data))
    assert desc.digest == digest_of(data) and desc.size == len(data)
    head = store.blob_head(ref, desc.digest)
    assert head.size == len(data)
    with store.blob_get(ref, desc.digest, len(data)) as reader:
        assert reader.read() == data


def test_blob_put_from_stream_without_digest(backend: tuple[Any, MakeRef]) -> None:
    store, make = backend
    ref = make()
    data = _blob(3 * 1024 * 1024 + 17)
    desc = store.blob_put(ref, io.BytesIO(data))
    assert desc.digest == digest_of(data)
    assert store.blob_head(ref, desc.digest).size == len(data)


def test_blob_put_wrong_digest_is_refused_and_leaves_nothing(
    backend: tuple[Any, MakeRef],
) -> None:
    store, make = backend
    ref = make()
    data, claimed = _blob(), digest_of(b"something else")
    with pytest.raises(DigestMismatch):
        store.blob_put(ref, data, digest=claimed, size=len(data))
    with pytest.raises(BlobNotFound):
        store.blob_head(ref, claimed)
    with pytest.raises(BlobNotFound):
        store.blob_head(ref, digest_of(data))


def test_blob_missing(backend: tuple[Any, MakeRef]) -> None:
    store, make = backend
    ref = make()
    store.blob_put(ref, b"x")  # the repository or layout exists
    with pytest.raises(BlobNotFound):
        store.blob_head(ref, digest_of(b"absent"))
    with pytest.raises(BlobNotFound):
        store.blob_get(ref, digest_of(b"absent")).read()


def test_blob_delete(backend: tuple[Any, MakeRef]) -> None:
    store, make = backend
    ref = make()
    desc = store.blob_put(ref, b"to delete")
    store.blob_delete(ref, desc.digest)
    with pytest.raises(BlobNotFound):
        store.blob_head(ref, desc.digest)


def _index_image() -> Any:
    return base_image([Platform("linux", "amd64"), Platform("linux", "arm64", "v8")])


def test_manifest_round_trip_keeps_bytes(backend: tuple[Any, MakeRef]) -> None:
    store, make = backend
    ref = make()
    sample = _index_image()
    desc = write_image(store, ref, sample)
    assert desc.digest == sample.top.digest
    got = store.manifest_get(ref)
    assert isinstance(got, Index)
    assert got.raw == sample.top.raw
    by_digest = store.manifest_get(ref.by_digest(sample.top.digest))
    assert by_digest.raw == sample.top.raw
    head = store.manifest_head(ref)
    assert (head.digest, head.size, head.media_type) == (
        sample.top.digest,
        len(sample.top.raw),
        mt.OCI_INDEX,
    )
    child = store.manifest_get(ref.by_digest(sample.children[1].digest))
    assert child.raw == sample.children[1].raw


def test_manifest_missing(backend: tuple[Any, MakeRef]) -> None:
    store, make = backend
    ref = make()
    write_image(store, ref, _index_image())
    with pytest.raises(ManifestNotFound):
        store.manifest_get(ref.with_tag("absent"))
    with pytest.raises(ManifestNotFound):
        store.manifest_get(ref.by_digest(digest_of(b"absent")))


def test_tags_move_and_delete_alone(backend: tuple[Any, MakeRef]) -> None:
    store, make = backend
    ref = make()
    sample = _index_image()
    write_image(store, ref.with_tag("one"), sample)
    store.manifest_put(ref.with_tag("two"), sample.top)
    other = sample.children[0]
    store.manifest_put(ref.with_tag("three"), other)
    assert store.tag_list(ref) == ["one", "three", "two"]
    store.manifest_put(ref.with_tag("three"), sample.top)  # the tag moves
    assert store.manifest_head(ref.with_tag("three")).digest == sample.top.digest
    store.tag_delete(ref.with_tag("one"))
    assert store.tag_list(ref) == ["three", "two"]
    assert store.manifest_get(ref.with_tag("two")).raw == sample.top.raw


def test_manifest_delete_by_digest(backend: tuple[Any, MakeRef]) -> None:
    store, make = backend
    ref = make()
    sample = _index_image()
    write_image(store, ref.with_tag("gone"), sample)
    store.manifest_delete(ref.by_digest(sample.top.digest))
    with pytest.raises(ManifestNotFound):
        store.manifest_get(ref.by_digest(sample.top.digest))


def test_referrers(backend: tuple[Any, MakeRef]) -> None:
    store, make = backend
    ref = make()
    sample = _index_image()
    write_image(store, ref, sample)
    subject = sample.top.descriptor()
    store.blob_put(ref, b"{}", digest=EMPTY_DESCRIPTOR.digest, size=2)
    made = []
    for artifact_type, content in (
        ("application/vnd.example.sbom", b'{"sbom":1}'),
        ("application/vnd.example.sig", b"signature"),
    ):
        layer = Descriptor.of("application/octet-stream", content)
        store.blob_put(ref, content, digest=layer.digest, size=layer.size)
        m = ImageManifest.build(
            EMPTY_DESCRIPTOR, [layer], artifact_type=artifact_type, subject=subject
        )
        store.manifest_put(ref.by_digest(m.digest), m)
        made.append(m)
    found = store.referrers_list(ref.by_digest(sample.top.digest))
    assert {d.digest for d in found} == {m.digest for m in made}
    assert {d.artifact_type for d in found} == {
        "application/vnd.example.sbom",
        "application/vnd.example.sig",
    }
    only = store.referrers_list(
        ref.by_digest(sample.top.digest), artifact_type="application/vnd.example.sig"
    )
    assert [d.digest for d in only] == [made[1].digest]
    assert store.referrers_list(ref.by_digest(sample.children[0].digest)) == []
