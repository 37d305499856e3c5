"""Tags of a registry: lists and the catalog page by page (``n``, ``last``, ``Link``), and
deleting one tag while the image it named (and its other tags) survive."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from hoist.errors import InvalidInput, NotFound, RegistryError, Unsupported
from hoist.model.descriptor import EMPTY_DESCRIPTOR
from hoist.model.jsonvalue import parse_json
from hoist.model.manifest import ImageManifest
from hoist.store.registry.connection import MANIFEST_NOT_FOUND, not_found
from hoist.store.registry.manifests import manifest_delete, manifest_head, manifest_put
from hoist.store.registry.uploads import blob_put

if TYPE_CHECKING:
    from hoist.model.reference import Reference
    from hoist.store.registry.connection import Connection

__all__ = [
    "MAX_LIST_BYTES",
    "MAX_PAGES",
    "next_link",
    "repo_list",
    "tag_delete",
    "tag_list",
    "tag_list_page",
]

log = logging.getLogger(__name__)

MAX_PAGES = 10_000
"""Tag or catalog pages followed at most (a registry whose Link never ends is an error)."""
MAX_LIST_BYTES = 64 * 1024 * 1024
"""Bytes of tag or catalog pages read at most, all pages together (millions of names)."""


def _paginate(
    conn: Connection,
    r: Reference,
    path: str,
    key: str,
    scopes: list[str],
    limit: int | None,
    last: str | None,
) -> Iterator[str]:
    query: list[tuple[str, str]] = []
    if limit:
        query.append(("n", str(limit)))
    if last:
        query.append(("last", last))
    url: str | None = path
    count = 0
    budget = MAX_LIST_BYTES
    seen: set[str] = set()
    while url:
        if url in seen or len(seen) >= MAX_PAGES:
            raise RegistryError(
                None, f"{key} pagination does not end ({len(seen)} pages)", status=200
            )
        seen.add(url)
        try:
            response = conn.transport.request(
                "GET", r.api_host, url, query=query, scopes=scopes, stream=True
            )
        except RegistryError as exc:
            if key == "tags":
                not_found(exc, MANIFEST_NOT_FOUND, NotFound, f"repository {r.name}")
            raise
        with response:
            try:
                body = response.read_capped(budget, what=f"{key} list")
            except InvalidInput:
                if budget == MAX_LIST_BYTES:
                    raise
                raise InvalidInput(
                    f"{key} lists from {r.api_host} are over the {MAX_LIST_BYTES >> 20} MiB "
                    f"limit in all ({len(seen)} pages)"
                ) from None
        budget -= len(body)
        items = _items(body, key, r.api_host)
        for item in items:
            yield str(item)
            count += 1
            if limit and count >= limit:
                return
        url = _page_url(response.url, next_link(response.headers.get("Link")), key, r.api_host)
        query = []


def _page_url(current: str, target: str | None, key: str, host: str) -> str | None:
    """The next page's absolute URL: ``target`` resolved against the page it came with, and
    at the registry ``host`` itself (a Link elsewhere is refused, never followed)."""
    if not target:
        return None
    try:
        url = urljoin(current, target)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{key} list: the next page's Link {target[:200]!r} is not a URL")
    if parts.netloc.lower() != host.lower() or parts.scheme != urlsplit(current).scheme:
        raise InvalidInput(
            f"{key} list from {host}: the next page's Link {target[:200]!r} "
            "points away from the registry"
        )
    return url


def _items(body: bytes, key: str, host: str) -> list[str]:
    """The names of one page: ``{"<key>": [...]}`` (null or missing: none)."""
    data = parse_json(body, what=f"{key} list from {host}")
    items = data.get(key) if isinstance(data, dict) else ()
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidInput(f"{key} list from {host} is not a JSON object with a list of names")
    return items


def tag_list(conn: Connection, r: Reference) -> list[str]:
    """Every tag of ``r``'s repository, sorted (all pages)."""
    tags = _paginate(conn, r, conn.path(r, "tags", "list"), "tags", conn.scope(r), None, None)
    return sorted(set(tags))


def tag_list_page(
    conn: Connection, r: Reference, *, limit: int | None = None, last: str | None = None
) -> list[str]:
    """One page of tags as the registry orders them: ``limit`` after ``last``."""
    return list(
        _paginate(conn, r, conn.path(r, "tags", "list"), "tags", conn.scope(r), limit, last)
    )


def repo_list(
    conn: Connection, r: Reference, *, limit: int | None = None, last: str | None = None
) -> list[str]:
    """Repository names of ``r``'s registry (the catalog), ``limit`` after ``last``."""
    return list(
        _paginate(conn, r, "/v2/_catalog", "repositories", ["registry:catalog:*"], limit, last)
    )


def tag_delete(conn: Connection, r: Reference) -> None:
    """Delete only the tag ``r.tag``: a DELETE by tag where the registry allows one, else the
    tag moved to a throw-away manifest that is deleted by digest."""
    if r.tag is None:
        raise Unsupported("no tag given to delete")
    r = r.with_tag(r.tag)
    manifest_head(conn, r)  # ManifestNotFound for a missing tag
    try:
        conn.transport.request(
            "DELETE",
            r.api_host,
            conn.path(r, "manifests", r.tag or ""),
            scopes=conn.scope(r, "pull,push,delete"),
            expect=(202, 200),
        )
        return
    except RegistryError as exc:
        if exc.status not in (400, 404, 405):
            raise
        log.debug("tag delete unsupported (%s); replacing the tag first", exc)
    # Point the tag at a unique throw-away manifest, then delete that by digest, so the
    # image the tag pointed at (and its other tags) survive. It has no subject: no referrers
    # bookkeeping follows either step.
    blob_put(conn, r, EMPTY_DESCRIPTOR.data or b"{}", digest=EMPTY_DESCRIPTOR.digest, size=2)
    throwaway = ImageManifest.build(
        EMPTY_DESCRIPTOR,
        [],
        artifact_type="application/vnd.hoist.tag-delete",
        annotations={
            "org.opencontainers.image.ref.name": r.tag or "",
            "nonce": uuid.uuid4().hex,
        },
    )
    manifest_put(conn, r, throwaway)
    manifest_delete(conn, r.by_digest(throwaway.digest))


def next_link(header: str | None) -> str | None:
    """The target of ``Link: <url>; rel="next"``, if any (any header text: never raises)."""
    if not header:
        return None
    for part in header.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return target.strip().strip("<>")
    return None
