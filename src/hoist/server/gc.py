"""Garbage collection of a registry root: drop what no tag reaches.

Per repository, a manifest is kept when a tag points to it, when a kept index lists it, or
when it is a referrer (has a ``subject``) of a kept manifest, recursively; a blob link is
kept when a kept manifest references it. Every other manifest and link is removed, then
every blob that no repository keeps, and upload sessions idle past the time-out.

A push in progress has blobs and child manifests that no tag reaches yet. So that gc can run
beside a serving registry, whatever was pushed, linked or mounted within the last ``grace``
seconds (default :data:`DEFAULT_GRACE`, one hour) is kept, with what it references, and the
blob links are listed again just before content is removed: a push that takes longer than
the grace period can still lose blobs (its manifest PUT then answers MANIFEST_BLOB_UNKNOWN
and the client pushes them again). ``grace=0`` removes everything unreachable at once (with
the server stopped). This module does not import aiohttp.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hoist.errors import InvalidManifest, NotFound, UnsupportedMediaType
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest, Index, parse_manifest
from hoist.server.storage import Storage
from hoist.server.uploads import DEFAULT_TTL, purge_directory

__all__ = ["DEFAULT_GRACE", "GcResult", "gc"]

log = logging.getLogger(__name__)

DEFAULT_GRACE = 3600.0
"""Seconds during which what was pushed stays, reachable or not (a push in progress)."""


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


def _reachable(
    storage: Storage, repo: str, young: Iterable[Digest] = ()
) -> tuple[set[Digest], set[Digest]]:
    """Manifests and blobs of ``repo`` that its tags, or the ``young`` manifests, reach
    (with referrers)."""
    revisions = set(storage.revisions(repo))
    manifests: set[Digest] = set()
    blobs: set[Digest] = set()
    queue = [d for d in storage.tag_map(repo).values() if d in revisions]
    queue += [d for d in young if d in revisions]
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


def gc(
    root: str | os.PathLike[str], dry_run: bool = False, *, grace: float = DEFAULT_GRACE
) -> GcResult:
    """Remove manifests, blob links and blobs that no tag reaches under ``root``, sparing
    what was pushed within the last ``grace`` seconds (see the module docstring)."""
    if isinstance(grace, bool) or not isinstance(grace, int | float):
        raise TypeError(f"grace must be a number of seconds, not {type(grace).__name__}")
    if math.isnan(grace) or grace < 0:
        raise ValueError(f"grace must be 0 or more seconds, not {grace}")
    if not (Path(root) / "repositories").is_dir():
        raise NotFound(f"{root}: not a hoist registry root (no repositories/ directory)")
    storage = Storage(root)
    result = GcResult(dry_run=dry_run)
    cutoff = time.time() - grace
    keep: set[Digest] = set()
    for repo in storage.repositories():
        young = {d for d, t in storage.revision_times(repo).items() if t > cutoff}
        links = storage.layer_link_times(repo)
        manifests, blobs = _reachable(storage, repo, young)
        blobs |= {d for d, t in links.items() if t > cutoff}
        keep |= manifests | blobs
        for digest in sorted(set(storage.revisions(repo)) - manifests):
            result.manifests.append((repo, digest))
            if not dry_run:
                storage.delete_manifest(repo, digest)
        for digest in sorted(set(links) - blobs):
            if digest in manifests:
                keep.add(digest)
                continue
            result.layers.append((repo, digest))
            if not dry_run:
                storage.unlink_blob(repo, digest)
    candidates = set(storage.all_blobs()) - keep
    if candidates and not dry_run:  # links made while gc ran keep their content
        for repo in storage.repositories():
            candidates -= set(storage.layer_links(repo))
    for digest in sorted(candidates):
        written = storage.blob_time(digest)
        if written is None or written > cutoff:
            continue  # gone already, or just stored (a push about to link it)
        with contextlib.suppress(FileNotFoundError):
            result.freed += storage.blob_path(digest).stat().st_size
        result.blobs.append(digest)
        if not dry_run:
            storage.remove_blob(digest)
    result.uploads = purge_directory(storage.uploads_dir, DEFAULT_TTL, remove=not dry_run)
    log.info("gc %s: %s", root, result.summary())
    return result
