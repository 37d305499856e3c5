"""Manifests on a registry: GET (bounded, digest-checked), HEAD, PUT of the exact bytes, DELETE.

Keeping the referrers fallback tag in step with pushes and deletes is the store's part
(:mod:`hoist.store.registry.store`), with :mod:`hoist.store.registry.referrers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hoist.errors import (
    DigestMismatch,
    InvalidManifest,
    ManifestNotFound,
    RegistryError,
    Unsupported,
)
from hoist.model import mediatype as mt
from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest, digest_of
from hoist.model.manifest import MAX_MANIFEST_SIZE, ImageManifest, Index, Manifest, parse_manifest
from hoist.store.registry.connection import MANIFEST_NOT_FOUND, not_found

if TYPE_CHECKING:
    from hoist.model.reference import Reference
    from hoist.store.registry.connection import Connection
    from hoist.transport.response import Response

__all__ = [
    "Pushed",
    "check_digest",
    "manifest_delete",
    "manifest_get",
    "manifest_head",
    "manifest_put",
    "manifest_request",
]


def manifest_request(
    conn: Connection, method: str, r: Reference, *, stream: bool = False
) -> Response:
    """GET or HEAD of ``r``'s manifest with every type hoist reads accepted."""
    try:
        return conn.transport.request(
            method,
            r.api_host,
            conn.path(r, "manifests", r.version_ref),
            headers={"Accept": ", ".join(mt.ACCEPT_MANIFESTS)},
            scopes=conn.scope(r),
            stream=stream,
        )
    except RegistryError as exc:
        not_found(exc, MANIFEST_NOT_FOUND, ManifestNotFound, str(r))
        raise


def manifest_get(conn: Connection, r: Reference) -> Manifest:
    """The manifest ``r`` names: at most 4 MiB, its bytes checked against ``r``'s digest or the
    registry's Docker-Content-Digest."""
    with manifest_request(conn, "GET", r, stream=True) as response:
        raw = response.read_capped(MAX_MANIFEST_SIZE, what="manifest", error=InvalidManifest)
        media_type = response.headers.get("Content-Type", "")
        header_digest = response.headers.get("Docker-Content-Digest")
    check_digest(r, raw, header_digest)
    return parse_manifest(raw, media_type or None)


def check_digest(ref: Reference, raw: bytes, header: str | None) -> None:
    """DigestMismatch unless ``raw`` is ``ref``'s digest (else the ``header`` digest, if any)."""
    expected = ref.digest
    if expected is None and header:
        try:
            expected = Digest.parse(header)
        except ValueError:
            return
    if expected is None:
        return
    actual = digest_of(raw, expected.algorithm)
    if actual != expected:
        raise DigestMismatch(
            f"manifest {ref}: expected {expected}, got {actual}",
            expected=str(expected),
            actual=str(actual),
        )


def manifest_head(conn: Connection, r: Reference) -> Descriptor:
    """The manifest's descriptor from a HEAD; a GET when the answer lacks digest, size or a
    manifest media type."""
    response = manifest_request(conn, "HEAD", r)
    header = response.headers.get("Docker-Content-Digest")
    size = response.content_length
    media_type = response.headers.get("Content-Type", "")
    if not header or size is None or not mt.is_manifest(media_type):
        return manifest_get(conn, r).descriptor()
    return Descriptor(media_type, Digest.parse(header), size)


@dataclass(frozen=True)
class Pushed:
    """What a manifest PUT answered."""

    descriptor: Descriptor
    subject_indexed: bool
    """The registry answered ``OCI-Subject``: it lists the manifest as a referrer itself."""


def manifest_put(conn: Connection, r: Reference, manifest: Manifest) -> Pushed:
    """PUT the manifest's exact bytes under ``r``'s tag, else its digest; DigestMismatch when
    the registry stored another digest."""
    if not isinstance(manifest, ImageManifest | Index):
        raise Unsupported(f"{manifest.media_type} manifests cannot be pushed")
    if r.digest is not None and r.digest != manifest.digest:
        raise DigestMismatch(
            f"manifest digest {manifest.digest} differs from {r.digest}",
            expected=str(r.digest),
            actual=str(manifest.digest),
        )
    target = r.tag if r.digest is None and r.tag else str(manifest.digest)
    response = conn.transport.request(
        "PUT",
        r.api_host,
        conn.path(r, "manifests", target),
        headers={"Content-Type": manifest.media_type},
        body=manifest.raw,
        scopes=conn.scope(r, "pull,push"),
        expect=(201, 200),
    )
    answered = response.headers.get("Docker-Content-Digest")
    if answered and answered != str(manifest.digest):
        raise DigestMismatch(
            f"{r.api_host} stored {answered} for manifest {manifest.digest}",
            expected=str(manifest.digest),
            actual=answered,
        )
    return Pushed(manifest.descriptor(), "OCI-Subject" in response.headers)


def manifest_delete(conn: Connection, r: Reference) -> Descriptor | None:
    """Delete the manifest ``r.digest`` names; the subject it had (read first), if any."""
    if r.digest is None:
        raise Unsupported("delete a manifest by digest; use tag delete for a tag")
    subject = None
    try:
        m = manifest_get(conn, r)
        subject = m.subject if isinstance(m, ImageManifest | Index) else None
    except (InvalidManifest, Unsupported):
        pass
    try:
        conn.transport.request(
            "DELETE",
            r.api_host,
            conn.path(r, "manifests", str(r.digest)),
            scopes=conn.scope(r, "pull,push,delete"),
            expect=(202, 200),
        )
    except RegistryError as exc:
        not_found(exc, MANIFEST_NOT_FOUND, ManifestNotFound, str(r))
        raise
    return subject
