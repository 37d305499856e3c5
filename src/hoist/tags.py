"""Choosing tags: by regular expression, as ``tag ls`` and ``repo copy`` do, and a page of a
repository's tags in sorted order whatever order its registry keeps."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hoist.errors import InvalidInput

if TYPE_CHECKING:
    from hoist.location import Location

__all__ = ["tag_filter", "tag_page"]


def tag_page(where: Location, *, limit: int | None = None, last: str | None = None) -> list[str]:
    """The tags of ``where``'s repository sorted, only those after ``last``, at most ``limit``.

    Registries page tags in orders of their own (CNCF distribution 2.8 returns them as stored
    and may ignore ``last``), so the whole list is read and sorted here: the answer is the same
    from every registry and layout.
    """
    tags = sorted(set(where.tag_list()))
    if last is not None:
        tags = [t for t in tags if t > last]
    return tags[:limit] if limit else tags


def _compile(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    try:
        return [re.compile(p) for p in patterns]
    except re.error as exc:
        raise InvalidInput(f"bad regular expression {exc.pattern!r}: {exc}") from None


def tag_filter(
    tags: Iterable[str], include: Iterable[str] = (), exclude: Iterable[str] = ()
) -> list[str]:
    """The ``tags`` that some ``include`` pattern matches (all when none is given) and no
    ``exclude`` pattern does, in their order. Patterns match anywhere (``re.search``): anchor
    them with ``^``/``$``. A pattern that does not compile raises InvalidInput.
    """
    inc, exc = _compile(include), _compile(exclude)
    return [
        t
        for t in tags
        if (not inc or any(p.search(t) for p in inc)) and not any(p.search(t) for p in exc)
    ]
