"""One bounded parser for JSON that comes from outside: registries, layouts, archives, files.

Python's ``json`` module takes any nesting (until a RecursionError) and any integer (until the
4300-digit conversion limit raises a bare ValueError). Every document hoist reads from outside
goes through :func:`parse_json` instead, which bounds size, depth and number length and raises
:class:`~hoist.errors.InvalidInput` (or the subclass asked for) saying what was wrong.
Pure: bytes in, values out.
"""

from __future__ import annotations

import json
from typing import Any

from hoist.errors import InvalidInput

__all__ = ["MAX_DEPTH", "MAX_NUMBER_LENGTH", "depth_of", "parse_json"]

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (manifests and configs need under 10)."""
MAX_NUMBER_LENGTH = 64
"""Longest number literal accepted, in characters (sizes and times need under 20)."""


def _number(kind: str, convert: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        if len(text) > MAX_NUMBER_LENGTH:
            raise _Refused(f"a number of {len(text)} characters (at most {MAX_NUMBER_LENGTH})")
        return convert(text)

    parse.__name__ = f"parse_{kind}"
    return parse


class _Refused(ValueError):
    """Raised inside the decoder's callbacks; turned into InvalidInput by parse_json."""


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


_PARSE_INT = _number("int", int)
_PARSE_FLOAT = _number("float", float)


def depth_of(value: Any) -> int:
    """The nesting depth of a parsed value (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def parse_json(
    data: bytes | str,
    *,
    what: str = "JSON",
    max_size: int | None = None,
    max_depth: int = MAX_DEPTH,
    error: type[InvalidInput] = InvalidInput,
) -> Any:
    """Parse ``data`` (UTF-8 JSON) within bounds; raises ``error`` naming ``what`` otherwise."""
    if max_size is not None and len(data) > max_size:
        raise error(f"{what} of {len(data)} bytes is over the limit of {max_size}")
    try:
        value = json.loads(
            data,
            parse_int=_PARSE_INT,
            parse_float=_PARSE_FLOAT,
            parse_constant=_constant,
        )
    except _Refused as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise error(
            f"{what} is not valid JSON: nested too deeply (at most {max_depth} levels)"
        ) from None
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} is not valid JSON: not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:  # any other conversion limit of the decoder
        raise error(f"{what} is not valid JSON: {exc}") from None
    if max_depth is not None and depth_of(value) > max_depth:
        raise error(f"{what} is not valid JSON: nested too deeply (at most {max_depth} levels)")
    return value
