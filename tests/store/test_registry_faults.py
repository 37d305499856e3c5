"""Registry-store behaviour for answers no real registry gives on demand (a scripted server)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from support.fake_http import FakeServer, Request

from hoist.config.settings import RegistrySettings
from hoist.errors import DigestMismatch
from hoist.model.digest import digest_of
from hoist.model.reference import Reference
from hoist.store.registry import RegistryStore


@pytest.fixture
def fake() -> Iterator[Any]:
    servers: list[FakeServer] = []

    def start(handler: Any) -> tuple[FakeServer, RegistryStore]:
        server = FakeServer(handler)
        servers.append(server)
        store = RegistryStore(
            credentials=None, settings={server.host: RegistrySettings("disabled")}, backoff=0.01
        )
        return server, store

    yield start
    for server in servers:
        server.close()


def test_refused_single_put_falls_back_to_chunks(fake: Any) -> None:
    """A registry answering 413 to one large PUT gets the blob in PATCH chunks instead."""
    data = os.urandom(9 << 20)
    received = bytearray()

    def handler(req: Request) -> None:
        if req.method == "HEAD":
            req.reply(404)
        elif req.method == "POST":
            req.reply(
                202,
                headers={"Location": "/v2/app/blobs/uploads/s1", "OCI-Chunk-Min-Length": "1024"},
            )
        elif req.method == "PUT" and req.seen.body:
            req.error(413, "SIZE_INVALID", "too large")
        elif req.method == "PATCH":
            start = int((req.header("Content-Range") or "0-0").split("-")[0])
            assert start == len(received)
            received.extend(req.seen.body)
            req.reply(
                202,
                headers={"Location": "/v2/app/blobs/uploads/s1", "Range": f"0-{len(received) - 1}"},
            )
        elif req.method == "PUT":
            assert dict(req.seen.query)["digest"] == str(digest_of(bytes(received)))
            req.reply(201, headers={"Docker-Content-Digest": str(digest_of(bytes(received)))})
        else:  # DELETE cancels the refused session
            req.reply(204)

    server, store = fake(handler)
    desc = store.blob_put(
        Reference(server.host, "app"), io.BytesIO(data), digest=digest_of(data), size=len(data)
    )
    assert desc.digest == digest_of(data) and bytes(received) == data
    methods = [s.method for s in server.seen if s.path != "/v2/"]
    assert methods[:4] == ["HEAD", "POST", "PUT", "DELETE"]
    assert methods.count("PATCH") == 2  # 8 MiB chunks
    assert methods[-1] == "PUT"


def test_manifest_digest_header_that_lies_is_refused(fake: Any) -> None:
    body = (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    )

    def handler(req: Request) -> None:
        req.reply(
            200,
            body,
            {
                "Content-Type": "application/vnd.oci.image.index.v1+json",
                "Docker-Content-Digest": str(digest_of(b"something else")),
            },
        )

    server, store = fake(handler)
    with pytest.raises(DigestMismatch):
        store.manifest_get(Reference(server.host, "app", "v1"))
    with pytest.raises(DigestMismatch):
        store.manifest_get(Reference(server.host, "app", None, digest_of(b"other")))


def test_oversized_manifest_is_refused_before_reading(fake: Any) -> None:
    def handler(req: Request) -> None:
        req.reply(
            200,
            b"{}",
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            length=5 << 20,
        )

    server, store = fake(handler)
    with pytest.raises(Exception, match="over the 4 MiB limit"):
        store.manifest_get(Reference(server.host, "app", "v1"))


def _uploads(put: Any) -> Any:
    """A registry that takes one upload session; ``put(req, body)`` answers its PUT."""

    def handler(req: Request) -> None:
        if req.method == "HEAD" and "/blobs/uploads/" not in req.path:
            req.reply(404)
        elif req.method == "POST":
            req.reply(202, headers={"Location": "/v2/app/blobs/uploads/s1"})
        elif req.method == "PUT":
            put(req, req.seen.body)
        else:
            req.reply(204)

    return handler


def test_upload_answer_naming_another_digest_is_a_digest_mismatch(fake: Any) -> None:
    """hoist leaves the digest of an upload to the registry and checks what it answers."""
    data = os.urandom(100_000)

    def put(req: Request, body: bytes) -> None:
        req.reply(201, headers={"Docker-Content-Digest": str(digest_of(b"another blob"))})

    server, store = fake(_uploads(put))
    with pytest.raises(DigestMismatch, match="stored sha256:"):
        store.blob_put(
            Reference(server.host, "app"), io.BytesIO(data), digest=digest_of(data), size=len(data)
        )


def test_upload_refused_for_its_digest_is_a_digest_mismatch(fake: Any) -> None:
    data = os.urandom(100_000)

    def put(req: Request, body: bytes) -> None:
        req.error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")

    server, store = fake(_uploads(put))
    with pytest.raises(DigestMismatch, match="refused blob"):
        store.blob_put(
            Reference(server.host, "app"), io.BytesIO(data), digest=digest_of(data), size=len(data)
        )


def test_upload_answer_naming_no_digest_is_checked_with_a_head(fake: Any) -> None:
    """201 with neither Docker-Content-Digest nor the digest in Location: one HEAD says
    whether the registry holds the blob under its digest, with its size."""
    data = os.urandom(100_000)
    stored: dict[str, int] = {}

    def handler(req: Request) -> None:
        digest = req.path.rsplit("/", 1)[-1]
        if req.method == "HEAD":
            if digest in stored:
                req.reply(200, length=stored[digest])
            else:
                req.reply(404)
        elif req.method == "POST":
            req.reply(202, headers={"Location": "/v2/app/blobs/uploads/s1"})
        elif req.method == "PUT":
            stored[dict(req.seen.query)["digest"]] = len(req.seen.body) - 1  # a wrong size
            req.reply(201, headers={"Location": "/v2/app/blobs/stored"})
        else:
            req.reply(204)

    server, store = fake(handler)
    with pytest.raises(DigestMismatch, match="stored 99999 bytes"):
        store.blob_put(
            Reference(server.host, "app"), io.BytesIO(data), digest=digest_of(data), size=len(data)
        )
    assert [s.method for s in server.requests()] == ["HEAD", "POST", "PUT", "HEAD"]


def test_receive_uploads_into_the_session_a_refused_mount_opened(fake: Any) -> None:
    """A mount answered 202 is the upload session: no DELETE, no second POST, no HEAD."""
    from hoist.model.descriptor import Descriptor

    data = os.urandom(50_000)
    desc = Descriptor("application/octet-stream", digest_of(data), len(data))

    def handler(req: Request) -> None:
        if req.method == "POST":
            assert dict(req.seen.query)["mount"] == str(desc.digest)
            req.reply(202, headers={"Location": "/v2/app/blobs/uploads/mounting"})
        elif req.method == "PUT":
            assert req.path == "/v2/app/blobs/uploads/mounting"
            assert req.seen.body == data
            req.reply(201, headers={"Docker-Content-Digest": str(desc.digest)})
        else:
            req.reply(500)

    class Source:
        def start(self) -> None:
            pass

        def open(self) -> Any:
            from hoist.model.digest import VerifyingReader

            return VerifyingReader(io.BytesIO(data), desc.digest, desc.size)

    server, store = fake(handler)
    how = store.blob_receive(
        Reference(server.host, "app"), desc, Source(), mount_from=Reference(server.host, "other")
    )
    assert how == "copied"
    assert [s.method for s in server.requests()] == ["POST", "PUT"]
