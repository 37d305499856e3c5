"""Referrers on a registry: the referrers API where the registry has it, else the fallback tag
(``sha256-<hex>``, an index distribution-spec asks clients to keep), which hoist maintains."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hoist.errors import InvalidManifest, ManifestNotFound, RegistryError
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR
from hoist.model.manifest import MAX_MANIFEST_SIZE, Index, parse_manifest
from hoist.store.referrers import fallback_tag, referrer_descriptor
from hoist.store.registry.manifests import manifest_get, manifest_head, manifest_put

if TYPE_CHECKING:
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest
    from hoist.model.manifest import ImageManifest
    from hoist.model.reference import Reference
    from hoist.store.registry.connection import Connection

__all__ = [
    "fallback_index",
    "fallback_update",
    "has_referrers_api",
    "referrers_api_list",
    "referrers_list",
]


def has_referrers_api(conn: Connection, r: Reference) -> bool:
    """Whether ``r``'s registry answers the referrers API (asked once per registry)."""
    known = conn.referrers_api(r.api_host)
    if known is not None:
        return known
    referrers_api_list(conn, r, EMPTY_DESCRIPTOR.digest, None)
    return conn.referrers_api(r.api_host) or False


def referrers_api_list(
    conn: Connection, r: Reference, subject: Digest, artifact_type: str | None
) -> list[Descriptor] | None:
    """The referrers API's list for ``subject``; None when the registry has no such API."""
    query = [("artifactType", artifact_type)] if artifact_type else None
    try:
        response = conn.transport.request(
            "GET",
            r.api_host,
            conn.path(r, "referrers", str(subject)),
            query=query,
            headers={"Accept": mt.OCI_INDEX},
            scopes=conn.scope(r),
            expect=(200, 404),
            stream=True,
        )
    except RegistryError as exc:
        if exc.status in (400, 405):
            conn.remember_referrers_api(r.api_host, False)
            return None
        raise
    with response:
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if response.status == 404 or content_type != mt.OCI_INDEX:
            conn.remember_referrers_api(r.api_host, False)
            return None
        conn.remember_referrers_api(r.api_host, True)
        raw = response.read_capped(MAX_MANIFEST_SIZE, what="referrers list", error=InvalidManifest)
    index = parse_manifest(raw, mt.OCI_INDEX)
    found = list(index.manifests) if isinstance(index, Index) else []
    if artifact_type and "artifactType" not in response.headers.get("OCI-Filters-Applied", ""):
        found = [d for d in found if d.artifact_type == artifact_type]
    return found


def referrers_list(
    conn: Connection, r: Reference, *, artifact_type: str | None = None
) -> list[Descriptor]:
    """Descriptors of the manifests whose subject ``r`` names (a tag is resolved first)."""
    if r.digest is None:
        r = r.with_digest(manifest_head(conn, r).digest)
    assert r.digest is not None
    found = referrers_api_list(conn, r, r.digest, artifact_type)
    if found is None:
        found = list(fallback_index(conn, r, r.digest).manifests)
        if artifact_type:
            found = [d for d in found if d.artifact_type == artifact_type]
    return sorted(set(found), key=lambda d: str(d.digest))


def fallback_index(conn: Connection, r: Reference, subject: Digest) -> Index:
    """The index the fallback tag of ``subject`` holds (empty when there is none)."""
    try:
        index = manifest_get(conn, r.with_tag(fallback_tag(subject)))
    except ManifestNotFound:
        return Index.build([])
    if not isinstance(index, Index):
        raise InvalidManifest(f"referrers tag {fallback_tag(subject)} is not an index")
    return index


def fallback_update(
    conn: Connection,
    r: Reference,
    subject: Digest,
    *,
    add: ImageManifest | Index | None = None,
    remove: Digest | None = None,
) -> None:
    """Keep the ``sha256-<hex>`` referrers index as distribution-spec's fallback says."""
    current = fallback_index(conn, r, subject)
    entries = [
        d
        for d in current.manifests
        if d.digest != remove and (add is None or d.digest != add.digest)
    ]
    if add is not None:
        entries.append(referrer_descriptor(add))
    if [d.digest for d in entries] == [d.digest for d in current.manifests]:
        return
    manifest_put(conn, r.with_tag(fallback_tag(subject)), Index.build(entries))
