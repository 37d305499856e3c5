"""Registry-only behaviour of the store, against real docker-registry instances."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from support.registry_fixtures import RegistryServer

from hoist.errors import BlobNotFound, DigestMismatch
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
from hoist.model.digest import digest_of
from hoist.model.manifest import ImageManifest, Index
from hoist.model.platform import Platform
from hoist.model.reference import Reference
from hoist.store.referrers import fallback_tag
from hoist.testing.sample import base_image, write_image


def test_push_after_pull_widens_the_token(
    registry_token: RegistryServer, registry_store: Any, repo_name: str
) -> None:
    store = registry_store(registry_token)
    ref = Reference(registry_token.host, repo_name, "v1")
    server = registry_token.token_server
    assert server is not None
    server.requests.clear()
    with pytest.raises(BlobNotFound):
        store.blob_head(ref, digest_of(b"absent"))  # a pull-scoped token first
    write_image(store, ref, base_image([Platform("linux", "amd64")]))
    mine = [r for r in server.requests if r.actions_for(repo_name)]
    assert mine[0].actions_for(repo_name) == {"pull"} and mine[0].authenticated
    assert any("push" in r.actions_for(repo_name) and r.status == 200 for r in mine[1:])
    assert store.manifest_get(ref).media_type.endswith("index.v1+json")


def test_anonymous_push_to_token_registry_is_refused(
    registry_token: RegistryServer, repo_name: str
) -> None:
    from hoist.config.settings import RegistrySettings
    from hoist.errors import AuthError
    from hoist.store.registry import RegistryStore

    store = RegistryStore(
        credentials=None, settings={registry_token.host: RegistrySettings("disabled")}
    )
    try:
        with pytest.raises(AuthError, match="anonymously"):
            store.blob_put(Reference(registry_token.host, repo_name), b"data")
    finally:
        store.close()


@pytest.mark.parametrize("chunk", [64 * 1024, 1024 * 1024])
def test_chunked_upload(
    registry_anon: RegistryServer, registry_store: Any, repo_name: str, chunk: int
) -> None:
    store = registry_store(registry_anon, chunk_size=chunk)
    ref = Reference(registry_anon.host, repo_name)
    data = os.urandom(3 * chunk + 123)
    desc = store.blob_put(ref, io.BytesIO(data))
    assert desc.digest == digest_of(data)
    with store.blob_get(ref, desc.digest, len(data)) as reader:
        assert reader.read() == data


def test_streamed_upload_with_wrong_digest_is_cancelled(
    registry_anon: RegistryServer, registry_store: Any, repo_name: str
) -> None:
    store = registry_store(registry_anon)
    ref = Reference(registry_anon.host, repo_name)
    data = os.urandom(100_000)
    wrong = digest_of(b"other")
    with pytest.raises(DigestMismatch):
        store.blob_put(ref, io.BytesIO(data), digest=wrong, size=len(data))
    with pytest.raises(BlobNotFound):
        store.blob_head(ref, digest_of(data))
    # distribution keeps a session whose PUT failed (its cancel answers 404 once the state
    # token is stale) until its upload purger runs; nothing of it is readable as a blob.


def test_cross_repository_mount(
    registry_anon: RegistryServer, registry_store: Any, repo_name: str
) -> None:
    store = registry_store(registry_anon)
    src = Reference(registry_anon.host, repo_name + "-src")
    dst = Reference(registry_anon.host, repo_name + "-dst")
    desc = store.blob_put(src, b"mount me")
    assert store.blob_mount(dst, src, desc.digest) is True
    assert store.blob_head(dst, desc.digest).size == len(b"mount me")
    absent = digest_of(b"not there")
    calls: list[tuple[str, int]] = []
    request = store.transport.request

    def spy(method: str, *args: Any, **kwargs: Any) -> Any:
        response = request(method, *args, **kwargs)
        calls.append((method, response.status))
        return response

    store.transport.request = spy
    assert store.blob_mount(dst, src, absent) is False
    # the session the 202 opened is cancelled (distribution answers 204)
    assert calls == [("POST", 202), ("DELETE", 204)]


def test_referrers_fallback_tag_schema(
    registry_anon: RegistryServer, registry_store: Any, repo_name: str
) -> None:
    store = registry_store(registry_anon)
    ref = Reference(registry_anon.host, repo_name, "v1")
    sample = base_image([Platform("linux", "amd64")])
    write_image(store, ref, sample)
    store.blob_put(ref, b"{}", digest=EMPTY_DESCRIPTOR.digest, size=2)
    layer = Descriptor.of("text/plain", b"an sbom")
    store.blob_put(ref, b"an sbom", digest=layer.digest, size=layer.size)
    artifact = ImageManifest.build(
        EMPTY_DESCRIPTOR,
        [layer],
        artifact_type="application/vnd.example.sbom",
        subject=sample.top.descriptor(),
        annotations={"org.example": "yes"},
    )
    store.manifest_put(ref.by_digest(artifact.digest), artifact)
    fallback = store.manifest_get(ref.with_tag(fallback_tag(sample.top.digest)))
    assert isinstance(fallback, Index)
    (entry,) = fallback.manifests
    assert entry.digest == artifact.digest
    assert entry.artifact_type == "application/vnd.example.sbom"
    assert dict(entry.annotations) == {"org.example": "yes"}
    store.manifest_delete(ref.by_digest(artifact.digest))
    assert store.referrers_list(ref.by_digest(sample.top.digest)) == []


def test_referrers_api_on_hoist_serve_needs_no_fallback_tag(
    hoist_serve: Any, registry_store: Any, repo_name: str
) -> None:
    store = registry_store(hoist_serve)
    ref = Reference(hoist_serve.host, repo_name, "v1")
    sample = base_image([Platform("linux", "amd64")])
    write_image(store, ref, sample)
    store.blob_put(ref, b"{}", digest=EMPTY_DESCRIPTOR.digest, size=2)
    artifact = ImageManifest.build(
        EMPTY_DESCRIPTOR,
        [],
        artifact_type="application/vnd.example.sig",
        subject=sample.top.descriptor(),
    )
    store.manifest_put(ref.by_digest(artifact.digest), artifact)
    assert store.tag_list(ref) == ["v1"]  # the server answered OCI-Subject: no fallback tag
    found = store.referrers_list(
        ref.by_digest(sample.top.digest), artifact_type="application/vnd.example.sig"
    )
    assert [d.digest for d in found] == [artifact.digest]


@pytest.mark.parametrize("server", ["registry_anon", "hoist_serve"])
def test_empty_blob_upload_in_chunks(
    request: pytest.FixtureRequest, server: str, registry_store: Any, repo_name: str
) -> None:
    """An empty blob (digest unknown, so chunked) closes its session with no PATCH."""
    target = request.getfixturevalue(server)
    store = registry_store(target, chunk_size=1 << 20)
    ref = Reference(target.host, repo_name)
    desc = store.blob_put(ref, io.BytesIO(b""))
    assert desc.digest == digest_of(b"") and desc.size == 0
    assert store.blob_head(ref, desc.digest).size == 0
