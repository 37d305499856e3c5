"""The one verifying path of blob_put (hoist.store.verified) and the stores' abilities."""

from __future__ import annotations

import io

import pytest

from hoist.errors import BlobNotFound, DigestMismatch, ErrorCode, ManifestNotFound, RegistryError
from hoist.model.digest import VerifyingReader, digest_of
from hoist.store.archive import ArchiveStore
from hoist.store.base import (
    Aborter,
    BlobMounter,
    Cataloger,
    GarbageCollector,
    PutChecker,
    RateLimited,
    Store,
    TagPager,
)
from hoist.store.ocidir import OCIDirStore
from hoist.store.registry import RegistryStore
from hoist.store.registry.connection import BLOB_NOT_FOUND, MANIFEST_NOT_FOUND, not_found
from hoist.store.verified import VerifiedContent, verify_bytes

DATA = b"hello, blob" * 1000


def test_verified_content_checks_digest_and_size() -> None:
    d = digest_of(DATA)
    assert verify_bytes(DATA, d, len(DATA)) == d
    assert verify_bytes(DATA, None, None) == d
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        verify_bytes(DATA, digest_of(b"other"), None)
    with pytest.raises(DigestMismatch, match=f"got {len(DATA)} bytes, expected {len(DATA) + 5}"):
        verify_bytes(DATA, None, len(DATA) + 5)
    with pytest.raises(DigestMismatch, match="larger than the expected 3 bytes"):
        verify_bytes(DATA, None, 3)
    content = VerifiedContent(io.BytesIO(DATA), d, 100)
    with pytest.raises(DigestMismatch, match="larger than the expected 100 bytes"):
        content.read(101)


def test_verified_content_reads_once_and_finishes_once() -> None:
    d = digest_of(DATA)
    content = VerifiedContent(io.BytesIO(DATA), d, len(DATA))
    assert content.read_exact(10) == DATA[:10]
    assert content.finish() == d and content.count == len(DATA)  # the rest was drained
    assert content.finish() == d


def test_a_self_verifying_source_still_fails() -> None:
    """(That it is not hashed twice: tests/test_copy_verified.py.)"""
    d = digest_of(DATA)
    ok = VerifiedContent(VerifyingReader(io.BytesIO(DATA), d, len(DATA)), d, len(DATA))
    assert b"".join(ok.chunks()) == DATA and ok.finish() == d
    lying = VerifyingReader(io.BytesIO(DATA), digest_of(b"x"), len(DATA))
    with pytest.raises(DigestMismatch):
        VerifiedContent(lying, digest_of(b"x"), len(DATA)).finish()


def test_a_404_without_a_code_is_not_found_and_other_codes_stay_registry_errors() -> None:
    bare = RegistryError(None, "Not Found", status=404)
    with pytest.raises(BlobNotFound, match=r"^BLOB_UNKNOWN: blob unknown to registry \(r@d\)$"):
        not_found(bare, BLOB_NOT_FOUND, BlobNotFound, "r@d")
    with pytest.raises(ManifestNotFound, match=r"^MANIFEST_UNKNOWN: manifest unknown \(r:v\)$"):
        not_found(bare, MANIFEST_NOT_FOUND, ManifestNotFound, "r:v")
    named = RegistryError(ErrorCode.NAME_UNKNOWN, "no repo", status=404)
    with pytest.raises(BlobNotFound, match=r"^NAME_UNKNOWN: no repo \(r@d\)$"):
        not_found(named, BLOB_NOT_FOUND, BlobNotFound, "r@d")
    other = RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, "x", status=404)
    not_found(other, BLOB_NOT_FOUND, BlobNotFound, "r@d")  # returns: the caller re-raises
    not_found(RegistryError(None, "x", status=500), BLOB_NOT_FOUND, BlobNotFound, "r@d")


def test_abilities_are_protocols() -> None:
    registry = RegistryStore(credentials=None, settings={})
    ocidir, archive = OCIDirStore(), ArchiveStore("oci-archive")
    try:
        for store in (registry, ocidir, archive):
            assert isinstance(store, Store)
        assert all(isinstance(registry, p) for p in (BlobMounter, Cataloger, TagPager, RateLimited))
        assert not isinstance(registry, GarbageCollector | Aborter)
        assert isinstance(ocidir, GarbageCollector) and isinstance(ocidir, PutChecker)
        assert not isinstance(registry, PutChecker) and not isinstance(archive, PutChecker)
        assert not isinstance(ocidir, BlobMounter | Cataloger | TagPager | RateLimited | Aborter)
        assert isinstance(archive, Aborter)
        assert not isinstance(archive, BlobMounter | TagPager | RateLimited | GarbageCollector)
    finally:
        registry.close()
