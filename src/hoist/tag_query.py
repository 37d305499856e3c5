"""Questions about a repository's tags: in which order (by name, version or age), and which
tags point at a digest. Requests about many tags go out together, a few at a time::

    tags = client.tags("ghcr.io/org/app")
    tag_sort(tags, "semver")                       # 1.2.0-rc1, 1.2.0, 1.10.0, latest
    created = tags_created(client.at("ghcr.io/org/app"), tags)
    tag_sort(tags, "created", created=created)     # oldest first
    tags_at_digest(client.at("ghcr.io/org/app"), Digest.parse("sha256:..."))

Versions are read from tags as ``hoist sync`` reads them (:class:`hoist.sync.select.Version`:
an optional ``v``, one to three numbers, an optional ``-pre-release``). Tags that are no
version (``latest``), or whose time is unknown, follow the others by name whatever the
direction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from hoist.errors import HoistError, InvalidInput, NotFound
from hoist.model import mediatype as mt
from hoist.model.manifest import ImageManifest, Index
from hoist.parallel import parallel_map

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.digest import Digest

__all__ = ["SORTS", "WORKERS", "image_created", "tag_sort", "tags_at_digest", "tags_created"]

SORTS = ("name", "semver", "created")
WORKERS = 8
"""Requests in flight at once when asking about many tags."""

ANNOTATION_CREATED = "org.opencontainers.image.created"
MAX_CONFIG_SIZE = 8 * 1024 * 1024
"""A config read only for its time is refused past this."""


def tag_sort(
    tags: Iterable[str],
    by: str = "name",
    *,
    reverse: bool = False,
    created: Mapping[str, datetime | None] | None = None,
) -> list[str]:
    """``tags`` in order ``by`` ``name``, ``semver`` or ``created`` (``created`` maps each
    tag to its time: :func:`tags_created`), ascending unless ``reverse``; tags of the same
    time by name. Tags without a version or a time come last, by name."""
    tags = sorted(set(tags))
    if by == "name":
        return tags[::-1] if reverse else tags
    if by == "semver":
        from hoist.sync.select import Version

        versions = {t: v for t in tags if (v := Version.parse(t)) is not None}
        known = sorted(versions, key=lambda t: versions[t], reverse=reverse)
    elif by == "created":
        if created is None:
            raise InvalidInput("sorting by created time needs the tags' times (tags_created)")
        times = {t: when for t in tags if (when := created.get(t)) is not None}
        known = sorted(times, key=lambda t: times[t], reverse=reverse)  # ties: by name
    else:
        raise InvalidInput(f"unknown tag order {by!r}: {', '.join(SORTS)}")
    placed = set(known)
    return known + [t for t in tags if t not in placed]


def image_created(location: Location) -> datetime | None:
    """When the image at ``location`` was created: its manifest's
    ``org.opencontainers.image.created`` annotation, else its config's ``created`` (an
    index: its first image's, linux/amd64 preferred). None when neither says."""
    from hoist.image import read_config_bytes
    from hoist.model.config import parse_config
    from hoist.sync.select import parse_created

    manifest = location.manifest_get()
    if not isinstance(manifest, ImageManifest | Index):
        return None
    when = parse_created(manifest.annotations.get(ANNOTATION_CREATED))
    if when is not None:
        return when
    if isinstance(manifest, Index):
        children = [d for d in manifest.manifests if mt.is_image_manifest(d.media_type)]
        amd64 = [d for d in children if d.platform and d.platform.architecture == "amd64"]
        chosen = amd64 or children
        if not chosen:
            return None
        manifest = location.by_digest(chosen[0].digest).manifest_get()
    if not isinstance(manifest, ImageManifest) or not mt.is_config(manifest.config.media_type):
        return None
    try:
        raw = read_config_bytes(location, manifest.config, limit=MAX_CONFIG_SIZE)
        return parse_created(parse_config(raw).created)
    except HoistError:
        return None


def tags_created(
    where: Location, tags: Sequence[str], *, workers: int = WORKERS
) -> dict[str, datetime | None]:
    """Each tag's image's created time (:func:`image_created`), ``workers`` tags at a time;
    None for a tag gone meanwhile or an image that says nothing."""

    def one(tag: str) -> datetime | None:
        try:
            return image_created(where.with_tag(tag))
        except NotFound:
            return None

    return dict(zip(tags, parallel_map(one, tags, workers, name="hoist-tags"), strict=True))


def tags_at_digest(
    where: Location,
    digest: Digest,
    tags: Sequence[str] | None = None,
    *,
    workers: int = WORKERS,
) -> list[str]:
    """The tags of ``where``'s repository (or ``tags``) whose manifest is ``digest``, sorted:
    one HEAD per tag, ``workers`` at a time (registries do not count HEADs as pulls)."""
    names = sorted(set(where.tag_list() if tags is None else tags))

    def one(tag: str) -> Digest | None:
        try:
            return where.with_tag(tag).manifest_head().digest
        except NotFound:
            return None

    found = parallel_map(one, names, workers, name="hoist-tags")
    return [t for t, d in zip(names, found, strict=True) if d == digest]
