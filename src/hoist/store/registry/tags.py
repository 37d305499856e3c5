"""Tag lists and the catalog of a registry, page by page (``n``, ``last``, ``Link``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from hoist.errors import NotFound, RegistryError
from hoist.store.registry.base import MANIFEST_NOT_FOUND, RegistryBase, registry_ref

if TYPE_CHECKING:
    from hoist.model.reference import ImageRef, Reference

__all__ = ["MAX_PAGES", "TagsMixin"]

MAX_PAGES = 10_000
"""Tag or catalog pages followed at most (a registry whose Link never ends is an error)."""


class TagsMixin(RegistryBase):
    """``tag_list``, ``tag_list_page`` and ``repo_list`` of the registry store."""

    def _paginate(
        self,
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
        seen: set[str] = set()
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise RegistryError(
                    "HTTP 200", f"{key} pagination does not end ({len(seen)} pages)", status=200
                )
            seen.add(url)
            try:
                response = self.transport.request(
                    "GET", r.api_host, url, query=query, scopes=scopes
                )
            except RegistryError as exc:
                if key == "tags":
                    self._not_found(exc, MANIFEST_NOT_FOUND, NotFound, f"repository {r.name}")
                raise
            body = response.read()
            try:
                items = json.loads(body).get(key) or []
            except (ValueError, AttributeError):
                raise RegistryError("HTTP 200", f"malformed {key} list", status=200) from None
            for item in items:
                yield str(item)
                count += 1
                if limit and count >= limit:
                    return
            url = _next_link(response.headers.get("Link"))
            query = []

    def tag_list(self, ref: ImageRef) -> list[str]:
        r = registry_ref(ref)
        tags = self._paginate(r, self._path(r, "tags", "list"), "tags", self._scope(r), None, None)
        return sorted(set(tags))

    def tag_list_page(
        self, ref: ImageRef, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        """One page of tags as the registry orders them: ``limit`` after ``last``."""
        r = registry_ref(ref)
        return list(
            self._paginate(r, self._path(r, "tags", "list"), "tags", self._scope(r), limit, last)
        )

    def repo_list(
        self, ref: ImageRef, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        r = registry_ref(ref)
        return list(
            self._paginate(r, "/v2/_catalog", "repositories", ["registry:catalog:*"], limit, last)
        )


def _next_link(header: str | None) -> str | None:
    """The target of ``Link: <url>; rel="next"``, if any."""
    if not header:
        return None
    for part in header.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return target.strip().strip("<>")
    return None
