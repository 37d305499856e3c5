"""Go's text formats that Docker image configs carry: quoting, durations, port maps.

BuildKit writes history ``created_by`` lines with Go's ``fmt`` verbs (``CMD %q`` of a string
slice, ``HEALTHCHECK %q`` of a struct, ``EXPOSE %v`` of a map) and healthcheck durations are
Go ``time.Duration`` values; these functions give the same text from Python values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from fractions import Fraction

__all__ = [
    "go_duration",
    "go_map_keys",
    "go_quote",
    "go_quote_rune",
    "go_quote_slice",
    "parse_go_duration",
]

_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)")


def _escape(ch: str, quote: str) -> str:
    code = ord(ch)
    if ch == quote or ch == "\\":
        return "\\" + ch
    if ch == " " or (ch.isprintable() and code != 0x7F):
        return ch
    if code in _ESCAPES:
        return _ESCAPES[code]
    if code < 0x80:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` (``%q`` of a string)."""
    return '"' + "".join(_escape(ch, '"') for ch in text) + '"'


def go_quote_slice(items: Sequence[str] | None) -> str:
    """``%q`` of a ``[]string``: ``["a" "b c"]``."""
    return "[" + " ".join(go_quote(item) for item in items or ()) + "]"


def go_quote_rune(value: int) -> str:
    """``%q`` of an int: Go quotes it as a character, ``'\\x03'``."""
    return "'" + _escape(chr(value), "'") + "'"


def go_map_keys(keys: Iterable[str], value: str = "{}") -> str:
    """``%v`` of a ``map[string]struct{}``: ``map[443/tcp:{} 80/tcp:{}]`` (keys sorted)."""
    return "map[" + " ".join(f"{key}:{value}" for key in sorted(set(keys))) + "]"


def _fraction(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10**digits)
    text = str(whole)
    frac_text = f"{frac:0{digits}d}".rstrip("0")
    return f"{text}.{frac_text}" if frac_text else text


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: ``0s``, ``1.5s``, ``5m0s``, ``1h0m0s``, ``300ms``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_fraction(u, 3)}µs"
    if u < 1_000_000_000:
        return f"{sign}{_fraction(u, 6)}ms"
    hours, rest = divmod(u, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + f"{_fraction(rest, 9)}s"


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds: ``30s``, ``1m30s``, ``1.5h``, ``250ms``."""
    s = text
    sign = 1
    if s[:1] in ("-", "+"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {text!r}")
    total = Fraction(0)
    pos = 0
    while pos < len(s):
        match = _PART.match(s, pos)
        if match is None or match.group(1) in ("", "."):
            raise ValueError(f"time: invalid duration {text!r}")
        number, unit = match.groups()
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {unit!r} in duration {text!r}")
        total += Fraction(number) * _UNITS[unit]
        pos = match.end()
    return sign * int(total)
