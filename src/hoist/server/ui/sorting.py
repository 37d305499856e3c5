"""Orders for a repository's tags: by name, by semantic version, by push time; and pages.

Semantic versions are read leniently, the way tags are written: ``1``, ``1.2``, ``v1.2.3``,
``1.2.3-rc.1``, ``1.2.3+build`` (the build part does not order). A release sorts after its
pre-releases (``1.2.3-rc.1 < 1.2.3``). Tags that are not versions (``latest``, ``main``) sort
after every version, by name, in either order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["ORDERS", "SORTS", "Page", "paginate", "semver_key", "sort_key", "sort_tags"]

T = TypeVar("T")

SORTS = ("name", "semver", "pushed")
"""The orders a repository page offers."""
ORDERS = ("asc", "desc")
DEFAULT_ORDER = {"name": "asc", "semver": "desc", "pushed": "desc"}

_SEMVER = re.compile(
    r"[vV]?(?P<nums>\d+(?:\.\d+){0,2})(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?"
)


def semver_key(tag: str) -> tuple[Any, ...]:
    """A sort key: versions first, in version order, then other tags by name."""
    match = _SEMVER.fullmatch(tag)
    if match is None:
        return (1, tag)
    nums = [int(n) for n in match["nums"].split(".")]
    nums += [0] * (3 - len(nums))
    pre = match["pre"]
    if pre is None:
        return (0, *nums, 1, (), tag)
    # numeric identifiers order numerically and before alphanumeric ones (semver 2.0 §11)
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (0, *nums, 0, parts, tag)


def sort_key(sort: str) -> Callable[[tuple[str, float]], Any]:
    """The key for ``(tag, pushed)`` pairs in order ``sort`` (one of :data:`SORTS`)."""
    if sort == "semver":
        return lambda item: semver_key(item[0])
    if sort == "pushed":
        return lambda item: (item[1], item[0])
    return lambda item: item[0]


def sort_tags(items: Iterable[tuple[str, float]], sort: str, order: str) -> list[tuple[str, float]]:
    """``(tag, pushed)`` pairs in ``sort`` order, ``asc`` or ``desc``; by semver, the tags that
    are not versions come last both ways."""
    pairs = list(items)
    reverse = order == "desc"
    if sort != "semver":
        return sorted(pairs, key=sort_key(sort), reverse=reverse)
    versions = [p for p in pairs if semver_key(p[0])[0] == 0]
    others = [p for p in pairs if semver_key(p[0])[0] != 0]
    return sorted(versions, key=sort_key(sort), reverse=reverse) + sorted(others)


@dataclass(frozen=True, slots=True)
class Page:
    """Where one page sits among all: 1-based ``number`` of ``count`` pages of ``size``."""

    number: int
    count: int
    size: int
    total: int

    @property
    def first(self) -> int:
        """1-based position of the page's first item (0 when empty)."""
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.number * self.size, self.total)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count


def paginate(items: Sequence[T], number: int, size: int) -> tuple[list[T], Page]:
    """Page ``number`` (clamped to the pages there are) of ``items``, ``size`` at a time."""
    count = max(1, math.ceil(len(items) / size))
    number = min(max(1, number), count)
    start = (number - 1) * size
    return list(items[start : start + size]), Page(number, count, size, len(items))
