"""The cron parser of sync serve: five fields, names, steps, the day-of-month/weekday rule."""

from __future__ import annotations

from datetime import datetime

import pytest

from hoist.sync.cron import Cron

D = datetime

NEXT = [
    ("*/15 * * * *", D(2024, 1, 1, 10, 7), D(2024, 1, 1, 10, 15)),
    ("*/15 * * * *", D(2024, 1, 1, 10, 15), D(2024, 1, 1, 10, 30)),  # strictly after
    ("0 3 * * mon-fri", D(2024, 1, 5, 4, 0), D(2024, 1, 8, 3, 0)),  # Friday 04:00 -> Monday
    ("0 0 29 2 *", D(2024, 3, 1), D(2028, 2, 29)),
    ("0 12 13 * fri", D(2024, 1, 1), D(2024, 1, 5, 12, 0)),  # either day rule (Vixie)
    ("@daily", D(2024, 12, 31, 23, 59), D(2025, 1, 1)),
    ("@hourly", D(2024, 1, 1, 0, 0, 30), D(2024, 1, 1, 1, 0)),
    ("30 */6 * * *", D(2024, 1, 1, 6, 30), D(2024, 1, 1, 12, 30)),
    ("5,35 1-2 * * *", D(2024, 1, 1, 1, 40), D(2024, 1, 1, 2, 5)),
    ("0 0 * jan,jul sun", D(2024, 2, 1), D(2024, 7, 7)),
    ("0 0 * * 7", D(2024, 1, 1), D(2024, 1, 7)),  # 7 is Sunday too
    ("0 0 1-7/2 * *", D(2024, 1, 1, 12), D(2024, 1, 3)),
    ("0 0 */10 * *", D(2024, 1, 1, 12), D(2024, 1, 11)),  # a step on *: days 1, 11, 21, 31
]


@pytest.mark.parametrize(("line", "after", "expected"), NEXT)
def test_next_after(line: str, after: datetime, expected: datetime) -> None:
    assert Cron.parse(line).next_after(after) == expected


BAD = [
    ("* * * *", "want 5 fields"),
    ("61 * * * *", "out of range 0-59 for the minute"),
    ("* * * * 8", "out of range 0-7 for the weekday"),
    ("a * * * *", "not a minute"),
    ("5-1 * * * *", "runs backwards"),
    ("*/0 * * * *", "bad step"),
    ("1,,2 * * * *", "empty item"),
    ("* * 0 * *", "out of range 1-31"),
]


@pytest.mark.parametrize(("line", "message"), BAD)
def test_bad_lines(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cron.parse(line)


def test_a_line_that_never_comes() -> None:
    with pytest.raises(ValueError, match="never comes"):
        Cron.parse("0 0 30 2 *").next_after(D(2024, 1, 1))
