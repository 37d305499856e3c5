"""Hints added to an error line: what to do next, where hoist can tell.

- a manifest a registry does not know: whether the repository exists (and the tags nearest
  to the one asked for) or not at all, from one more tag-list request;
- a 401 from a registry: ``hoist registry login HOST`` (the transport adds it; see
  :meth:`hoist.transport.http.Transport`), here too for an error that lacks it;
- a local path given without a scheme: ``ocidir://PATH`` (or the archive schemes for a file).

Imported only when a command failed.
"""

from __future__ import annotations

import difflib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hoist.errors import HoistError
    from hoist.location import Location

__all__ = ["hint", "path_hint"]

_SCHEMES = ("ocidir://", "oci-archive://", "docker-archive://", "oci:", "docker://")


def path_hint(text: str) -> str | None:
    """``ocidir://TEXT`` for a local path written without a scheme, else None."""
    if not text or text.startswith(_SCHEMES) or "://" in text:
        return None
    path, _, _ = text.partition("@")
    head, colon, tail = path.rpartition(":")
    if colon and "/" not in tail:
        path = head
    looks_like_path = text.startswith(("/", "./", "../", "~")) or os.path.exists(path)
    if not looks_like_path:
        return None
    if os.path.isfile(path):
        return f"a local archive needs a scheme: oci-archive://{text} or docker-archive://{text}"
    return f"a local OCI layout needs a scheme: ocidir://{text}"


def hint(exc: HoistError, state: dict[str, Any]) -> str | None:
    """A hint for ``exc``, raised by a command whose locations ``state`` remembers."""
    from hoist.errors import AuthError, ManifestNotFound, RegistryError

    text = str(exc)
    locations: list[tuple[str, Location]] = state.get("locations", [])
    if isinstance(exc, ManifestNotFound):
        for _, location in locations:
            tagged = location.tag is not None and location.digest is None
            named = str(location) in text or str(location.ref) in text
            if location.is_registry and tagged and named:
                return _repository_hint(location)
    unauthorized = isinstance(exc, AuthError) or (
        isinstance(exc, RegistryError) and exc.status == 401
    )
    if unauthorized and "hoist registry login" not in text:
        hosts = [loc.host for _, loc in locations if loc.is_registry and loc.host]
        if hosts:
            return f"log in: hoist registry login {hosts[0]}"
    for given, _ in locations:
        found = path_hint(given)
        if found is not None and "did you mean" not in text:
            return found
    return None


def _repository_hint(location: Location) -> str | None:
    """Whether the repository of ``location`` exists, from its tag list (one request)."""
    from hoist.errors import HoistError, NotFound
    from hoist.model.reference import Reference

    try:
        tags = location.tag_list()
    except NotFound:
        ref = location.ref
        name = ref.repository if isinstance(ref, Reference) else str(ref)
        return f"no repository {name} on {location.host}"
    except HoistError:
        return None
    if not tags:
        return "the repository exists, with no tags"
    near = difflib.get_close_matches(location.tag or "", tags, n=3, cutoff=0.7)
    shown = near or tags[:5]
    more = "" if near or len(tags) <= 5 else ", ..."
    label = "nearest tags" if near else f"{len(tags)} tag{'' if len(tags) == 1 else 's'}"
    return f"the repository exists, without this tag; {label}: {', '.join(shown)}{more}"
