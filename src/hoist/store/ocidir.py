"""OCI image layout directories (``ocidir://PATH``) as a store.

Tags are ``org.opencontainers.image.ref.name`` annotations on index.json entries. Every write
goes to a temporary file inside the layout, is verified and fsynced, then renamed into place
and its directory fsynced (``OCIDirStore(fsync=False)`` skips both fsyncs, not the rename).
Within :meth:`OCIDirStore.write_batch` (a copy's writes) the fsyncs give way to one sync of the
filesystem at the end, and index.json is written once, after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hoist.errors import (
    BlobNotFound,
    DigestMismatch,
    InvalidManifest,
    ManifestNotFound,
    NotFound,
    Unsupported,
)
from hoist.fsutil import TMP_PREFIX, fsync_dir, sync_filesystem, temp_path, write_atomic
from hoist.model import mediatype as mt
from hoist.model.descriptor import ANNOTATION_REF_NAME, Descriptor
from hoist.model.digest import Digest, Readable, VerifyingReader
from hoist.model.manifest import (
    MAX_INDEX_JSON_SIZE,
    ImageManifest,
    Index,
    Manifest,
    parse_manifest,
)
from hoist.model.reference import LayoutReference
from hoist.store.referrers import referrer_descriptor
from hoist.store.verified import VerifiedContent
from hoist.transport.zerocopy import FileReader

if TYPE_CHECKING:
    from hoist.model.reference import ImageRef

__all__ = ["OCIDirStore"]

log = logging.getLogger(__name__)

LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'
_WRITEBACK_STEP = 8 << 20
"""In a write batch, a blob's writeback starts every this many bytes."""
_START_WRITEBACK = getattr(os, "POSIX_FADV_DONTNEED", None)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing the dirty range out without waiting: Linux's fadvise(DONTNEED) queues the
    writeback of dirty pages (and drops only clean ones, not these)."""
    assert _START_WRITEBACK is not None
    os.posix_fadvise(fd, offset, length, _START_WRITEBACK)


def _layout_path(ref: ImageRef) -> Path:
    if not isinstance(ref, LayoutReference):
        raise Unsupported(f"{ref} is not an OCI layout reference")
    return Path(ref.path)


@dataclass
class _Batch:
    """A :meth:`OCIDirStore.write_batch` in progress on one layout."""

    depth: int = 0
    written: bool = False
    """A blob landed unsynced."""
    entries: list[tuple[ImageRef, Manifest]] = field(default_factory=list)
    """Manifests written whose index.json entries (tags) wait for the end."""


class OCIDirStore:
    """Store for OCI image layout directories.

    Reads and writes are safe from several threads and processes at once (index.json changes
    under a lock, blobs land by rename). :meth:`gc` is not safe against a writer in another
    process: a copy in progress has blobs nothing references yet. It spares temporary files
    younger than ``gc_grace`` seconds.
    """

    def __init__(self, *, fsync: bool = True, gc_grace: float = 3600.0) -> None:
        self._gc_grace = gc_grace
        self._fsync = fsync
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._batches: dict[str, _Batch] = {}

    # -- layout plumbing -------------------------------------------------------------------

    @contextlib.contextmanager
    def write_batch(self, ref: ImageRef) -> Iterator[None]:
        """Writes to ``ref``'s layout made durable together (the WriteBatcher ability): within
        the block blobs and manifests land by rename, verified, but unsynced, and tags wait;
        leaving it syncs the filesystem once, then publishes the tags in one index.json write.
        Blocks may nest (and run in several threads at once); the outermost one syncs."""
        root = _layout_path(ref)
        key = str(root.resolve())
        with self._locks_guard:
            batch = self._batches.setdefault(key, _Batch())
            batch.depth += 1
        try:
            yield
        finally:
            with self._locks_guard:
                batch.depth -= 1
                last = batch.depth == 0
                if last:
                    del self._batches[key]
            if last:
                self._publish(root, batch)

    def _batch(self, root: Path) -> _Batch | None:
        if not self._batches:
            return None
        with self._locks_guard:
            return self._batches.get(str(root.resolve()))

    def _publish(self, root: Path, batch: _Batch) -> None:
        """Sync what the batch wrote, then add its tags to index.json, in one write. Every
        manifest in ``batch.entries`` was written whole after its content, so the tags of a
        copy that failed later are still published."""
        if not batch.entries and not batch.written:
            return
        if self._fsync and batch.written:
            sync_filesystem(root)
        if not batch.entries:
            return
        with self._index_lock(root):
            _, obj = self._read_index(root)
            changed = [self._index_entry(obj, ref, m) for ref, m in batch.entries]
            if any(changed):
                self._write_index(root, obj)

    @contextlib.contextmanager
    def _index_lock(self, root: Path) -> Iterator[None]:
        key = str(root.resolve())
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            fd = os.open(root, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _ensure_layout(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "oci-layout").exists():
            write_atomic(root / "oci-layout", LAYOUT_FILE, fsync=self._fsync)
        if not (root / "index.json").exists():
            empty = Index.build([])
            write_atomic(root / "index.json", empty.raw, fsync=self._fsync)

    def _check_layout(self, root: Path) -> None:
        if not (root / "oci-layout").is_file() or not (root / "index.json").is_file():
            raise NotFound(f"{root} is not an OCI layout (no oci-layout or index.json)")

    def _read_index(self, root: Path) -> tuple[Index, dict[str, Any]]:
        self._check_layout(root)
        return self._parse_index(root)

    @staticmethod
    def _parse_index(root: Path) -> tuple[Index, dict[str, Any]]:
        with open(root / "index.json", "rb") as f:
            raw = f.read(MAX_INDEX_JSON_SIZE + 1)  # never more than the limit into memory
        try:
            index = parse_manifest(raw, mt.OCI_INDEX, max_size=MAX_INDEX_JSON_SIZE)
        except InvalidManifest as exc:
            raise InvalidManifest(f"{root}/index.json: {exc}") from None
        if not isinstance(index, Index):
            raise InvalidManifest(f"{root}/index.json is not an image index")
        return index, index.json()

    @staticmethod
    def _index_bytes(root: Path, obj: dict[str, Any]) -> bytes:
        """``obj`` serialised as index.json; InvalidManifest past :data:`MAX_INDEX_JSON_SIZE`."""
        data = json.dumps(obj, separators=(",", ":")).encode()
        if len(data) > MAX_INDEX_JSON_SIZE:
            raise InvalidManifest(
                f"{root}/index.json would grow to {len(data)} bytes, over its "
                f"{MAX_INDEX_JSON_SIZE >> 20} MiB limit; nothing was written"
            )
        return data

    def _write_index(self, root: Path, obj: dict[str, Any]) -> None:
        data = self._index_bytes(root, obj)
        parse_manifest(data, mt.OCI_INDEX, max_size=MAX_INDEX_JSON_SIZE)
        write_atomic(root / "index.json", data, fsync=self._fsync)

    def _blob_path(self, root: Path, digest: Digest) -> Path:
        return root / "blobs" / digest.algorithm / digest.hex

    def _resolve(self, ref: ImageRef) -> Descriptor:
        root = _layout_path(ref)
        index, _ = self._read_index(root)
        if ref.digest is not None:
            for desc in index.manifests:
                if desc.digest == ref.digest:
                    return desc
            path = self._blob_path(root, ref.digest)
            if not path.is_file():
                raise ManifestNotFound(f"manifest {ref.digest} not found in {root}")
            media_type = parse_manifest(path.read_bytes()).media_type
            return Descriptor(media_type, ref.digest, path.stat().st_size)
        tag = ref.tag
        if tag is None:
            if len(index.manifests) == 1:
                return index.manifests[0]
            tag = "latest"
        for desc in reversed(index.manifests):
            if desc.ref_name == tag:
                return desc
        tags = sorted({d.ref_name for d in index.manifests if d.ref_name})
        listed = ", ".join(tags) if tags else "none"
        raise ManifestNotFound(f"tag {tag!r} not found in {root} (tags: {listed})")

    # -- manifests -------------------------------------------------------------------------

    def manifest_head(self, ref: ImageRef) -> Descriptor:
        desc = self._resolve(ref)
        return Descriptor(desc.media_type, desc.digest, desc.size)

    def manifest_get(self, ref: ImageRef) -> Manifest:
        desc = self._resolve(ref)
        root = _layout_path(ref)
        path = self._blob_path(root, desc.digest)
        if not path.is_file():
            raise ManifestNotFound(f"manifest {desc.digest} is listed but missing in {root}")
        with open(path, "rb") as f:
            raw = VerifyingReader(f, desc.digest, desc.size).read()
        return parse_manifest(raw, desc.media_type)

    def manifest_put(self, ref: ImageRef, manifest: Manifest) -> Descriptor:
        root = _layout_path(ref)
        if ref.digest is not None and ref.digest != manifest.digest:
            raise DigestMismatch(
                f"manifest digest {manifest.digest} differs from {ref.digest}",
                expected=str(ref.digest),
                actual=str(manifest.digest),
            )
        self._ensure_layout(root)
        # Refuse a broken layout, or an index.json that would cross its limit, before writing.
        self.manifest_put_check(ref, manifest)
        self.blob_put(ref, manifest.raw, digest=manifest.digest, size=len(manifest.raw))
        desc = manifest.descriptor()
        batch = self._batch(root)
        if batch is not None:
            with self._locks_guard:
                batch.entries.append((ref, manifest))
            return desc
        with self._index_lock(root):
            _, obj = self._read_index(root)
            if self._index_entry(obj, ref, manifest):
                self._write_index(root, obj)
        return desc

    def manifest_put_check(self, ref: ImageRef, manifest: Manifest) -> None:
        """Raise now what :meth:`manifest_put` of ``manifest`` at ``ref`` would raise about the
        layout: a broken index.json, or one the new entry would grow past its limit. A copy
        asks before its first blob, so a refused copy writes nothing."""
        root = _layout_path(ref)
        if not (root / "index.json").is_file():
            return  # a new layout: its index starts empty
        _, obj = self._parse_index(root)
        if self._index_entry(obj, ref, manifest):
            self._index_bytes(root, obj)

    def _index_entry(self, obj: dict[str, Any], ref: ImageRef, manifest: Manifest) -> bool:
        """Add ``manifest``'s entry for ``ref`` to the index ``obj``; whether it changed."""
        desc = manifest.descriptor()
        subject = manifest.subject if isinstance(manifest, ImageManifest | Index) else None
        entries: list[dict[str, Any]] = obj.get("manifests", [])
        if ref.tag is not None:
            entries = self._untag(entries, ref.tag)
            entry = desc.to_dict()
            entry["annotations"] = {ANNOTATION_REF_NAME: ref.tag}
            entries.append(entry)
        elif subject is not None and not any(e.get("digest") == str(desc.digest) for e in entries):
            # An untagged referrer stays reachable so gc keeps it and referrers finds it.
            entries.append(desc.to_dict())
        else:
            return False
        obj["manifests"] = entries
        return True

    @staticmethod
    def _untag(entries: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
        kept = []
        for entry in entries:
            annotations = entry.get("annotations") or {}
            if annotations.get(ANNOTATION_REF_NAME) == tag:
                continue
            kept.append(entry)
        return kept

    def manifest_delete(self, ref: ImageRef) -> None:
        if ref.digest is None:
            raise Unsupported("delete a manifest by digest; use tag delete for a tag")
        root = _layout_path(ref)
        with self._index_lock(root):
            _, obj = self._read_index(root)
            entries = obj.get("manifests", [])
            kept = [e for e in entries if e.get("digest") != str(ref.digest)]
            path = self._blob_path(root, ref.digest)
            if len(kept) == len(entries) and not path.exists():
                raise ManifestNotFound(f"manifest {ref.digest} not found in {root}")
            obj["manifests"] = kept
            self._write_index(root, obj)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # -- blobs -----------------------------------------------------------------------------

    def blob_head(self, ref: ImageRef, digest: Digest) -> Descriptor:
        path = self._blob_path(_layout_path(ref), digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} not found in {_layout_path(ref)}") from None
        return Descriptor("application/octet-stream", digest, size)

    def blob_get(self, ref: ImageRef, digest: Digest, size: int | None = None) -> VerifyingReader:
        path = self._blob_path(_layout_path(ref), digest)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by the returned reader
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} not found in {_layout_path(ref)}") from None
        return VerifyingReader(FileReader(f, size), digest, size)

    def blob_put(
        self,
        ref: ImageRef,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        root = _layout_path(ref)
        self._ensure_layout(root)
        if digest is not None:
            target = self._blob_path(root, digest)
            if target.is_file() and (size is None or target.stat().st_size == size):
                return Descriptor(media_type, digest, target.stat().st_size)
        # A reader that checks this digest and size itself (a copy's source) is not hashed again.
        body = VerifiedContent(content, digest, size)
        folder = root / "blobs" / body.algorithm
        folder.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(folder)
        batch = self._batch(root)
        each = self._fsync and batch is None  # in a batch, one sync at its end does it all
        try:
            with open(tmp, "wb") as f:
                # In a batch the bytes start for the disk as they arrive, so the one sync at
                # the end has little left to wait for (measured: faster than either an fsync
                # per blob or a sync of everything at the end).
                early = batch is not None and self._fsync and _START_WRITEBACK is not None
                started = written = 0
                for chunk in body.chunks():
                    f.write(chunk)
                    written += len(chunk)
                    if early and written - started >= _WRITEBACK_STEP:
                        f.flush()
                        _start_writeback(f.fileno(), started, written - started)
                        started = written
                if early and written > started:
                    f.flush()
                    _start_writeback(f.fileno(), started, written - started)
                if each:
                    f.flush()
                    os.fsync(f.fileno())
            actual = body.finish()
            os.replace(tmp, self._blob_path(root, actual))
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if each:
            fsync_dir(folder)
        elif batch is not None:
            batch.written = True
        return Descriptor(media_type, actual, body.count)

    def blob_delete(self, ref: ImageRef, digest: Digest) -> None:
        path = self._blob_path(_layout_path(ref), digest)
        try:
            path.unlink()
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} not found in {_layout_path(ref)}") from None

    # -- tags and referrers ----------------------------------------------------------------

    def tag_list(self, ref: ImageRef) -> list[str]:
        index, _ = self._read_index(_layout_path(ref))
        return sorted({d.ref_name for d in index.manifests if d.ref_name})

    def tag_delete(self, ref: ImageRef) -> None:
        if ref.tag is None:
            raise Unsupported("no tag given to delete")
        root = _layout_path(ref)
        with self._index_lock(root):
            _, obj = self._read_index(root)
            entries = obj.get("manifests", [])
            kept = self._untag(entries, ref.tag)
            if len(kept) == len(entries):
                raise ManifestNotFound(f"tag {ref.tag!r} not found in {root}")
            obj["manifests"] = kept
            self._write_index(root, obj)

    def referrers_list(
        self, ref: ImageRef, *, artifact_type: str | None = None
    ) -> list[Descriptor]:
        if ref.digest is None:
            raise Unsupported("referrers need a digest; resolve the tag first")
        root = _layout_path(ref)
        index, _ = self._read_index(root)
        out = []
        for desc in index.manifests:
            path = self._blob_path(root, desc.digest)
            if not mt.is_manifest(desc.media_type) or not path.is_file():
                continue
            manifest = parse_manifest(path.read_bytes(), desc.media_type)
            if not isinstance(manifest, ImageManifest | Index):
                continue
            if manifest.subject is None or manifest.subject.digest != ref.digest:
                continue
            desc = referrer_descriptor(manifest)
            if artifact_type and desc.artifact_type != artifact_type:
                continue
            out.append(desc)
        return sorted(set(out), key=lambda d: str(d.digest))

    # -- garbage collection ----------------------------------------------------------------

    def gc(self, ref: ImageRef, *, dry_run: bool = False) -> list[Digest]:
        root = _layout_path(ref)
        with self._index_lock(root):
            index, _ = self._read_index(root)
            keep: set[Digest] = set()
            todo = list(index.manifests)
            while todo:
                desc = todo.pop()
                if desc.digest in keep:
                    continue
                keep.add(desc.digest)
                path = self._blob_path(root, desc.digest)
                if mt.is_manifest(desc.media_type) and path.is_file():
                    child = parse_manifest(path.read_bytes(), desc.media_type)
                    if not mt.is_schema1(child.media_type):
                        todo.extend(child.referenced())
            removed: list[Digest] = []
            blobs = root / "blobs"
            for folder in sorted(blobs.iterdir()) if blobs.is_dir() else []:
                for path in sorted(folder.iterdir()):
                    if path.name.startswith(TMP_PREFIX):
                        # A write in progress elsewhere owns a recent temporary file.
                        if not dry_run and time.time() - path.stat().st_mtime > self._gc_grace:
                            path.unlink(missing_ok=True)
                        continue
                    try:
                        digest = Digest(folder.name, path.name)
                    except ValueError:
                        continue
                    if digest not in keep:
                        removed.append(digest)
                        if not dry_run:
                            path.unlink()
            return removed

    def close(self) -> None:
        """Nothing to release: files are opened per call."""
