"""Tests for hoist.model.platform."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.json_fuzz import JSON, PLATFORMISH

from hoist.errors import InvalidInput, InvalidPlatform, PlatformNotFound
from hoist.model import platform as platform_module
from hoist.model.platform import Platform, choose, local_platform

P = Platform.parse

# --------------------------------------------------------------------------- parse / str

# text, os, architecture, variant, os_version, canonical str
VALID = [
    ("linux/amd64", "linux", "amd64", None, None, "linux/amd64"),
    ("linux/arm64/v8", "linux", "arm64", "v8", None, "linux/arm64/v8"),
    ("linux/arm64", "linux", "arm64", None, None, "linux/arm64"),
    ("linux/arm/v7", "linux", "arm", "v7", None, "linux/arm/v7"),
    ("linux/arm/v6", "linux", "arm", "v6", None, "linux/arm/v6"),
    ("windows/amd64,osversion=10.0.17763.1", "windows", "amd64", None, "10.0.17763.1",
     "windows/amd64,osversion=10.0.17763.1"),
    ("linux/x86_64", "linux", "amd64", None, None, "linux/amd64"),
    ("linux/x86-64", "linux", "amd64", None, None, "linux/amd64"),
    ("linux/aarch64", "linux", "arm64", None, None, "linux/arm64"),
    ("linux/aarch64/v8", "linux", "arm64", "v8", None, "linux/arm64/v8"),
    ("linux/armhf", "linux", "arm", None, None, "linux/arm"),
    ("linux/i386", "linux", "386", None, None, "linux/386"),
    ("linux/i686", "linux", "386", None, None, "linux/386"),
    ("Linux/AMD64", "linux", "amd64", None, None, "linux/amd64"),
    ("linux/ARM/V7", "linux", "arm", "v7", None, "linux/arm/v7"),
    ("  linux/s390x  ", "linux", "s390x", None, None, "linux/s390x"),
    ("linux/ppc64le", "linux", "ppc64le", None, None, "linux/ppc64le"),
    ("linux/riscv64", "linux", "riscv64", None, None, "linux/riscv64"),
    ("freebsd/amd64", "freebsd", "amd64", None, None, "freebsd/amd64"),
    ("unknown/unknown", "unknown", "unknown", None, None, "unknown/unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "os", "arch", "variant", "os_version", "canonical"), VALID)
def test_parse_valid(
    text: str, os: str, arch: str, variant: str | None, os_version: str | None, canonical: str
) -> None:
    p = P(text)
    assert (p.os, p.architecture, p.variant, p.os_version) == (os, arch, variant, os_version)
    assert str(p) == canonical
    assert P(canonical) == p


@pytest.mark.parametrize(
    "text",
    [
        "",
        "linux",
        "linux/",
        "/amd64",
        "linux//v7",
        "linux/amd64/",
        "a/b/c/d",
        "linux/amd64,foo=bar",
        "linux/amd64,osversion",
        "linux/amd64,osversion=",
        "linux/amd64,osversion=1,foo=bar",
        "linux/am d64",
        "linux/amd64/v 8",
        "li nux/amd64",
        "linux/amd64;v8",
        "linux/amd64/v8/x",
        "local/",
    ],
)
def test_parse_invalid(text: str) -> None:
    with pytest.raises(InvalidPlatform) as info:
        P(text)
    assert isinstance(info.value, InvalidInput)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("Linux", "X86_64"), "linux/amd64"),
        (("linux", "arm", "V7"), "linux/arm/v7"),
        (("windows", "amd64", None, "10.0.1"), "windows/amd64,osversion=10.0.1"),
    ],
)
def test_constructor_normalises(args: tuple[Any, ...], expected: str) -> None:
    assert str(Platform(*args)) == expected


@pytest.mark.parametrize(
    "args",
    [("", "amd64"), ("linux", ""), ("linux", "amd64", ""), ("linux", "amd/64"), ("lin,ux", "x")],
)
def test_constructor_validates(args: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidPlatform):
        Platform(*args)


def test_value_semantics() -> None:
    a = P("linux/x86_64")
    b = Platform("linux", "amd64")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, P("linux/arm64")}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.os = "windows"  # type: ignore[misc]


def test_local() -> None:
    assert P("local") == local_platform()
    assert P(" local ") == local_platform()
    assert local_platform().os == "linux"


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "linux/amd64"),
        ("AMD64", "linux/amd64"),
        ("aarch64", "linux/arm64"),
        ("arm64", "linux/arm64"),
        ("armv7l", "linux/arm/v7"),
        ("armv6l", "linux/arm/v6"),
        ("i686", "linux/386"),
        ("s390x", "linux/s390x"),
        ("", "linux/amd64"),
    ],
)
def test_local_platform_of_machine(
    monkeypatch: pytest.MonkeyPatch, machine: str, expected: str
) -> None:
    monkeypatch.setattr(platform_module, "_host", SimpleNamespace(machine=lambda: machine))
    assert str(local_platform()) == expected


# --------------------------------------------------------------------------- matches

MATCHES = [
    ("linux/amd64", "linux/amd64", True),
    ("linux/arm64", "linux/arm64/v8", True),
    ("linux/aarch64", "linux/arm64/v8", True),
    ("linux/arm", "linux/arm/v7", True),
    ("linux/armhf", "linux/arm/v7", True),
    ("linux/arm/v6", "linux/arm/v7", False),
    ("linux/arm", "linux/arm/v6", False),
    ("linux/arm64/v8", "linux/arm64/v9", False),
    ("linux/amd64", "linux/arm64", False),
    ("linux/amd64", "windows/amd64", False),
    ("linux/amd64", "linux/amd64/v2", False),
    ("windows/amd64", "windows/amd64,osversion=10.0.17763.1", True),
    ("windows/amd64,osversion=10.0.17763.1", "windows/amd64,osversion=10.0.17763.1", True),
    ("windows/amd64,osversion=10.0.17763.1", "windows/amd64,osversion=10.0.20348.1", False),
]


@pytest.mark.parametrize(("a", "b", "expected"), MATCHES)
def test_matches(a: str, b: str, expected: bool) -> None:
    assert P(a).matches(P(b)) is expected
    assert P(b).matches(P(a)) is expected  # symmetric


@pytest.mark.parametrize(
    ("text", "effective"),
    [("linux/arm64", "v8"), ("linux/arm", "v7"), ("linux/arm/v6", "v6"), ("linux/amd64", None)],
)
def test_effective_variant(text: str, effective: str | None) -> None:
    assert P(text).effective_variant == effective


# --------------------------------------------------------------------------- choose

ALL = [
    "linux/amd64",
    "linux/arm/v6",
    "linux/arm/v7",
    "linux/arm64/v8",
    "linux/386",
    "windows/amd64,osversion=10.0.17763.1",
]


@pytest.mark.parametrize(
    ("items", "wanted", "index"),
    [
        (ALL, "linux/amd64", 0),
        (ALL, "linux/x86_64", 0),
        (ALL, "linux/arm64", 3),
        (ALL, "linux/arm64/v8", 3),
        (ALL, "linux/arm", 2),
        (ALL, "linux/arm/v7", 2),
        (ALL, "linux/arm/v6", 1),
        (ALL, "windows/amd64", 5),
        (ALL, "windows/amd64,osversion=10.0.17763.1", 5),
        # an exact variant beats an assumed default, wherever it comes in the list
        (["linux/arm64/v8", "linux/arm64"], "linux/arm64", 1),
        (["linux/arm64", "linux/arm64/v8"], "linux/arm64/v8", 1),
        (["linux/arm/v7", "linux/arm"], "linux/arm", 1),
        # the first wins ties
        (["linux/amd64", "linux/amd64"], "linux/amd64", 0),
        (["linux/arm64/v8", "linux/arm64/v8"], "linux/arm64", 0),
        # an exact os version beats none
        (
            ["windows/amd64", "windows/amd64,osversion=10.0.1", "windows/amd64,osversion=10.0.2"],
            "windows/amd64,osversion=10.0.2",
            2,
        ),
        (["windows/amd64,osversion=10.0.1", "windows/amd64"], "windows/amd64", 1),
        # items without a platform are skipped
        ([None, "linux/amd64"], "linux/amd64", 1),
    ],
)
def test_choose(items: list[str | None], wanted: str, index: int) -> None:
    entries = list(enumerate(items))
    picked = choose(entries, P(wanted), lambda e: None if e[1] is None else P(e[1]))
    assert picked == entries[index]


def test_choose_not_found_lists_present_platforms() -> None:
    items = ["linux/amd64", "linux/arm/v7", "linux/amd64", None]
    with pytest.raises(PlatformNotFound) as info:
        choose(items, P("linux/arm64"), lambda s: None if s is None else P(s), what="ubuntu")
    err = info.value
    assert err.present == ("linux/amd64", "linux/arm/v7")
    assert err.wanted == "linux/arm64 in ubuntu"
    message = str(err)
    assert "linux/arm64" in message
    assert "linux/amd64, linux/arm/v7" in message


def test_choose_not_found_empty() -> None:
    with pytest.raises(PlatformNotFound, match="none") as info:
        choose([], P("linux/amd64"), lambda s: s)
    assert info.value.present == ()
    assert info.value.wanted == "linux/amd64"


def test_choose_not_found_variant_mismatch() -> None:
    with pytest.raises(PlatformNotFound, match="linux/arm/v6"):
        choose(["linux/arm/v6"], P("linux/arm/v7"), P)


# --------------------------------------------------------------------------- dicts

DICTS = [
    ({"architecture": "amd64", "os": "linux"}, "linux/amd64"),
    ({"architecture": "arm64", "os": "linux", "variant": "v8"}, "linux/arm64/v8"),
    ({"architecture": "arm", "os": "linux", "variant": "v7"}, "linux/arm/v7"),
    (
        {
            "architecture": "amd64",
            "os": "windows",
            "os.version": "10.0.17763.1",
            "os.features": ["win32k"],
        },
        "windows/amd64,osversion=10.0.17763.1",
    ),
]


@pytest.mark.parametrize(("data", "text"), DICTS)
def test_dict_round_trip(data: dict[str, Any], text: str) -> None:
    p = Platform.from_dict(data)
    assert str(p) == text
    assert p.to_dict() == data
    assert Platform.from_dict(p.to_dict()) == p


def test_from_dict_normalises() -> None:
    p = Platform.from_dict({"os": "Linux", "architecture": "x86_64", "variant": ""})
    assert p == Platform("linux", "amd64")
    assert p.to_dict() == {"architecture": "amd64", "os": "linux"}
    assert Platform.from_dict({"os": "windows", "architecture": "amd64", "os.features": None})
    features = Platform.from_dict(
        {"os": "windows", "architecture": "amd64", "os.features": ["a", "b"]}
    ).os_features
    assert features == ("a", "b")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"os": "linux"},
        {"architecture": "amd64"},
        {"os": "", "architecture": "amd64"},
        {"os": "linux", "architecture": "amd64", "variant": 7},
        {"os": "linux", "architecture": "amd64", "os.features": 5},
        ["linux", "amd64"],
        None,
    ],
)
def test_from_dict_invalid(data: Any) -> None:
    with pytest.raises(InvalidPlatform):
        Platform.from_dict(data)


# --------------------------------------------------------------------------- hypothesis

words = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True)
os_versions = st.from_regex(r"[0-9]{1,5}(?:\.[0-9]{1,5}){0,3}", fullmatch=True)
platforms = st.builds(
    Platform,
    words,
    words | st.sampled_from(["x86_64", "aarch64", "armhf", "i386"]),
    st.none() | words,
    st.none() | os_versions,
)


@given(platforms)
def test_str_round_trip(p: Platform) -> None:
    assert P(str(p)) == p
    assert str(P(str(p))) == str(p)
    assert p.matches(P(str(p)))


@given(platforms, st.lists(words, max_size=3).map(tuple))
def test_dict_round_trip_any(p: Platform, features: tuple[str, ...]) -> None:
    p = dataclasses.replace(p, os_features=features)
    assert Platform.from_dict(p.to_dict()) == p


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=40)
    | st.lists(st.sampled_from(["linux", "amd64", "arm", "v7", "", "/"]), max_size=5).map("/".join)
)
def test_fuzz_platform_parse_only_invalid_platform(text: str) -> None:
    try:
        platform = Platform.parse(text)
    except InvalidPlatform:
        return
    assert Platform.parse(str(platform)) == platform


@settings(max_examples=300, deadline=None)
@given(PLATFORMISH | JSON)
def test_fuzz_platform_from_dict_only_hoist_errors(data: Any) -> None:
    from hoist.errors import HoistError

    try:
        platform = Platform.from_dict(data)
    except HoistError:
        return
    assert isinstance(str(platform), str)
