"""A destination skips its own hash for a source that verifies itself; failures stay failures."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.registry_fixtures import RegistryServer

import hoist.fsutil
import hoist.store.ocidir
import hoist.store.verified
from hoist.copy import image_copy
from hoist.errors import BlobNotFound, DigestMismatch, ManifestNotFound
from hoist.location import Location
from hoist.model.config import History
from hoist.model.digest import VerifyingReader, digest_of
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference, Reference
from hoist.store.ocidir import OCIDirStore
from hoist.store.verified import self_verifying
from hoist.testing.sample import SampleImage, build_image, make_layer, write_image


def _image() -> SampleImage:
    big = make_layer({"data.bin": os.urandom(3 * 1024 * 1024 + 5)})
    small = make_layer({"etc/conf": b"x = 1\n"})
    manifest, blobs = build_image(
        [big, small],
        [History(created_by="COPY data.bin /"), History(created_by="COPY conf /etc/")],
        platform=Platform("linux", "amd64"),
    )
    return SampleImage(blobs, [], manifest)


class _Progress:
    def __init__(self) -> None:
        self.bytes = 0

    def plan(self, blobs: Any) -> None:
        pass

    def start(self, desc: Any) -> None:
        pass

    def advance(self, desc: Any, nbytes: int) -> None:
        self.bytes += nbytes

    def finish(self, desc: Any, how: str) -> None:
        pass


def _counting_hashlib(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[int]:
    """Record how many bytes the hashers ``module`` makes are fed."""
    fed: list[int] = []

    class Counted:
        def __init__(self, name: str) -> None:
            self._h = hashlib.new(name)
            self.name = name

        def update(self, data: bytes) -> None:
            fed.append(len(data))
            self._h.update(data)

        def hexdigest(self) -> str:
            return self._h.hexdigest()

    monkeypatch.setattr(module, "hashlib", SimpleNamespace(new=Counted))
    return fed


def _destinations(
    tmp_path: Path, server: RegistryServer, registry_store: Any, repo_name: str
) -> list[tuple[Any, Any, Any]]:
    """(store, ref, module that hashes what it stores) for an ocidir and a registry
    destination (both verify through hoist.store.verified)."""
    return [
        (
            OCIDirStore(),
            LayoutReference("ocidir", str(tmp_path / "dst"), "v1"),
            hoist.store.verified,
        ),
        (
            registry_store(server),
            Reference(server.host, repo_name, "v1"),
            hoist.store.verified,
        ),
    ]


@pytest.mark.parametrize("with_progress", [False, True])
def test_copy_hashes_each_blob_once_and_keeps_the_bytes(
    tmp_path: Path,
    registry_anon: RegistryServer,
    registry_store: Any,
    repo_name: str,
    monkeypatch: pytest.MonkeyPatch,
    with_progress: bool,
) -> None:
    image = _image()
    src = LayoutReference("ocidir", str(tmp_path / "src"), "v1")
    write_image(OCIDirStore(), src, image)
    for dst_store, dst, module in _destinations(tmp_path, registry_anon, registry_store, repo_name):
        fed = _counting_hashlib(monkeypatch, module)
        progress = _Progress() if with_progress else None
        result = image_copy(
            Location(OCIDirStore(), src), Location(dst_store, dst), progress=progress
        )
        assert result.descriptor.digest == image.top.digest
        # The source reader's hash was the only one over the blobs (the manifest is hashed).
        assert sum(fed) <= len(image.top.raw)
        for digest, blob in image.blobs.items():
            with dst_store.blob_get(dst, digest, len(blob)) as reader:
                assert reader.read() == blob
        if progress is not None:
            assert progress.bytes == sum(len(b) for b in image.blobs.values())


@pytest.mark.parametrize("damage", ["flip", "append", "truncate"])
def test_corrupt_source_fails_the_copy_and_leaves_no_blob(
    tmp_path: Path,
    registry_anon: RegistryServer,
    registry_store: Any,
    repo_name: str,
    damage: str,
) -> None:
    image = _image()
    src = LayoutReference("ocidir", str(tmp_path / "src"), "v1")
    write_image(OCIDirStore(), src, image)
    layer = max(image.top.layers, key=lambda d: d.size)  # type: ignore[union-attr]
    path = tmp_path / "src" / "blobs" / "sha256" / layer.digest.hex
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "append":
        data += b"extra"
    else:
        del data[-1]
    path.write_bytes(bytes(data))
    for dst_store, dst, _ in _destinations(tmp_path, registry_anon, registry_store, repo_name):
        with pytest.raises(DigestMismatch):
            image_copy(Location(OCIDirStore(), src), Location(dst_store, dst), progress=_Progress())
        with pytest.raises(BlobNotFound):
            dst_store.blob_head(dst, layer.digest)
        with pytest.raises(ManifestNotFound):
            dst_store.manifest_head(dst)
    leftovers = [p.name for p in (tmp_path / "dst" / "blobs" / "sha256").iterdir()]
    assert layer.digest.hex not in leftovers
    assert not [n for n in leftovers if n.startswith(hoist.fsutil.TMP_PREFIX)]


def test_lying_verifying_reader_is_refused_by_both_stores(
    tmp_path: Path, registry_anon: RegistryServer, registry_store: Any, repo_name: str
) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)
    claimed = digest_of(b"not the data")
    for store, ref, _ in _destinations(tmp_path, registry_anon, registry_store, repo_name):
        reader = VerifyingReader(io.BytesIO(data), claimed, len(data))
        with pytest.raises(DigestMismatch):
            store.blob_put(ref, reader, digest=claimed, size=len(data))
        with pytest.raises(BlobNotFound):
            store.blob_head(ref, claimed)
        with pytest.raises(BlobNotFound):
            store.blob_head(ref, digest_of(data))


def test_self_verifying_only_trusts_an_unread_reader_for_the_same_digest_and_size() -> None:
    data = b"hello"
    d = digest_of(data)
    fresh = VerifyingReader(io.BytesIO(data), d, len(data))
    assert self_verifying(fresh, d, len(data)) is fresh
    assert self_verifying(fresh, d, None) is fresh
    assert self_verifying(SimpleNamespace(verifying=fresh), d, 5) is fresh
    assert self_verifying(fresh, digest_of(b"other"), 5) is None
    assert self_verifying(fresh, d, 6) is None
    assert self_verifying(fresh, None, 5) is None
    assert self_verifying(VerifyingReader(io.BytesIO(data), d), d, 5) is None  # no size bound
    assert self_verifying(io.BytesIO(data), d, 5) is None
    assert self_verifying(data, d, 5) is None
    started = VerifyingReader(io.BytesIO(data), d, len(data))
    started.read(1)
    assert self_verifying(started, d, 5) is None
