"""Tests for hoist.model.descriptor (OCI image-spec descriptor.md)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hoist.errors import HoistError, InvalidInput, InvalidManifest
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Annotations, Descriptor
from hoist.model.digest import Digest, digest_of
from hoist.model.platform import Platform

HELLO = b"hello"
HELLO_B64 = base64.b64encode(HELLO).decode()  # "aGVsbG8="
D_HELLO = str(digest_of(HELLO))
D_HELLO_512 = str(digest_of(HELLO, "sha512"))
D_EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
D_OTHER = "sha256:" + "ab" * 32
MISSING = object()


def obj(**changes: Any) -> dict[str, Any]:
    """A valid layer descriptor object with some fields changed (MISSING deletes one)."""
    out: dict[str, Any] = {"mediaType": mt.OCI_LAYER_GZIP, "digest": D_HELLO, "size": 5}
    for key, value in changes.items():
        key = {"media_type": "mediaType", "artifact_type": "artifactType"}.get(key, key)
        if value is MISSING:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- from_dict: valid


VALID = [
    pytest.param(obj(), {}, id="minimal"),
    pytest.param(obj(size=0, digest=D_EMPTY), {"size": 0}, id="size-zero"),
    pytest.param(obj(size=2**53), {"size": 2**53}, id="size-huge"),
    pytest.param(
        obj(urls=["https://a.example/blob", "https://b.example/blob"]),
        {"urls": ("https://a.example/blob", "https://b.example/blob")},
        id="urls",
    ),
    pytest.param(obj(urls=[]), {"urls": ()}, id="urls-empty"),
    pytest.param(
        obj(annotations={"org.opencontainers.image.title": "hello.txt", "k": ""}),
        {"annotations": {"org.opencontainers.image.title": "hello.txt", "k": ""}},
        id="annotations",
    ),
    pytest.param(
        obj(mediaType=mt.OCI_MANIFEST, platform={"architecture": "amd64", "os": "linux"}),
        {"platform": Platform("linux", "amd64")},
        id="platform",
    ),
    pytest.param(
        obj(platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
        {"platform": Platform("linux", "arm64", "v8")},
        id="platform-variant",
    ),
    pytest.param(
        obj(
            platform={
                "architecture": "amd64",
                "os": "windows",
                "os.version": "10.0.17763.1757",
                "os.features": ["win32k"],
            }
        ),
        {"platform": Platform("windows", "amd64", None, "10.0.17763.1757", ("win32k",))},
        id="platform-windows",
    ),
    pytest.param(
        obj(artifactType="application/vnd.example.sbom.v1+json"),
        {"artifact_type": "application/vnd.example.sbom.v1+json"},
        id="artifact-type",
    ),
    pytest.param(obj(data=HELLO_B64), {"data": HELLO}, id="data-matches"),
    pytest.param(obj(digest=D_EMPTY, size=0, data=""), {"data": b"", "size": 0}, id="data-empty"),
    pytest.param(
        obj(digest=D_HELLO_512, data=HELLO_B64),
        {"digest": Digest.parse(D_HELLO_512), "data": HELLO},
        id="data-sha512",
    ),
    pytest.param(
        obj(urls=None, annotations=None, platform=None, artifactType=None, data=None),
        {"urls": (), "annotations": {}, "platform": None, "artifact_type": None, "data": None},
        id="explicit-nulls",
    ),
    pytest.param(
        obj(**{"x-unknown": {"nested": True}, "features": ["sse4"]}), {}, id="unknown-fields"
    ),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_from_dict_valid(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    d = Descriptor.from_dict(raw)
    want: dict[str, Any] = {
        "media_type": raw["mediaType"],
        "digest": Digest.parse(raw["digest"]),
        "size": raw["size"],
        "urls": (),
        "annotations": {},
        "platform": None,
        "artifact_type": None,
        "data": None,
    }
    want.update(expected)
    got = {f.name: getattr(d, f.name) for f in dataclasses.fields(d)}
    assert got == want
    assert isinstance(d.annotations, Annotations)
    assert isinstance(d.urls, tuple)


# --------------------------------------------------------------------------- from_dict: invalid


INVALID = [
    pytest.param([], "not a JSON object", id="list"),
    pytest.param(None, "not a JSON object", id="null"),
    pytest.param("sha256:abc", "not a JSON object", id="string"),
    pytest.param(obj(mediaType=MISSING), "mediaType", id="mediaType-missing"),
    pytest.param(obj(mediaType=""), "mediaType", id="mediaType-empty"),
    pytest.param(obj(mediaType=7), "mediaType", id="mediaType-int"),
    pytest.param(obj(mediaType=None), "mediaType", id="mediaType-null"),
    pytest.param(obj(digest=MISSING), "digest", id="digest-missing"),
    pytest.param(obj(digest=None), "digest", id="digest-null"),
    pytest.param(obj(digest=123), "digest", id="digest-int"),
    pytest.param(obj(digest="e3b0c442" * 8), "algorithm:hex", id="digest-no-algorithm"),
    pytest.param(obj(digest="sha256:" + "A" * 64), "lowercase", id="digest-uppercase"),
    pytest.param(obj(digest="sha256:abc"), "64", id="digest-short"),
    pytest.param(obj(digest="md5:" + "0" * 32), "unsupported", id="digest-md5"),
    pytest.param(obj(size=MISSING), "size", id="size-missing"),
    pytest.param(obj(size=None), "size", id="size-null"),
    pytest.param(obj(size=-1), "size", id="size-negative"),
    pytest.param(obj(size=True), "size", id="size-bool-true"),
    pytest.param(obj(size=False), "size", id="size-bool-false"),
    pytest.param(obj(size=5.0), "size", id="size-float"),
    pytest.param(obj(size="5"), "size", id="size-string"),
    pytest.param(obj(urls="https://a.example/blob"), "urls", id="urls-string"),
    pytest.param(obj(urls={}), "urls", id="urls-empty-object"),
    pytest.param(obj(urls=""), "urls", id="urls-empty-string"),
    pytest.param(obj(urls=["https://a.example", 3]), "urls", id="urls-non-string-item"),
    pytest.param(obj(annotations=["k=v"]), "annotations", id="annotations-list"),
    pytest.param(obj(annotations="k=v"), "annotations", id="annotations-string"),
    pytest.param(obj(annotations={"k": 1}), "annotations", id="annotations-int-value"),
    pytest.param(obj(annotations={"k": None}), "annotations", id="annotations-null-value"),
    pytest.param(obj(annotations={"k": True}), "annotations", id="annotations-bool-value"),
    pytest.param(obj(annotations={"k": {"a": "b"}}), "annotations", id="annotations-object"),
    pytest.param(obj(annotations={"k": ["v"]}), "annotations", id="annotations-list-value"),
    pytest.param(obj(platform="linux/amd64"), "platform", id="platform-string"),
    pytest.param(obj(platform=["linux", "amd64"]), "platform", id="platform-list"),
    pytest.param(obj(platform={"os": "linux"}), "platform", id="platform-no-architecture"),
    pytest.param(obj(platform={"architecture": "amd64"}), "platform", id="platform-no-os"),
    pytest.param(obj(platform={}), "platform", id="platform-empty"),
    pytest.param(
        obj(platform={"os": None, "architecture": "amd64"}), "platform", id="platform-os-null"
    ),
    pytest.param(
        obj(platform={"os": "linux", "architecture": 64}), "platform", id="platform-arch-int"
    ),
    pytest.param(
        obj(platform={"os": "linux", "architecture": "amd/64"}),
        "architecture",
        id="platform-arch-slash",
    ),
    pytest.param(obj(platform={"os": "", "architecture": "amd64"}), "os", id="platform-os-empty"),
    pytest.param(
        obj(platform={"os": "linux", "architecture": "arm64", "variant": 8}),
        "platform",
        id="platform-variant-int",
    ),
    pytest.param(
        obj(platform={"os": "windows", "architecture": "amd64", "os.version": 10}),
        "platform",
        id="platform-os-version-int",
    ),
    pytest.param(
        obj(platform={"os": "windows", "architecture": "amd64", "os.features": "win32k"}),
        "platform",
        id="platform-os-features-string",
    ),
    pytest.param(obj(artifactType=5), "artifactType", id="artifactType-int"),
    pytest.param(
        obj(data=base64.b64encode(b"hellO").decode()), "does not match", id="data-wrong-content"
    ),
    pytest.param(
        obj(data=base64.b64encode(b"hello!").decode()), "does not match", id="data-wrong-size"
    ),
    pytest.param(obj(size=6, data=HELLO_B64), "does not match", id="data-size-field-wrong"),
    pytest.param(obj(digest=D_OTHER, data=HELLO_B64), "does not match", id="data-digest-wrong"),
    pytest.param(
        obj(digest=D_HELLO_512, data=base64.b64encode(b"hellO").decode()),
        "does not match",
        id="data-sha512-wrong",
    ),
    pytest.param(obj(data="not base64!"), "base64", id="data-not-base64"),
    pytest.param(obj(data="aGVsbG8"), "base64", id="data-bad-padding"),
    pytest.param(obj(data="aGVs\nbG8="), "base64", id="data-newline"),
    pytest.param(obj(data="aGVsbG8=="), "base64", id="data-extra-padding"),
    pytest.param(obj(data="é"), "base64", id="data-non-ascii"),
    pytest.param(obj(data=12345), "base64", id="data-int"),
    pytest.param(obj(data=["aGVsbG8="]), "base64", id="data-list"),
]


@pytest.mark.parametrize(("raw", "fragment"), INVALID)
def test_from_dict_invalid(raw: Any, fragment: str) -> None:
    with pytest.raises(InvalidManifest) as info:
        Descriptor.from_dict(raw, "layers[3]")
    exc = info.value
    assert isinstance(exc, ValueError)
    assert isinstance(exc, InvalidInput)
    assert isinstance(exc, HoistError)
    assert str(exc).startswith("layers[3]")
    assert fragment in str(exc)


def test_from_dict_default_where() -> None:
    with pytest.raises(InvalidManifest, match=r"^descriptor: "):
        Descriptor.from_dict(obj(size=-1))


def test_from_dict_copies_input() -> None:
    raw = obj(urls=["https://a.example"], annotations={"k": "v"})
    d = Descriptor.from_dict(raw)
    raw["urls"].append("https://b.example")
    raw["annotations"]["k"] = "changed"
    assert d.urls == ("https://a.example",)
    assert d.annotations == {"k": "v"}


# --------------------------------------------------------------------------- to_dict


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_to_dict_round_trip(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    d = Descriptor.from_dict(raw)
    out = d.to_dict()
    assert Descriptor.from_dict(out) == d
    assert Descriptor.from_dict(json.loads(json.dumps(out))) == d
    assert out["mediaType"] == raw["mediaType"]
    assert out["digest"] == raw["digest"]
    assert out["size"] == raw["size"]
    assert list(out)[:3] == ["mediaType", "digest", "size"]
    # Unknown fields and nulls are not carried; set optional fields are.
    for key in ("urls", "annotations", "platform", "artifactType", "data"):
        value = raw.get(key)
        if value in (None, [], {}):
            assert key not in out
        else:
            assert out[key] == value


def test_to_dict_minimal_exact() -> None:
    assert Descriptor.from_dict(obj()).to_dict() == {
        "mediaType": mt.OCI_LAYER_GZIP,
        "digest": D_HELLO,
        "size": 5,
    }


def test_to_dict_is_fresh() -> None:
    d = Descriptor.from_dict(obj(urls=["https://a.example"], annotations={"k": "v"}))
    out = d.to_dict()
    out["urls"].append("x")
    out["annotations"]["k"] = "changed"
    assert d.to_dict()["urls"] == ["https://a.example"]
    assert d.annotations == {"k": "v"}


_media = st.sampled_from([mt.OCI_LAYER_GZIP, mt.OCI_MANIFEST, mt.OCI_CONFIG, "text/plain"])
_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
_word = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,9}", fullmatch=True)
_platforms = st.builds(
    Platform,
    os=st.sampled_from(["linux", "windows", "freebsd"]),
    architecture=st.sampled_from(["amd64", "arm64", "arm", "s390x", "riscv64"]),
    variant=st.none() | st.sampled_from(["v6", "v7", "v8"]),
    os_version=st.none() | _word,
    os_features=st.lists(_word, max_size=2).map(tuple),
)


@st.composite
def descriptors(draw: st.DrawFn) -> Descriptor:
    content = draw(st.binary(max_size=64))
    algorithm = draw(st.sampled_from(["sha256", "sha512"]))
    return Descriptor(
        draw(_media),
        digest_of(content, algorithm),
        len(content),
        urls=tuple(draw(st.lists(_text, max_size=3))),
        annotations=Annotations(draw(st.dictionaries(_text, _text, max_size=4))),
        platform=draw(st.none() | _platforms),
        artifact_type=draw(st.none() | st.just("application/vnd.example+json")),
        data=draw(st.none() | st.just(content)),
    )


@given(descriptors())
def test_round_trip_property(d: Descriptor) -> None:
    text = json.dumps(d.to_dict())
    back = Descriptor.from_dict(json.loads(text))
    assert back == d
    assert hash(back) == hash(d)
    assert back.to_dict() == d.to_dict()


# --------------------------------------------------------------------------- Annotations


def test_annotations_mapping_interface() -> None:
    a = Annotations({"b": "2", "a": "1"})
    assert list(a) == ["b", "a"]  # insertion order kept
    assert len(a) == 2
    assert a["a"] == "1"
    assert a.get("missing") is None
    assert "b" in a
    assert dict(a.items()) == {"a": "1", "b": "2"}
    assert repr(a) == "Annotations({'b': '2', 'a': '1'})"
    assert Annotations() == {} and len(Annotations(None)) == 0
    with pytest.raises(KeyError):
        a["missing"]


def test_annotations_immutable() -> None:
    source = {"k": "v"}
    a = Annotations(source)
    source["k"] = "changed"
    source["new"] = "x"
    assert a == {"k": "v"}
    with pytest.raises(TypeError):
        a["k"] = "w"  # type: ignore[index]
    with pytest.raises(TypeError):
        del a["k"]  # type: ignore[attr-defined]
    for name in ("update", "pop", "clear", "setdefault", "popitem"):
        assert not hasattr(a, name)
    with pytest.raises(AttributeError):
        a.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(a, "__dict__")


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        pytest.param(Annotations({"a": "1"}), {"a": "1"}, True, id="dict-equal"),
        pytest.param(Annotations({"a": "1", "b": "2"}), {"b": "2", "a": "1"}, True, id="order"),
        pytest.param(Annotations({"a": "1"}), {"a": "2"}, False, id="dict-value-differs"),
        pytest.param(Annotations({"a": "1"}), {"a": "1", "b": "2"}, False, id="dict-superset"),
        pytest.param(Annotations(), {}, True, id="both-empty"),
        pytest.param(
            Annotations({"a": "1"}), Annotations({"a": "1"}), True, id="annotations-equal"
        ),
        pytest.param(Annotations({"a": "1"}), [("a", "1")], False, id="list-of-pairs"),
        pytest.param(Annotations(), None, False, id="none"),
        pytest.param(Annotations(), "", False, id="string"),
    ],
)
def test_annotations_equality(left: Annotations, right: Any, equal: bool) -> None:
    assert (left == right) is equal
    assert (right == left) is equal
    assert (left != right) is not equal
    assert (right != left) is not equal


def test_annotations_hashable() -> None:
    a = Annotations({"a": "1", "b": "2"})
    b = Annotations({"b": "2", "a": "1"})
    assert hash(a) == hash(b)
    assert {a: "x"}[b] == "x"
    assert len({a, b, Annotations({"a": "1"})}) == 2
    assert hash(Annotations()) == hash(Annotations({}))


@given(st.dictionaries(_text, _text, max_size=6), st.randoms())
def test_annotations_order_independent(items: dict[str, str], rnd: Any) -> None:
    keys = list(items)
    rnd.shuffle(keys)
    a, b = Annotations(items), Annotations({k: items[k] for k in keys})
    assert a == b == items
    assert hash(a) == hash(b)


# --------------------------------------------------------------------------- Descriptor


def test_descriptor_hashable_and_in_sets() -> None:
    full = obj(
        urls=["https://a.example"],
        annotations={"k": "v"},
        platform={"os": "linux", "architecture": "arm64", "variant": "v8"},
        artifactType="application/vnd.example",
        data=HELLO_B64,
    )
    a = Descriptor.from_dict(full)
    b = Descriptor.from_dict(json.loads(json.dumps(full)))
    c = Descriptor.from_dict(obj())
    assert a == b and hash(a) == hash(b)
    assert a is not b
    assert {a, b, c} == {a, c}
    assert len({a, b, c}) == 2
    assert {a: 1}[b] == 1
    assert a != c
    assert a != a.replace(annotations={"k": "w"})
    assert a != a.replace(platform=Platform("linux", "amd64"))


def test_descriptor_frozen() -> None:
    d = Descriptor.from_dict(obj())
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.size = 6  # type: ignore[misc]


def test_descriptor_replace() -> None:
    d = Descriptor.from_dict(obj())
    r = d.replace(annotations={"org.opencontainers.image.ref.name": "v1"}, size=7)
    assert isinstance(r.annotations, Annotations)
    assert r.ref_name == "v1"
    assert r.size == 7
    assert d.ref_name is None and d.size == 5
    hash(r)


def test_descriptor_of() -> None:
    d = Descriptor.of(mt.OCI_CONFIG, b"{}")
    assert d.digest == digest_of(b"{}")
    assert d.size == 2
    assert d.media_type == mt.OCI_CONFIG
    assert d.data is None
    d2 = Descriptor.of(mt.OCI_LAYER, HELLO, urls=("https://a.example",))
    assert d2.urls == ("https://a.example",)
    assert str(d2.digest) == "sha256:" + hashlib.sha256(HELLO).hexdigest()


# --------------------------------------------------------------------------- empty descriptor

# image-spec manifest.md, "Guidance for an Empty Descriptor".
SPEC_EMPTY = {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "size": 2,
    "data": "e30=",
}


def test_empty_descriptor_is_the_spec_one() -> None:
    assert EMPTY_DESCRIPTOR.media_type == mt.OCI_EMPTY == SPEC_EMPTY["mediaType"]
    assert str(EMPTY_DESCRIPTOR.digest) == SPEC_EMPTY["digest"]
    assert EMPTY_DESCRIPTOR.digest.hex == hashlib.sha256(b"{}").hexdigest()
    assert EMPTY_DESCRIPTOR.size == 2
    assert EMPTY_DESCRIPTOR.data == b"{}"
    assert EMPTY_DESCRIPTOR.to_dict() == SPEC_EMPTY
    assert list(EMPTY_DESCRIPTOR.to_dict()) == ["mediaType", "digest", "size", "data"]
    assert Descriptor.from_dict(SPEC_EMPTY) == EMPTY_DESCRIPTOR
    assert EMPTY_DESCRIPTOR.urls == () and EMPTY_DESCRIPTOR.annotations == {}
    assert EMPTY_DESCRIPTOR.platform is None and EMPTY_DESCRIPTOR.artifact_type is None
