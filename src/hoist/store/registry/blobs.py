"""Blobs on a registry: HEAD, streamed GET (verified, Range-resumed by the transport), DELETE.

Uploads and mounts live in :mod:`hoist.store.registry.uploads`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hoist.errors import BlobNotFound, RegistryError
from hoist.model.descriptor import Descriptor
from hoist.store.registry.connection import BLOB_NOT_FOUND, not_found

if TYPE_CHECKING:
    from hoist.model.digest import Digest, VerifyingReader
    from hoist.model.reference import Reference
    from hoist.store.registry.connection import Connection

__all__ = ["blob_delete", "blob_get", "blob_head"]


def blob_head(conn: Connection, r: Reference, digest: Digest) -> Descriptor:
    """Digest and size of a blob (BlobNotFound when absent)."""
    try:
        response = conn.transport.request(
            "HEAD", r.api_host, conn.path(r, "blobs", str(digest)), scopes=conn.scope(r)
        )
    except RegistryError as exc:
        not_found(exc, BLOB_NOT_FOUND, BlobNotFound, f"{r.name}@{digest}")
        raise
    size = response.content_length
    if size is None:
        raise RegistryError(None, "blob HEAD without Content-Length", status=200)
    return Descriptor("application/octet-stream", digest, size)


def blob_get(conn: Connection, r: Reference, digest: Digest, size: int | None) -> VerifyingReader:
    """Open a blob for streaming, verified when read to its end."""
    try:
        return conn.transport.open_blob(
            r.api_host, conn.path(r, "blobs", str(digest)), digest, size, conn.scope(r)
        )
    except RegistryError as exc:
        not_found(exc, BLOB_NOT_FOUND, BlobNotFound, f"{r.name}@{digest}")
        raise


def blob_delete(conn: Connection, r: Reference, digest: Digest) -> None:
    """Delete a blob (BlobNotFound when absent)."""
    try:
        conn.transport.request(
            "DELETE",
            r.api_host,
            conn.path(r, "blobs", str(digest)),
            scopes=conn.scope(r, "pull,push,delete"),
            expect=(202, 200),
        )
    except RegistryError as exc:
        not_found(exc, BLOB_NOT_FOUND, BlobNotFound, f"{r.name}@{digest}")
        raise
