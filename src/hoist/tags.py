"""Choosing tags by regular expression, as ``tag ls`` and ``repo copy`` do."""

from __future__ import annotations

import re
from collections.abc import Iterable

from hoist.errors import InvalidInput

__all__ = ["tag_filter"]


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
