"""Choosing the tags of a repository to mirror: patterns, semver ranges, age and newest N.

::

    rules = TagRules(semver=SemverRange.parse(">=1.2 <2"), newest=3)
    select_tags(["1.1.0", "1.2.0", "1.3.0", "1.4.0", "2.0.0", "latest"], rules)
    # ['1.2.0', '1.3.0', '1.4.0']

Versions are read from tags the way registries' users write them: an optional ``v``, one to
three numbers (``3.18`` is ``3.18.0``), and an optional ``-pre-release`` (``1.2.0-rc1``; also
``3.18-alpine``, which semver calls a pre-release of 3.18.0). Ranges follow npm's and
Masterminds' grammar: comparators ``>= > <= < =``, ``^1.2`` (``>=1.2.0 <2.0.0``), ``~1.2.3``
(``>=1.2.3 <1.3.0``), wildcards (``1.x``, ``1.2.*``), hyphen ranges (``1.2 - 1.4``), spaces or
commas for "and", ``||`` for "or". A pre-release matches only a range that names a pre-release
of the same ``major.minor.patch``, as in both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import total_ordering
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hoist.sync.config import TagRules

__all__ = ["SemverRange", "Version", "parse_created", "select_tags"]

_VERSION = re.compile(
    r"v?(0|[1-9]\d{0,8})(?:\.(0|[1-9]\d{0,8}))?(?:\.(0|[1-9]\d{0,8}))?(?:-([0-9A-Za-z.-]+))?",
)
_PARTIAL = re.compile(
    r"v?(\d{1,9}|[xX*])(?:\.(\d{1,9}|[xX*]))?(?:\.(\d{1,9}|[xX*]))?(?:-([0-9A-Za-z.-]+))?"
)
_OPS = (">=", "<=", ">", "<", "=", "^", "~")


@total_ordering
@dataclass(frozen=True)
class Version:
    """A version read from a tag; ordered by semver precedence (then the more precise tag)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()
    parts: int = 3
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Version | None:
        """The version ``text`` (a tag) is, or None when it is not one."""
        m = _VERSION.fullmatch(text)
        if m is None:
            return None
        pre: tuple[int | str, ...] = ()
        if m.group(4):
            ids = m.group(4).split(".")
            if any(not i for i in ids):
                return None
            pre = tuple(int(i) if i.isdigit() else i for i in ids)
        parts = 1 + (m.group(2) is not None) + (m.group(3) is not None)
        return cls(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), pre, parts, text)

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def _key(self) -> tuple[object, ...]:
        # A release sorts above its pre-releases; numeric identifiers below alphanumeric ones.
        pre = tuple((0, i, "") if isinstance(i, int) else (1, 0, i) for i in self.prerelease)
        return (self.core, not self.prerelease, pre, self.parts, self.text)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        s = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            s += "-" + ".".join(map(str, self.prerelease))
        return s


@dataclass(frozen=True)
class _Comparator:
    op: str  # one of >= > <= < =
    version: Version

    def holds(self, v: Version) -> bool:
        a, b = _order(v), _order(self.version)
        return {
            ">=": a >= b,
            ">": a > b,
            "<=": a <= b,
            "<": a < b,
            "=": a == b,
        }[self.op]


def _order(v: Version) -> tuple[object, ...]:
    """Semver precedence alone (no tie-breaks by spelling)."""
    pre = tuple((0, i, "") if isinstance(i, int) else (1, 0, i) for i in v.prerelease)
    return (v.core, not v.prerelease, pre)


def _v(major: int, minor: int = 0, patch: int = 0, pre: tuple[int | str, ...] = ()) -> Version:
    return Version(major, minor, patch, pre)


@dataclass(frozen=True)
class SemverRange:
    """A range of versions: alternatives (``||``) of comparator sets that must all hold."""

    text: str
    alternatives: tuple[tuple[_Comparator, ...], ...]

    @classmethod
    def parse(cls, text: str) -> SemverRange:
        """Parse a range like ``>=1.2 <2 || ^3``; raises ValueError saying what is wrong."""
        if len(text) > 1000:
            raise ValueError("semver range over 1000 characters")
        alternatives = []
        for part in text.split("||"):
            alternatives.append(tuple(_parse_set(part.strip(), text)))
        return cls(text, tuple(alternatives))

    def __contains__(self, version: Version) -> bool:
        return self.contains(version)

    def contains(self, version: Version) -> bool:
        for comparators in self.alternatives:
            if not all(c.holds(version) for c in comparators):
                continue
            if version.prerelease and not any(
                c.version.prerelease and c.version.core == version.core for c in comparators
            ):
                continue
            return True
        return False

    def __str__(self) -> str:
        return self.text


def _parse_set(text: str, whole: str) -> list[_Comparator]:
    if not text or text in ("*", "x", "X"):
        return []
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if hyphen:
        low = _partial(hyphen.group(1), whole)
        high = _partial(hyphen.group(2), whole)
        return _expand(">=", low, whole) + _expand("<=", high, whole)
    # "> = 1.2" and ">= 1.2" are one comparator; split on spaces and commas otherwise.
    tokens = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", text.replace(",", " ")).split()
    out: list[_Comparator] = []
    for token in tokens:
        op = next((o for o in _OPS if token.startswith(o)), "")
        rest = token[len(op) :]
        if rest.startswith("="):  # ~= ^= forms are not ranges
            raise ValueError(f"semver range {whole!r}: bad comparator {token!r}")
        out += _expand(op or "=", _partial(rest, whole), whole)
    return out


_Partial = tuple[int | None, int | None, int | None, tuple[int | str, ...]]


def _partial(text: str, whole: str) -> _Partial:
    m = _PARTIAL.fullmatch(text)
    if m is None:
        raise ValueError(
            f"semver range {whole!r}: {text!r} is not a version (like 1, 1.2, 1.2.3, 1.x)"
        )

    def num(s: str | None) -> int | None:
        return None if s is None or s in ("x", "X", "*") else int(s)

    groups = [m.group(1), m.group(2), m.group(3)]
    wild = [g is not None and g in ("x", "X", "*") for g in groups]
    for i in range(1, 3):
        if groups[i] is not None and wild[i - 1] and not wild[i]:
            raise ValueError(f"semver range {whole!r}: {text!r} has a number after a wildcard")
    major, minor, patch = num(m.group(1)), num(m.group(2)), num(m.group(3))
    if major is None:
        minor = patch = None
    elif minor is None:
        patch = None
    pre: tuple[int | str, ...] = ()
    if m.group(4):
        if patch is None:
            raise ValueError(f"semver range {whole!r}: a pre-release needs a full version")
        pre = tuple(int(i) if i.isdigit() else i for i in m.group(4).split("."))
    return major, minor, patch, pre


def _expand(op: str, p: _Partial, whole: str) -> list[_Comparator]:
    major, minor, patch, pre = p
    if major is None:  # * (with any operator but < it is everything)
        return [_Comparator("<", _v(0, 0, 0, (0,)))] if op == "<" else []
    if op == "^":
        low = _v(major, minor or 0, patch or 0, pre)
        if major > 0 or minor is None:
            high = _v(major + 1)
        elif minor > 0 or patch is None:
            high = _v(0, minor + 1)
        else:
            high = _v(0, 0, patch + 1)
        return [_Comparator(">=", low), _Comparator("<", _bound(high))]
    if op == "~":
        low = _v(major, minor or 0, patch or 0, pre)
        high = _v(major + 1) if minor is None else _v(major, minor + 1)
        return [_Comparator(">=", low), _Comparator("<", _bound(high))]
    if patch is not None:
        return [_Comparator(op, _v(major, minor or 0, patch, pre))]
    # A partial version stands for the whole span it leaves open.
    low = _v(major, minor or 0, 0)
    high = _v(major + 1) if minor is None else _v(major, minor + 1)
    if op == "=":
        return [_Comparator(">=", low), _Comparator("<", _bound(high))]
    if op == ">=":
        return [_Comparator(">=", low)]
    if op == ">":
        return [_Comparator(">=", high)]
    if op == "<":
        return [_Comparator("<", _bound(low))]
    if op == "<=":
        return [_Comparator("<", _bound(high))]
    raise ValueError(f"semver range {whole!r}: bad operator {op!r}")


def _bound(v: Version) -> Version:
    """An upper bound below which no pre-release of ``v`` counts (``<2.0.0`` leaves
    ``2.0.0-rc1`` out, as npm does)."""
    return _v(v.major, v.minor, v.patch, (0,)) if not v.prerelease else v


# -- created times ---------------------------------------------------------------------------


def parse_created(text: str | None) -> datetime | None:
    """An RFC 3339 time (``2024-01-01T00:00:00Z``, fractions of any length) as an aware
    datetime; None when missing or unreadable."""
    if not text or not isinstance(text, str):
        return None
    s = text.strip()
    m = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?", s
    )
    if m is None:
        return None
    frac = (m.group(3) or "")[:7].ljust(7, "0") if m.group(3) else ""
    zone = m.group(4) or "Z"
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        when = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{frac}{zone}")
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# -- choosing ------------------------------------------------------------------------------------

CreatedLookup = Callable[[Sequence[str]], Mapping[str, datetime | None]]
"""Created times of tags, asked for the candidates left after the cheap rules, in one batch."""


def select_tags(
    tags: Iterable[str],
    rules: TagRules,
    created: CreatedLookup | None = None,
    *,
    now: datetime | None = None,
) -> list[str]:
    """The tags ``rules`` keep, in the order given. ``newest`` by semver without a ``semver``
    range ranks releases only (as the range ``*`` would).

    ``created`` is asked only when a rule needs created times (``since``, ``newest-by:
    created``), and only for the tags the other rules left; a tag with no created time is
    older than any ``since`` and the oldest for ``newest``.
    """
    candidates = [t for t in dict.fromkeys(tags) if _allowed(t, rules)]
    versions: dict[str, Version] = {}
    if rules.semver is not None or (rules.newest is not None and rules.newest_by == "semver"):
        for t in candidates:
            v = Version.parse(t)
            if v is None:
                continue
            if rules.semver.contains(v) if rules.semver is not None else not v.prerelease:
                versions[t] = v
        candidates = [t for t in candidates if t in versions]
    times: Mapping[str, datetime | None] = {}
    if rules.needs_created and candidates:
        if created is None:
            raise ValueError("these tag rules need created times")
        times = created(candidates)
    if rules.since is not None:
        moment = now or datetime.now(UTC)
        cutoff = moment - rules.since
        candidates = [t for t in candidates if (times.get(t) or _NEVER) >= cutoff]
    if rules.newest is not None:
        if rules.newest_by == "created":
            ranked = sorted(candidates, key=lambda t: (times.get(t) or _NEVER, t), reverse=True)
        else:
            ranked = sorted(candidates, key=lambda t: versions[t], reverse=True)
        keep = set(ranked[: rules.newest])
        candidates = [t for t in candidates if t in keep]
    return candidates


_NEVER = datetime(1, 1, 1, tzinfo=UTC)


def _allowed(tag: str, rules: TagRules) -> bool:
    if rules.allow and not any(re.search(p, tag) for p in rules.allow):
        return False
    return not any(re.search(p, tag) for p in rules.deny)
