"""Choosing tags by regular expression (``tag ls`` and ``repo copy`` use it)."""

from __future__ import annotations

import pytest

from hoist.errors import InvalidInput
from hoist.tags import tag_filter

TAGS = ["latest", "v1", "v1.2", "v2-rc1", "stable", "sha256-abc.sig"]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ((), (), TAGS),
        (("^v",), (), ["v1", "v1.2", "v2-rc1"]),
        (("^v",), ("rc",), ["v1", "v1.2"]),
        (("^v1$", "^stable$"), (), ["v1", "stable"]),
        ((), (r"^sha256-", "^latest$"), ["v1", "v1.2", "v2-rc1", "stable"]),
        (("1",), (), ["v1", "v1.2", "v2-rc1"]),  # search, not match: anchor to be exact
    ],
)
def test_tag_filter(
    include: tuple[str, ...], exclude: tuple[str, ...], expected: list[str]
) -> None:
    assert tag_filter(TAGS, include, exclude) == expected


def test_bad_pattern_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="bad regular expression '\\(v'"):
        tag_filter(TAGS, ["(v"])
    with pytest.raises(InvalidInput, match="bad regular expression"):
        tag_filter([], exclude=["["])
