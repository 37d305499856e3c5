"""The bounded JSON parser every outside document goes through."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hoist.errors import InvalidConfig, InvalidInput, InvalidManifest
from hoist.model.config import parse_config
from hoist.model.jsonvalue import MAX_DEPTH, depth_of, parse_json
from hoist.model.manifest import parse_manifest

DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = b'{"size": ' + b"9" * 5000 + b"}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"{}", {}),
        (b'{"a": [1, 2.5, "x", null, true]}', {"a": [1, 2.5, "x", None, True]}),
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, eval("[" * MAX_DEPTH + "]" * MAX_DEPTH)),
        (b'{"n": 123456789012345678901234567890}', {"n": 123456789012345678901234567890}),
    ],
)
def test_accepts(data: bytes, expected: Any) -> None:
    assert parse_json(data) == expected


@pytest.mark.parametrize(
    ("attack", "data", "fragment"),
    [
        ("deep-nesting-recursion", DEEP, "nested too deeply"),
        ("nesting-over-the-depth-limit", b"[" * 65 + b"]" * 65, "nested too deeply"),
        ("integer-over-the-digit-limit", HUGE_INT, "characters"),
        ("float-of-a-million-digits", b"1." + b"1" * 1_000_000, "characters"),
        ("nan", b"[NaN]", "NaN is not JSON"),
        ("infinity", b"[-Infinity]", "-Infinity is not JSON"),
        ("bad-utf8", b'"\xff"', "not UTF-8"),
        ("truncated", b'{"a": ', "not valid JSON"),
    ],
)
def test_refuses_with_one_clear_error(attack: str, data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInput, match="not valid JSON") as info:
        parse_json(data, what="reply")
    assert fragment in str(info.value)
    assert str(info.value).startswith("reply is not valid JSON")


def test_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(InvalidInput, match="over the limit of 10"):
        parse_json(b"[" + b"1," * 20 + b"1]", max_size=10)


def test_error_class_is_the_callers() -> None:
    with pytest.raises(InvalidManifest):
        parse_manifest(DEEP)
    with pytest.raises(InvalidManifest):
        parse_manifest(HUGE_INT)
    with pytest.raises(InvalidConfig):
        parse_config(HUGE_INT)
    with pytest.raises(InvalidConfig):
        parse_config(DEEP)


def test_depth_of() -> None:
    assert depth_of(1) == 0
    assert depth_of([]) == 1
    assert depth_of({"a": [{"b": []}]}) == 4


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_a_value_or_invalid_input(data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        parse_json(data)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}":,0123456789.eE-+ aNIfinity', max_size=300))
def test_json_like_text_gives_a_value_or_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_json(text)
