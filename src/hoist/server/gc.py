"""Garbage collection of a registry root: drop what no tag reaches.

Per repository, a manifest is kept when a tag points to it, when a kept index lists it, or
when it is a referrer (has a ``subject``) of a kept manifest, recursively; a blob link is
kept when a kept manifest references it. Every other manifest and link is removed, then
every blob that no repository keeps, and upload sessions idle past the time-out.

Run it while the server is stopped or ``--read-only``: a push in progress has blobs that no
manifest references yet, and gc would take them. This module does not import aiohttp.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from hoist.errors import InvalidManifest, NotFound, UnsupportedMediaType
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest, Index, parse_manifest
from hoist.server.storage import Storage
from hoist.server.uploads import DEFAULT_TTL, purge_directory

__all__ = ["GcResult", "gc"]

log = logging.getLogger(__name__)


@dataclass
class GcResult:
    """What gc removed (or, in a dry run, would remove)."""

    dry_run: bool = False
    manifests: list[tuple[str, Digest]] = field(default_factory=list)
    """``(repository, digest)`` of manifests no tag reaches."""
    layers: list[tuple[str, Digest]] = field(default_factory=list)
    """``(repository, digest)`` of blob links no kept manifest references."""
    blobs: list[Digest] = field(default_factory=list)
    """Stored content no repository keeps."""
    uploads: list[str] = field(default_factory=list)
    """Idle upload sessions."""
    freed: int = 0
    """Bytes of the blobs removed."""

    def lines(self) -> list[str]:
        """One line per removal, for people."""
        verb = "would remove" if self.dry_run else "removed"
        out = [f"{verb} manifest {repo}@{d}" for repo, d in self.manifests]
        out += [f"{verb} blob link {repo}@{d}" for repo, d in self.layers]
        out += [f"{verb} blob {d}" for d in self.blobs]
        out += [f"{verb} upload session {u}" for u in self.uploads]
        return out

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (
            f"{len(self.manifests)} manifest(s), {len(self.layers)} blob link(s), "
            f"{len(self.blobs)} blob(s), {len(self.uploads)} upload session(s); "
            f"{verb} {self.freed} bytes"
        )


def _reachable(storage: Storage, repo: str) -> tuple[set[Digest], set[Digest]]:
    """Manifests and blobs of ``repo`` that its tags reach (with referrers)."""
    revisions = set(storage.revisions(repo))
    manifests: set[Digest] = set()
    blobs: set[Digest] = set()
    queue = [d for d in storage.tag_map(repo).values() if d in revisions]
    while queue:
        digest = queue.pop()
        if digest in manifests:
            continue
        manifests.add(digest)
        found = storage.read_manifest(repo, digest)
        if found is not None:
            raw, info = found
            try:
                manifest = parse_manifest(raw, info.media_type)
            except (InvalidManifest, UnsupportedMediaType) as exc:
                log.warning("%s@%s: cannot follow its references: %s", repo, digest, exc)
                manifest = None
            if isinstance(manifest, ImageManifest):
                blobs.update(d.digest for d in manifest.referenced())
            elif isinstance(manifest, Index):
                for child in manifest.manifests:
                    if child.digest in revisions:
                        queue.append(child.digest)
                    else:
                        blobs.add(child.digest)
        for referrer in storage.referrers(repo, digest):
            with contextlib.suppress(KeyError, ValueError):
                queue.append(Digest.parse(referrer["digest"]))
    return manifests, blobs


def gc(root: str | os.PathLike[str], dry_run: bool = False) -> GcResult:
    """Remove manifests, blob links and blobs that no tag reaches under ``root``."""
    if not (Path(root) / "repositories").is_dir():
        raise NotFound(f"{root}: not a hoist registry root (no repositories/ directory)")
    storage = Storage(root)
    result = GcResult(dry_run=dry_run)
    keep: set[Digest] = set()
    for repo in storage.repositories():
        manifests, blobs = _reachable(storage, repo)
        keep |= manifests | blobs
        for digest in sorted(set(storage.revisions(repo)) - manifests):
            result.manifests.append((repo, digest))
            if not dry_run:
                storage.delete_manifest(repo, digest)
        for digest in sorted(set(storage.layer_links(repo)) - blobs):
            if digest in manifests:
                keep.add(digest)
                continue
            result.layers.append((repo, digest))
            if not dry_run:
                storage.unlink_blob(repo, digest)
    for digest in sorted(set(storage.all_blobs()) - keep):
        with contextlib.suppress(FileNotFoundError):
            result.freed += storage.blob_path(digest).stat().st_size
        result.blobs.append(digest)
        if not dry_run:
            storage.remove_blob(digest)
    result.uploads = purge_directory(storage.uploads_dir, DEFAULT_TTL, remove=not dry_run)
    log.info("gc %s: %s", root, result.summary())
    return result
