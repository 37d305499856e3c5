"""Tag selection: versions read from tags, semver ranges, newest N, since, allow/deny."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from hoist.sync.config import TagRules
from hoist.sync.select import SemverRange, Version, parse_created, select_tags

TAGS = [
    "0.2.3",
    "0.2.9",
    "0.3.0",
    "1.1.0",
    "1.2.0",
    "1.2.5",
    "1.3.0-rc1",
    "1.3.0",
    "1.4",
    "2.0.0-rc1",
    "2.0.0",
    "v2.1.0",
    "3.18-alpine",
    "latest",
    "main",
]

RANGES = [
    (">=1.2 <2", ["1.2.0", "1.2.5", "1.3.0", "1.4"]),
    ("^1.2", ["1.2.0", "1.2.5", "1.3.0", "1.4"]),
    ("~1.2", ["1.2.0", "1.2.5"]),
    ("~1.2.3", ["1.2.5"]),
    ("1.x", ["1.1.0", "1.2.0", "1.2.5", "1.3.0", "1.4"]),
    ("1.2.*", ["1.2.0", "1.2.5"]),
    ("1.2 - 1.4", ["1.2.0", "1.2.5", "1.3.0", "1.4"]),
    ("^0.2.3", ["0.2.3", "0.2.9"]),
    ("^0.0.3", []),
    (">1.2", ["1.3.0", "1.4", "2.0.0", "v2.1.0"]),
    ("<=1.2", ["0.2.3", "0.2.9", "0.3.0", "1.1.0", "1.2.0", "1.2.5"]),
    ("<1", ["0.2.3", "0.2.9", "0.3.0"]),
    ("=2.0.0", ["2.0.0"]),
    ("2.0.0", ["2.0.0"]),
    (
        "*",
        ["0.2.3", "0.2.9", "0.3.0", "1.1.0", "1.2.0", "1.2.5", "1.3.0", "1.4", "2.0.0", "v2.1.0"],
    ),
    (">=1.3.0-rc1 <2", ["1.3.0-rc1", "1.3.0", "1.4"]),  # names a pre-release of 1.3.0
    ("2 || 0.2", ["0.2.3", "0.2.9", "2.0.0", "v2.1.0"]),
    (">= 1.2, < 1.3", ["1.2.0", "1.2.5"]),
    (">=3.18.0-alpine", ["3.18-alpine"]),
]


@pytest.mark.parametrize(("text", "expected"), RANGES)
def test_semver_ranges(text: str, expected: list[str]) -> None:
    r = SemverRange.parse(text)
    got = [t for t in TAGS if (v := Version.parse(t)) is not None and r.contains(v)]
    assert got == expected


@pytest.mark.parametrize("text", [">=1.x.2", "~=1.2", "abc", ">=", "1.2.3.4", "^1.2-rc1"])
def test_bad_ranges(text: str) -> None:
    with pytest.raises(ValueError, match="semver range"):
        SemverRange.parse(text)


def test_versions_from_tags() -> None:
    assert Version.parse("v1.2.3") == Version(1, 2, 3, (), 3, "v1.2.3")
    short = Version.parse("3.18")
    assert short is not None and short.core == (3, 18, 0) and short.parts == 2
    for bad in ("latest", "1.2.3.4", "01.2", "1.2.3-", "1.2.3-a..b", "sha256-abc"):
        assert Version.parse(bad) is None, bad
    order = ["1.2.0-1", "1.2.0-rc.2", "1.2.0-rc1", "1.2", "1.2.0", "1.10.0"]
    versions = [Version.parse(t) for t in reversed(order)]
    assert [v.text for v in sorted(v for v in versions if v is not None)] == order


def _created(
    times: Mapping[str, datetime | None],
) -> tuple[list[Sequence[str]], Callable[[Sequence[str]], dict[str, datetime | None]]]:
    asked: list[Sequence[str]] = []

    def lookup(tags: Sequence[str]) -> dict[str, datetime | None]:
        asked.append(list(tags))
        return {t: times.get(t) for t in tags}

    return asked, lookup


NOW = datetime(2024, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
TIMES = {
    "1.1.0": NOW - 100 * DAY,
    "1.2.0": NOW - 40 * DAY,
    "1.2.5": NOW - 20 * DAY,
    "1.3.0": NOW - 10 * DAY,
    "1.4": NOW - 5 * DAY,
    "2.0.0": NOW - 45 * DAY,  # an old 2.0.0: newest by semver and by created differ
    "latest": NOW - 1 * DAY,
    "main": None,  # no created time
}

SELECTIONS = [
    (TagRules(), TAGS),
    (TagRules(allow=(r"^1\.",)), ["1.1.0", "1.2.0", "1.2.5", "1.3.0-rc1", "1.3.0", "1.4"]),
    (TagRules(allow=(r"^1\.",), deny=(r"-rc",)), ["1.1.0", "1.2.0", "1.2.5", "1.3.0", "1.4"]),
    (
        TagRules(deny=(r"^v", "-", "^l")),
        [t for t in TAGS if not t.startswith(("v", "l")) and "-" not in t],
    ),
    (TagRules(newest=3), ["1.4", "2.0.0", "v2.1.0"]),  # releases only, in the tags' order
    (TagRules(semver=SemverRange.parse("^1"), newest=2), ["1.3.0", "1.4"]),
    (TagRules(semver=SemverRange.parse("<1")), ["0.2.3", "0.2.9", "0.3.0"]),
    (TagRules(since=30 * DAY), ["1.2.5", "1.3.0", "1.4", "latest"]),
    (TagRules(newest=2, newest_by="created"), ["1.4", "latest"]),
    (TagRules(semver=SemverRange.parse(">=1"), newest=2, newest_by="created"), ["1.3.0", "1.4"]),
    (TagRules(semver=SemverRange.parse(">=1"), since=42 * DAY), ["1.2.0", "1.2.5", "1.3.0", "1.4"]),
    (TagRules(allow=("^main$",), since=1000 * DAY), []),  # no created time: never recent
]


@pytest.mark.parametrize(("rules", "expected"), SELECTIONS)
def test_selection(rules: TagRules, expected: list[str]) -> None:
    asked, lookup = _created(TIMES)
    got = select_tags(TAGS, rules, lookup, now=NOW)
    assert got == expected
    if rules.needs_created:
        # created times are asked once, for what the cheap rules left only
        assert len(asked) == 1
        assert set(asked[0]) <= {t for t in TAGS if not rules.allow or re.search(rules.allow[0], t)}
    else:
        assert asked == []


def test_a_lookup_is_needed_for_created_rules() -> None:
    with pytest.raises(ValueError, match="created"):
        select_tags(["1.0"], TagRules(since=DAY))


def test_created_times() -> None:
    assert parse_created("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=UTC)
    nanos = parse_created("2024-01-01T00:00:00.123456789Z")
    assert nanos is not None and nanos.microsecond == 123456
    zoned = parse_created("2024-01-01T02:00:00+02:00")
    assert zoned == datetime(2024, 1, 1, tzinfo=UTC)
    for bad in (None, "", "yesterday", "2024-13-01T00:00:00Z"):
        assert parse_created(bad) is None
