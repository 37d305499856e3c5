"""Independent requests in flight together, a bounded number at a time (design rule 5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["parallel_map"]

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, *, name: str = "hoist"
) -> list[R]:
    """``fn`` over ``items`` with up to ``workers`` threads, results in the items' order; the
    first exception raised by ``fn`` is raised here (the other calls still finish)."""
    todo = list(items)
    if len(todo) <= 1 or workers <= 1:
        return [fn(x) for x in todo]
    with ThreadPoolExecutor(max_workers=min(workers, len(todo)), thread_name_prefix=name) as pool:
        return list(pool.map(fn, todo))
