"""Blob upload sessions: resumable, hashed as the bytes arrive, never visible half-written.

A session is a directory ``_uploads/<uuid>`` holding ``data`` (the bytes received so far) and
``state.json`` (repository, offset, timestamps, and which algorithm the running hash uses and
how many bytes it covers). Python cannot serialise a hashlib object, so the running hash lives
in memory; after a restart, or when the client closes with another algorithm (a sha512 digest
for a session hashed as sha256), the data file is hashed again, in a thread, at close.

Bytes are read from the network on the event loop while a worker thread writes and hashes the
previous megabyte, so large bodies neither block the loop nor wait on the disk serially; an
empty chunk from the body (the client paused) writes what was gathered, so a stalled client
holds no body bytes in memory. On close the data file is verified, the session is recorded as
closed (``"state": "committing"`` in ``state.json``: no later reload reopens it, in this
process, after a restart, or in another server on the same root), and the data file is
fsynced and renamed into the blob store (see :meth:`Storage.ingest`), so a blob is either
absent or complete and its bytes never change after verification. A closed session stays
known, and closed, until its directory is gone, so a request racing the close never reloads
it. (Nothing locks a data file across processes: two servers on one root must not both take
requests for one session while it closes.) Sessions idle for longer than the time-out are
purged. This module does not import aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoist.errors import DigestMismatch
from hoist.model.digest import CHUNK, Digest
from hoist.server.storage import Storage, hash_file, write_atomic

__all__ = [
    "DEFAULT_MAX_SESSIONS",
    "DEFAULT_TTL",
    "RangeMismatch",
    "SizeMismatch",
    "TooManySessions",
    "Upload",
    "UploadNotFound",
    "Uploads",
    "purge_directory",
]

log = logging.getLogger(__name__)

DEFAULT_TTL = 24 * 3600.0
"""Idle upload sessions are purged after this many seconds."""

DEFAULT_MAX_SESSIONS = 10_000
"""Upload sessions open at once (started, not yet closed, cancelled or purged)."""

FLUSH = CHUNK
"""Bytes gathered from the network before a worker thread writes and hashes them."""

_ID = re.compile(r"[0-9a-f]{32}")


class UploadNotFound(Exception):
    """No such session in that repository (or it was closed or purged)."""


class TooManySessions(Exception):
    """Every session slot is taken by open sessions that are not idle long enough to purge."""


class RangeMismatch(Exception):
    """A chunk that does not start where the session ends."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"upload is at offset {offset}")
        self.offset = offset


class SizeMismatch(Exception):
    """A chunk whose length differs from the range it declared."""


@dataclass(eq=False)
class Upload:
    """One session; hold ``lock`` while appending or closing."""

    id: str
    repository: str
    directory: Path
    offset: int
    started: float
    updated: float
    hasher: Any = None
    hash_offset: int = 0
    closed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def state(self) -> dict[str, Any]:
        """What ``state.json`` records."""
        return {
            "id": self.id,
            "state": "committing" if self.closed else "open",
            "repository": self.repository,
            "offset": self.offset,
            "started": self.started,
            "updated": self.updated,
            "hash": {
                "algorithm": self.hasher.name if self.hasher is not None else None,
                "offset": self.hash_offset if self.hasher is not None else 0,
            },
        }


def purge_directory(
    uploads_dir: Path,
    max_age: float,
    keep: frozenset[str] = frozenset(),
    *,
    remove: bool = True,
) -> list[str]:
    """Remove sessions under ``uploads_dir`` idle for over ``max_age`` seconds; their ids.

    ``keep`` names sessions in use; ``remove=False`` only lists what would go.
    """
    now = time.time()
    removed: list[str] = []
    try:
        entries = list(os.scandir(uploads_dir))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name in keep or not entry.is_dir():
            continue
        try:
            newest = max(
                (os.stat(p).st_mtime for p in (entry.path, *_files(entry.path))), default=0.0
            )
        except FileNotFoundError:
            continue
        if now - newest > max_age:
            if remove:
                shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _files(directory: str) -> list[str]:
    return [e.path for e in os.scandir(directory)]


class Uploads:
    """Every upload session of one storage root."""

    def __init__(
        self,
        storage: Storage,
        *,
        ttl: float = DEFAULT_TTL,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        self.storage = storage
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._sessions: dict[str, Upload] = {}

    # ------------------------------------------------------------------ lifecycle

    @property
    def open(self) -> int:
        """Sessions of this process that are open now."""
        return sum(1 for u in self._sessions.values() if not u.closed)

    async def create(self, repository: str, algorithm: str = "sha256") -> Upload:
        """A new, empty session in ``repository`` hashing with ``algorithm``.

        With ``max_sessions`` open already, idle ones are purged first; raises
        TooManySessions when none is idle long enough (a flood of POSTs that never send a
        body cannot fill the disk with sessions).
        """
        if self.open >= self.max_sessions:
            await self.purge()
            if self.open >= self.max_sessions:
                raise TooManySessions(self.max_sessions)
        upload = await asyncio.to_thread(self._create, repository, algorithm)
        self._sessions[upload.id] = upload
        log.debug("upload %s started in %s", upload.id, repository)
        return upload

    def _create(self, repository: str, algorithm: str) -> Upload:
        self.storage.repo_dir(repository)  # validates the name
        upload_id = uuid.uuid4().hex
        directory = self.storage.uploads_dir / upload_id
        directory.mkdir(parents=True)
        (directory / "data").touch()
        now = time.time()
        upload = Upload(upload_id, repository, directory, 0, now, now, hashlib.new(algorithm))
        self._save(upload)
        return upload

    async def get(self, repository: str, upload_id: str) -> Upload:
        """The open session ``upload_id`` of ``repository``; raises UploadNotFound.

        A session closed in this process is kept (closed) until its directory is gone, so a
        request racing its close never reloads it from disk; one closed elsewhere is recorded
        as such in ``state.json``.
        """
        if not _ID.fullmatch(upload_id):
            raise UploadNotFound(upload_id)
        upload = self._sessions.get(upload_id)
        if upload is None:
            loaded = await asyncio.to_thread(self._load, upload_id)
            if loaded is None:
                raise UploadNotFound(upload_id)
            upload = self._sessions.setdefault(upload_id, loaded)
        if upload.closed or upload.repository != repository:
            raise UploadNotFound(upload_id)
        return upload

    def _load(self, upload_id: str) -> Upload | None:
        directory = self.storage.uploads_dir / upload_id
        try:
            state = json.loads((directory / "state.json").read_bytes())
            size = (directory / "data").stat().st_size
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("state", "open") != "open":
            return None  # closed (being committed, or a commit cut short): never reopened
        offset = min(int(state.get("offset", 0)), size)
        if size > offset:
            os.truncate(directory / "data", offset)
        log.debug("upload %s reloaded at offset %d", upload_id, offset)
        return Upload(
            upload_id,
            str(state["repository"]),
            directory,
            offset,
            float(state.get("started", 0.0)),
            float(state.get("updated", 0.0)),
        )

    def _save(self, upload: Upload) -> None:
        upload.updated = time.time()
        data = json.dumps(upload.state(), separators=(",", ":")).encode()
        write_atomic(upload.directory / "state.json", data, fsync=self.storage.fsync)

    async def cancel(self, upload: Upload) -> None:
        """Close the session and delete what it received."""
        upload.closed = True
        try:
            await asyncio.to_thread(shutil.rmtree, upload.directory, True)
        finally:
            self._forget(upload)

    def _forget(self, upload: Upload) -> None:
        """Drop a closed session whose directory is gone."""
        if self._sessions.get(upload.id) is upload:
            del self._sessions[upload.id]

    async def purge(self) -> list[str]:
        """Remove sessions idle for longer than the time-out (none that is in use)."""
        busy = frozenset(u.id for u in self._sessions.values() if u.lock.locked())
        removed = await asyncio.to_thread(purge_directory, self.storage.uploads_dir, self.ttl, busy)
        for upload_id in removed:
            upload = self._sessions.pop(upload_id, None)
            if upload is not None:
                upload.closed = True
        if removed:
            log.info("purged %d idle upload session(s)", len(removed))
        return removed

    # ------------------------------------------------------------------ data

    def use_algorithm(self, upload: Upload, algorithm: str) -> None:
        """Hash an empty session with ``algorithm`` (the digest of a monolithic PUT)."""
        if upload.offset == 0 and (upload.hasher is None or upload.hasher.name != algorithm):
            upload.hasher = hashlib.new(algorithm)
            upload.hash_offset = 0

    async def append(
        self,
        upload: Upload,
        chunks: AsyncIterable[bytes],
        *,
        start: int | None = None,
        length: int | None = None,
    ) -> int:
        """Append a body to the session (caller holds ``upload.lock``); bytes appended.

        ``start`` and ``length`` come from a ``Content-Range``: RangeMismatch if the chunk
        does not start at the session's offset, SizeMismatch (and nothing kept) if a body
        that arrived whole is not ``length`` bytes. What arrived of a body cut short by a
        broken connection is kept, so the client can ask for the offset and resume.
        """
        if start is not None and start != upload.offset:
            raise RangeMismatch(upload.offset)
        begin = upload.offset
        saved = (
            upload.hasher.copy()
            if upload.hasher is not None and upload.hash_offset == upload.offset
            else None
        )
        loop = asyncio.get_running_loop()
        f = await asyncio.to_thread(open, upload.data, "r+b")
        pending: asyncio.Future[None] | None = None
        ok = False
        try:
            f.seek(upload.offset)
            parts: list[bytes] = []
            gathered = 0
            async for chunk in chunks:
                parts.append(chunk)
                gathered += len(chunk)
                if gathered >= FLUSH or (not chunk and gathered):  # b"": the client paused
                    if pending is not None:
                        await pending
                    pending = loop.run_in_executor(None, self._consume, f, upload, parts)
                    parts, gathered = [], 0
            if pending is not None:
                await pending
                pending = None
            if parts:
                await loop.run_in_executor(None, self._consume, f, upload, parts)
            ok = True
        finally:
            if pending is not None:
                with contextlib.suppress(Exception):
                    await pending
            rollback = ok and length is not None and upload.offset - begin != length
            if rollback:
                upload.offset = begin
                upload.hasher = saved
                upload.hash_offset = begin if saved is not None else 0
            await asyncio.to_thread(self._close_file, f, upload)
        if rollback:
            raise SizeMismatch(f"chunk declared {length} bytes; got a different length")
        return upload.offset - begin

    @staticmethod
    def _consume(f: Any, upload: Upload, parts: list[bytes]) -> None:
        for part in parts:
            f.write(part)
        if upload.hasher is not None and upload.hash_offset == upload.offset:
            for part in parts:
                upload.hasher.update(part)
            upload.hash_offset += sum(map(len, parts))
        upload.offset += sum(map(len, parts))

    def _close_file(self, f: Any, upload: Upload) -> None:
        try:
            f.flush()
            f.truncate(upload.offset)  # drops a batch whose write failed part-way
            if self.storage.fsync:
                os.fsync(f.fileno())
        finally:
            f.close()
        self._save(upload)

    async def finish(self, upload: Upload, digest: Digest) -> int:
        """Verify the session against ``digest``, store and link the blob; its size.

        On a mismatch the session is cancelled and DigestMismatch raised.
        """
        hasher = upload.hasher
        if (
            hasher is not None
            and hasher.name == digest.algorithm
            and upload.hash_offset == upload.offset
        ):
            actual = hasher.hexdigest()
        else:
            actual = await asyncio.to_thread(
                hash_file, upload.data, digest.algorithm, upload.offset
            )
        if actual != digest.hex:
            await self.cancel(upload)
            raise DigestMismatch(
                f"upload hashes to {digest.algorithm}:{actual}, not {digest}",
                expected=str(digest),
                actual=f"{digest.algorithm}:{actual}",
            )
        size = upload.offset
        upload.closed = True
        try:
            await asyncio.to_thread(self._commit, upload, digest)
        finally:
            self._forget(upload)
        log.debug("upload %s closed as %s (%d bytes)", upload.id, digest, size)
        return size

    def _commit(self, upload: Upload, digest: Digest) -> None:
        try:
            self._save(upload)  # "committing": no reload reopens the session from now on
            self.storage.ingest(upload.data, digest)
            self.storage.link_blob(upload.repository, digest)
        finally:
            shutil.rmtree(upload.directory, ignore_errors=True)

    async def monolithic(
        self, repository: str, digest: Digest, chunks: AsyncIterable[bytes]
    ) -> int:
        """Receive a whole blob in one request (POST ``?digest=``); its size. Its session
        lasts as long as the request and takes no ``max_sessions`` slot (``max_uploads``
        bounds requests with a body)."""
        upload = await asyncio.to_thread(self._create, repository, digest.algorithm)
        self._sessions[upload.id] = upload
        async with upload.lock:
            try:
                await self.append(upload, chunks)
                return await self.finish(upload, digest)
            except BaseException:
                if not upload.closed:
                    await self.cancel(upload)
                raise
