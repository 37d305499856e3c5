"""Cron schedules of five fields, for ``sync serve``: minute, hour, day of month, month, weekday.

::

    Cron.parse("*/15 * * * *").next_after(datetime(2024, 1, 1, 10, 7))   # 10:15
    Cron.parse("0 3 * * mon-fri")                                         # 03:00 on weekdays

Each field is ``*``, a number, a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a list of those
(``1,15,30``); months and weekdays also take names (``jan``, ``mon``), and weekday 7 is Sunday
like 0. When both the day of month and the weekday are restricted, a day matching either
counts, as in Vixie cron. ``@hourly``, ``@daily``, ``@weekly``, ``@monthly`` and ``@yearly``
stand for their usual lines. Times are the naive local times they are given in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["Cron"]

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("weekday", 0, 7, _DAYS),
)
_SEARCH_DAYS = 366 * 8 + 2
"""How far ahead to look for a time that matches (Feb 29 on a Monday may take years)."""


def _value(text: str, low: int, names: list[str] | None, what: str, line: str) -> int:
    t = text.lower()
    if names is not None and t in names:
        return names.index(t) + (1 if names is _MONTHS else 0)
    if not t.isdigit():
        raise ValueError(f"cron {line!r}: {text!r} is not a {what}")
    return int(t)


def _field(
    text: str, low: int, high: int, names: list[str] | None, what: str, line: str
) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"cron {line!r}: empty item in the {what} field")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"cron {line!r}: bad step {step_text!r} in the {what} field")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            start = _value(a, low, names, what, line)
            end = _value(b, low, names, what, line)
        else:
            start = _value(base, low, names, what, line)
            end = high if step_text else start
        for v in (start, end):
            if not low <= v <= high:
                raise ValueError(f"cron {line!r}: {v} is out of range {low}-{high} for the {what}")
        if start > end:
            raise ValueError(f"cron {line!r}: range {base!r} runs backwards in the {what} field")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A parsed five-field cron line."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        """Parse a cron line; raises ValueError naming the field that is wrong."""
        line = text.strip()
        expanded = _ALIASES.get(line.lower(), line)
        parts = expanded.split()
        if len(parts) != 5:
            raise ValueError(
                f"cron {line!r}: want 5 fields (minute hour day-of-month month weekday), "
                f"not {len(parts)}"
            )
        sets = [
            _field(p, low, high, names, what, line)
            for p, (what, low, high, names) in zip(parts, _FIELDS, strict=True)
        ]
        weekdays = frozenset(0 if d == 7 else d for d in sets[4])
        return cls(
            line,
            sets[0],
            sets[1],
            sets[2],
            sets[3],
            weekdays,
            # As in Vixie cron, a field starting with * does not restrict the day.
            any_day=parts[2].startswith("*"),
            any_weekday=parts[4].startswith("*"),
        )

    def __str__(self) -> str:
        return self.text

    def _day_matches(self, when: datetime) -> bool:
        dom = when.day in self.days
        dow = (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow  # both restricted: either will do

    def next_after(self, when: datetime) -> datetime:
        """The first minute after ``when`` that the line names."""
        t = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=_SEARCH_DAYS)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += timedelta(minutes=1)
                continue
            return t
        raise ValueError(f"cron {self.text!r} names a time that never comes")
