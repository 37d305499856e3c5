"""Filesystem storage of the embedded registry: content-addressed, shared, linked per repository.

Layout under the root directory::

    blobs/<alg>/<hex>                                   content, shared by every repository
    repositories/<name>/_layers/<alg>/<hex>             link: blob readable in <name>
    repositories/<name>/_manifests/revisions/<alg>/<hex>  link: manifest in <name> (JSON:
                                                        mediaType, size, subject)
    repositories/<name>/_manifests/tags/<tag>           the digest the tag points to
    repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  referrers index of a subject:
                                                        one descriptor (JSON) per referrer
    _uploads/<uuid>/{data,state.json}                   upload sessions (see uploads.py)
    _verified/<alg>/<hex>                               when blobs/<alg>/<hex> was last
                                                        verified: ``inode size mtime ctime``

A blob is served from a repository only when that repository links it, so content pushed to
one repository is not readable from another until pushed or mounted there. Every file is
written to a temporary name in its final directory, fsynced and renamed into place, so a
reader sees either nothing or the whole file; temporary names start with ``.`` and are never
looked up (digests, tags and repository path components cannot start with ``.``).

Stored bytes never change: a verified upload is renamed into the blob store, never appended
to or rewritten in place. A stored blob is trusted while its file is the one that was last
verified (same inode, size, mtime and ctime, recorded under ``_verified/`` when it was stored
or hashed). Any other file under a digest's name (content from an older hoist, restored from a
backup, changed behind hoist's back) is hashed before it is served, mounted or counted as
"already stored", and removed if it does not match its name; a push of a blob whose stored
file is not trusted replaces that file with the verified upload. Manifests, small, are hashed
whenever they are read.

Repository names are checked against the distribution grammar before any path is built, so
no name reaches outside the root. Methods here block: the server calls them in threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hoist import fsutil
from hoist.errors import InvalidReference
from hoist.model.digest import ALGORITHMS, CHUNK, Digest, digest_of
from hoist.model.reference import _check_repository, _check_tag

__all__ = ["NAME_LIMIT", "ManifestInfo", "Storage", "check_name", "check_tag", "write_atomic"]

log = logging.getLogger(__name__)

NAME_LIMIT = 255
"""Longest repository name: the spec asks for fewer than 256 characters."""


def check_name(name: str) -> None:
    """Raise InvalidReference unless ``name`` is a valid repository name (spec grammar)."""
    if len(name) > NAME_LIMIT:
        raise InvalidReference(f"repository name is {len(name)} characters; at most 255")
    _check_repository(name)


def check_tag(tag: str) -> None:
    """Raise InvalidReference unless ``tag`` matches ``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}``."""
    _check_tag(tag)


def write_atomic(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`hoist.fsutil.write_atomic`), creating
    its directory first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.write_atomic(path, data, fsync=fsync)


def _remove(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def hash_file(path: str | os.PathLike[str], algorithm: str, size: int | None = None) -> str:
    """The hex digest of the first ``size`` bytes of ``path`` (all of it when None)."""
    h = hashlib.new(algorithm)
    remaining = size
    with open(path, "rb") as f:
        while remaining is None or remaining > 0:
            chunk = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                break
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return h.hexdigest()


Signature = tuple[int, int, int, int]
"""What identifies one version of a file: inode, size, mtime and ctime (ns)."""


def _signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


_LOCKS = 64


def _digests_in(directory: Path) -> Iterator[Digest]:
    """Digests of ``directory/<alg>/<hex>`` entries (temporary names skipped)."""
    for alg in ALGORITHMS:
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(directory / alg):
                if not entry.name.startswith("."):
                    with contextlib.suppress(ValueError):
                        yield Digest(alg, entry.name)


def _mtimes(directory: Path) -> dict[Digest, float]:
    """The digests of ``directory/<alg>/<hex>`` entries with their mtimes."""
    found: dict[Digest, float] = {}
    for alg in ALGORITHMS:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(directory / alg):
                if not entry.name.startswith("."):
                    with contextlib.suppress(ValueError, FileNotFoundError):
                        found[Digest(alg, entry.name)] = entry.stat().st_mtime
    return found


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    """What a repository records about one of its manifests."""

    digest: Digest
    media_type: str
    size: int
    subject: Digest | None = None


class Storage:
    """The registry's files under ``root`` (created if missing)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root).absolute()
        self.fsync = fsync
        self.blobs_dir = self.root / "blobs"
        self.repos_dir = self.root / "repositories"
        self.uploads_dir = self.root / "_uploads"
        self.verified_dir = self.root / "_verified"
        for d in (self.blobs_dir, self.repos_dir, self.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._trusted: dict[Digest, Signature] = {}
        self._locks = [threading.Lock() for _ in range(_LOCKS)]

    def __repr__(self) -> str:
        return f"<Storage {self.root}>"

    # ------------------------------------------------------------------ paths

    def repo_dir(self, name: str) -> Path:
        """The directory of repository ``name`` (validated; raises InvalidReference)."""
        check_name(name)
        path = self.repos_dir.joinpath(*name.split("/"))
        if os.path.commonpath([path, self.repos_dir]) != str(self.repos_dir):
            raise InvalidReference(f"repository name {name!r} leaves the storage root")
        return path

    def blob_path(self, digest: Digest) -> Path:
        """Where the content of ``digest`` lives (whether or not it does)."""
        return self.blobs_dir / digest.algorithm / digest.hex

    def _layer_link(self, name: str, digest: Digest) -> Path:
        return self.repo_dir(name) / "_layers" / digest.algorithm / digest.hex

    def _revision(self, name: str, digest: Digest) -> Path:
        return self.repo_dir(name) / "_manifests" / "revisions" / digest.algorithm / digest.hex

    def _tags_dir(self, name: str) -> Path:
        return self.repo_dir(name) / "_manifests" / "tags"

    def _referrers_dir(self, name: str, subject: Digest) -> Path:
        return self.repo_dir(name) / "_referrers" / subject.algorithm / subject.hex

    def repo_exists(self, name: str) -> bool:
        """Whether anything was ever pushed to ``name``."""
        d = self.repo_dir(name)
        return (d / "_manifests").is_dir() or (d / "_layers").is_dir()

    # ------------------------------------------------------------------ blobs

    def blob_size(self, name: str, digest: Digest, *, verify: bool = False) -> int | None:
        """Size of ``digest`` if ``name`` links it and the content is present, else None.

        ``verify``: and the stored file matches ``digest`` (see :meth:`verify_blob`).
        """
        if not self._layer_link(name, digest).is_file():
            return None
        if verify and not self.verify_blob(digest):
            return None
        try:
            return self.blob_path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def _lock(self, digest: Digest) -> threading.Lock:
        """The lock serialising what changes or checks the stored file of ``digest``."""
        return self._locks[hash(digest) % _LOCKS]

    def _record(self, digest: Digest) -> Path:
        return self.verified_dir / digest.algorithm / digest.hex

    def _is_trusted(self, digest: Digest, st: os.stat_result) -> bool:
        """Whether ``st`` is the file that was last verified as ``digest``."""
        signature = _signature(st)
        if self._trusted.get(digest) == signature:
            return True
        try:
            recorded = tuple(int(x) for x in self._record(digest).read_text("ascii").split())
        except (FileNotFoundError, NotADirectoryError, ValueError, UnicodeDecodeError):
            return False
        if recorded != signature:
            return False
        self._trusted[digest] = signature
        return True

    def _trust(self, digest: Digest, st: os.stat_result) -> None:
        """Remember ``st`` as the verified file of ``digest`` (here and under _verified/).

        The record is not fsynced: lost, the file is hashed again; left over for another
        file, the signature differs and the file is hashed again.
        """
        signature = _signature(st)
        self._trusted[digest] = signature
        try:
            write_atomic(self._record(digest), " ".join(map(str, signature)).encode(), fsync=False)
        except OSError as exc:
            log.warning("cannot record %s as verified: %s", digest, exc)

    def _drop(self, digest: Digest) -> bool:
        """Remove the stored file of ``digest`` and its record (caller holds the lock)."""
        self._trusted.pop(digest, None)
        _remove(self._record(digest))
        return _remove(self.blob_path(digest))

    def verify_blob(self, digest: Digest) -> bool:
        """Whether the stored file of ``digest`` is present and matches it.

        A trusted file (the one last verified) costs a stat; any other is hashed once, and
        removed if it does not match its name, so that a push stores the right bytes again.
        """
        path = self.blob_path(digest)
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if self._is_trusted(digest, st):
            return True
        with self._lock(digest):
            try:
                f = open(path, "rb")  # noqa: SIM115 - closed below, before any removal
            except FileNotFoundError:
                return False
            with f:
                st = os.fstat(f.fileno())
                if self._is_trusted(digest, st):  # verified while this thread waited
                    return True
                h = hashlib.new(digest.algorithm)
                while chunk := f.read(CHUNK):
                    h.update(chunk)
            if h.hexdigest() == digest.hex:
                self._trust(digest, st)
                return True
            log.warning(
                "stored blob %s hashes to %s:%s (%d bytes): removed",
                digest,
                digest.algorithm,
                h.hexdigest(),
                st.st_size,
            )
            with contextlib.suppress(FileNotFoundError):
                if _signature(path.stat()) == _signature(st):
                    self._drop(digest)
            return False

    def ingest(self, source: Path, digest: Digest) -> None:
        """Move the verified file ``source`` into the blob store as ``digest``.

        ``source`` is renamed into place, never copied or appended to. When a trusted file is
        already stored (a concurrent push of the same blob) ``source`` is dropped; a stored
        file that is not trusted (see :meth:`verify_blob`) is replaced by ``source``.
        """
        dest = self.blob_path(digest)
        with self._lock(digest):
            try:
                st: os.stat_result | None = dest.stat()
            except FileNotFoundError:
                st = None
            if st is not None and self._is_trusted(digest, st):
                _remove(source)
                return
            dest.parent.mkdir(parents=True, exist_ok=True)
            if self.fsync:
                fd = os.open(source, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(source, dest)
            if self.fsync:
                fsutil.fsync_dir(dest.parent)
            self._trust(digest, dest.stat())
            if st is not None:
                log.info("stored blob %s, never verified here, replaced by a verified push", digest)

    def write_blob(self, digest: Digest, data: bytes) -> None:
        """Store small verified content (manifests) as ``digest``, replacing other bytes."""
        dest = self.blob_path(digest)
        with self._lock(digest):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                if dest.read_bytes() == data:
                    return
            write_atomic(dest, data, fsync=self.fsync)

    def link_blob(self, name: str, digest: Digest) -> None:
        """Make ``digest`` readable in ``name`` (the content must be stored).

        An existing link is touched: gc spares links younger than its grace period, and a
        push that finds its blob already linked relies on the link as much as a new one.
        """
        link = self._layer_link(name, digest)
        if link.is_file():
            with contextlib.suppress(FileNotFoundError):
                os.utime(link)
            return
        write_atomic(link, str(digest).encode(), fsync=self.fsync)

    def unlink_blob(self, name: str, digest: Digest) -> bool:
        """Make ``digest`` unreadable in ``name``; the content stays until gc."""
        return _remove(self._layer_link(name, digest))

    def mount_blob(self, name: str, source: str, digest: Digest) -> bool:
        """Link ``digest`` into ``name`` if ``source`` links it (verified); whether it did."""
        if self.blob_size(source, digest, verify=True) is None:
            return False
        self.link_blob(name, digest)
        return True

    def layer_links(self, name: str) -> list[Digest]:
        """Every blob ``name`` links."""
        return list(_digests_in(self.repo_dir(name) / "_layers"))

    def layer_link_times(self, name: str) -> dict[Digest, float]:
        """Every blob ``name`` links, with when it was last linked (the link's mtime)."""
        return _mtimes(self.repo_dir(name) / "_layers")

    def all_blobs(self) -> list[Digest]:
        """Every digest in the blob store."""
        return list(_digests_in(self.blobs_dir))

    def blob_time(self, digest: Digest) -> float | None:
        """When the stored file of ``digest`` was written (mtime), None if absent."""
        try:
            return self.blob_path(digest).stat().st_mtime
        except FileNotFoundError:
            return None

    def remove_blob(self, digest: Digest) -> bool:
        """Delete stored content and its verification record (gc only)."""
        with self._lock(digest):
            return self._drop(digest)

    # ------------------------------------------------------------------ manifests

    def put_manifest(
        self,
        name: str,
        raw: bytes,
        info: ManifestInfo,
        *,
        tag: str | None = None,
        referrer: dict[str, Any] | None = None,
    ) -> None:
        """Store a verified manifest, link it, record it as a referrer, then tag it.

        The order makes every intermediate state valid: content before link before tag.
        """
        self.write_blob(info.digest, raw)
        record: dict[str, Any] = {"mediaType": info.media_type, "size": info.size}
        if info.subject is not None:
            record["subject"] = str(info.subject)
        write_atomic(
            self._revision(name, info.digest),
            json.dumps(record, separators=(",", ":")).encode(),
            fsync=self.fsync,
        )
        if info.subject is not None and referrer is not None:
            entry = self._referrers_dir(name, info.subject) / (
                f"{info.digest.algorithm}-{info.digest.hex}"
            )
            write_atomic(entry, json.dumps(referrer).encode(), fsync=self.fsync)
        if tag is not None:
            check_tag(tag)
            write_atomic(self._tags_dir(name) / tag, str(info.digest).encode(), fsync=self.fsync)

    def resolve(self, name: str, reference: str) -> Digest | None:
        """The digest a tag points to, or the digest ``reference`` spells; None if no tag."""
        if ":" in reference:
            return Digest.parse(reference)
        check_tag(reference)
        try:
            return Digest.parse(
                (self._tags_dir(name) / reference).read_text(encoding="ascii").strip()
            )
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None

    def manifest_info(self, name: str, digest: Digest) -> ManifestInfo | None:
        """What ``name`` records about manifest ``digest``, if it has it."""
        try:
            record = json.loads(self._revision(name, digest).read_bytes())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None
        if not self.blob_path(digest).is_file():
            return None
        subject = record.get("subject")
        return ManifestInfo(
            digest,
            str(record["mediaType"]),
            int(record["size"]),
            Digest.parse(subject) if subject else None,
        )

    def read_manifest(self, name: str, digest: Digest) -> tuple[bytes, ManifestInfo] | None:
        """The bytes and record of manifest ``digest`` in ``name``, if present and matching
        ``digest`` (stored bytes that do not are never served; a push replaces them)."""
        info = self.manifest_info(name, digest)
        if info is None:
            return None
        try:
            raw = self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            return None
        if digest_of(raw, digest.algorithm) != digest:
            log.warning("stored manifest %s does not match its digest: not served", digest)
            return None
        return raw, info

    def revisions(self, name: str) -> list[Digest]:
        """Every manifest ``name`` links."""
        return list(_digests_in(self.repo_dir(name) / "_manifests" / "revisions"))

    def revision_times(self, name: str) -> dict[Digest, float]:
        """Every manifest ``name`` links, with when it was last pushed (the link's mtime)."""
        return _mtimes(self.repo_dir(name) / "_manifests" / "revisions")

    def delete_manifest(self, name: str, digest: Digest) -> bool:
        """Unlink manifest ``digest`` from ``name`` with its tags and its referrer entry."""
        revision = self._revision(name, digest)
        try:
            record = json.loads(revision.read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return False
        except ValueError:
            record = {}
        for tag, target in self.tag_map(name).items():
            if target == digest:
                _remove(self._tags_dir(name) / tag)
        subject = record.get("subject")
        if subject:
            with contextlib.suppress(ValueError):
                self.remove_referrer(name, Digest.parse(subject), digest)
        return _remove(revision)

    # ------------------------------------------------------------------ tags

    def delete_tag(self, name: str, tag: str) -> bool:
        """Remove a tag (the manifest stays)."""
        check_tag(tag)
        return _remove(self._tags_dir(name) / tag)

    def tag_map(self, name: str) -> dict[str, Digest]:
        """Every tag of ``name`` and the digest it points to."""
        tags: dict[str, Digest] = {}
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self._tags_dir(name)):
                if entry.name.startswith("."):
                    continue
                with (
                    contextlib.suppress(FileNotFoundError, ValueError),
                    open(entry.path, encoding="ascii") as f,
                ):
                    tags[entry.name] = Digest.parse(f.read().strip())
        return tags

    def tags(self, name: str) -> list[str] | None:
        """Sorted tags of ``name``; None if the repository does not exist."""
        if not self.repo_exists(name):
            return None
        return sorted(self.tag_map(name))

    # ------------------------------------------------------------------ referrers

    def referrers(self, name: str, subject: Digest) -> list[dict[str, Any]]:
        """Descriptors of the manifests in ``name`` whose subject is ``subject``."""
        directory = self._referrers_dir(name, subject)
        found: list[dict[str, Any]] = []
        try:
            entries = sorted(e.name for e in os.scandir(directory) if not e.name.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return found
        for entry in entries:
            try:
                descriptor = json.loads((directory / entry).read_bytes())
            except (FileNotFoundError, ValueError):
                continue
            alg, _, hexpart = entry.partition("-")
            with contextlib.suppress(ValueError):
                if self.manifest_info(name, Digest(alg, hexpart)) is not None:
                    found.append(descriptor)
        return found

    def remove_referrer(self, name: str, subject: Digest, digest: Digest) -> None:
        """Drop one entry of a referrers index (gc)."""
        _remove(self._referrers_dir(name, subject) / f"{digest.algorithm}-{digest.hex}")

    # ------------------------------------------------------------------ for the web view

    def tag_records(self, name: str) -> dict[str, tuple[Digest, float]]:
        """Every tag of ``name`` with its digest and when it was last set (its file's mtime)."""
        records: dict[str, tuple[Digest, float]] = {}
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(self._tags_dir(name)):
                if entry.name.startswith("."):
                    continue
                with contextlib.suppress(FileNotFoundError, ValueError):
                    with open(entry.path, encoding="ascii") as f:
                        digest = Digest.parse(f.read().strip())
                    records[entry.name] = (digest, entry.stat().st_mtime)
        return records

    def tag_times(self, name: str) -> dict[str, float]:
        """Every tag of ``name`` and when it was last set, without reading the tag files."""
        times: dict[str, float] = {}
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(self._tags_dir(name)):
                if not entry.name.startswith("."):
                    with contextlib.suppress(FileNotFoundError):
                        times[entry.name] = entry.stat().st_mtime
        return times

    def usage(self, name: str) -> tuple[int, int, int]:
        """``(manifests, blobs, bytes)`` of ``name``: the manifests and blobs it links and
        their stored size, each counted once however many images use it."""
        d = self.repo_dir(name)
        seen: dict[str, int] = {}
        counts = []
        for links in (d / "_manifests" / "revisions", d / "_layers"):
            count = 0
            for alg in ALGORITHMS:
                store = os.path.join(self.blobs_dir, alg)
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    for entry in os.scandir(links / alg):
                        if entry.name.startswith("."):
                            continue
                        count += 1
                        key = f"{alg}:{entry.name}"
                        if key not in seen:
                            try:
                                seen[key] = os.stat(os.path.join(store, entry.name)).st_size
                            except OSError:
                                seen[key] = 0
            counts.append(count)
        return counts[0], counts[1], sum(seen.values())

    def stamp(self, name: str) -> tuple[int, ...]:
        """The mtimes (ns) of the directories every push or delete in ``name`` changes (tags,
        manifest revisions, blob links): unchanged stamps mean unchanged content to cache."""
        d = self.repo_dir(name)
        dirs = [d / "_manifests" / "tags"]
        for alg in ALGORITHMS:
            dirs += [d / "_manifests" / "revisions" / alg, d / "_layers" / alg]
        stamps: list[int] = []
        for path in dirs:
            try:
                stamps.append(path.stat().st_mtime_ns)
            except (FileNotFoundError, NotADirectoryError):
                stamps.append(0)
        return tuple(stamps)

    def referrer_subjects(self, name: str) -> list[Digest]:
        """The subjects ``name`` holds a referrers index for (some may be empty)."""
        return list(_digests_in(self.repo_dir(name) / "_referrers"))

    # ------------------------------------------------------------------ catalog

    def repositories(self) -> list[str]:
        """Every repository name, sorted."""
        names: list[str] = []
        for dirpath, dirnames, _ in os.walk(self.repos_dir):
            if "_manifests" in dirnames or "_layers" in dirnames:
                names.append(Path(dirpath).relative_to(self.repos_dir).as_posix())
            dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
        return sorted(names)
