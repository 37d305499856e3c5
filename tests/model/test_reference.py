"""Tests for hoist.model.reference."""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hoist.errors import InvalidInput, InvalidReference
from hoist.model.digest import Digest
from hoist.model.reference import LayoutReference, Reference, parse_reference

H256 = "0123456789abcdef" * 4
H512 = "fedcba9876543210" * 8
D256 = f"sha256:{H256}"
D512 = f"sha512:{H512}"
DG256 = Digest("sha256", H256)
DG512 = Digest("sha512", H512)

# --------------------------------------------------------------------------- registry refs: valid

# text, registry, repository, tag, digest, canonical str, familiar
VALID = [
    ("ubuntu", "docker.io", "library/ubuntu", "latest", None,
     "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", None,
     "docker.io/library/ubuntu:22.04", "ubuntu:22.04"),
    ("library/ubuntu", "docker.io", "library/ubuntu", "latest", None,
     "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", None,
     "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("docker.io/library/ubuntu:latest", "docker.io", "library/ubuntu", "latest", None,
     "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("index.docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", None,
     "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("registry-1.docker.io/library/alpine:3.19", "docker.io", "library/alpine", "3.19", None,
     "docker.io/library/alpine:3.19", "alpine:3.19"),
    ("Docker.IO/alpine", "docker.io", "library/alpine", "latest", None,
     "docker.io/library/alpine:latest", "alpine:latest"),
    ("foo/bar", "docker.io", "foo/bar", "latest", None,
     "docker.io/foo/bar:latest", "foo/bar:latest"),
    ("foo/bar/baz:v1", "docker.io", "foo/bar/baz", "v1", None,
     "docker.io/foo/bar/baz:v1", "foo/bar/baz:v1"),
    ("library/foo/bar", "docker.io", "library/foo/bar", "latest", None,
     "docker.io/library/foo/bar:latest", "library/foo/bar:latest"),
    ("docker.io/foo.bar/baz", "docker.io", "foo.bar/baz", "latest", None,
     "docker.io/foo.bar/baz:latest", "docker.io/foo.bar/baz:latest"),
    ("docker.io/localhost/baz", "docker.io", "localhost/baz", "latest", None,
     "docker.io/localhost/baz:latest", "docker.io/localhost/baz:latest"),
    ("example.com", "docker.io", "library/example.com", "latest", None,
     "docker.io/library/example.com:latest", "example.com:latest"),
    ("localhost", "docker.io", "library/localhost", "latest", None,
     "docker.io/library/localhost:latest", "localhost:latest"),
    ("localhost:5000", "docker.io", "library/localhost", "5000", None,
     "docker.io/library/localhost:5000", "localhost:5000"),
    ("ubuntu@" + D256, "docker.io", "library/ubuntu", None, DG256,
     "docker.io/library/ubuntu@" + D256, "ubuntu@" + D256),
    ("ubuntu:22.04@" + D256, "docker.io", "library/ubuntu", "22.04", DG256,
     "docker.io/library/ubuntu:22.04@" + D256, "ubuntu:22.04@" + D256),
    ("ghcr.io/owner/repo:v1.2.3", "ghcr.io", "owner/repo", "v1.2.3", None,
     "ghcr.io/owner/repo:v1.2.3", "ghcr.io/owner/repo:v1.2.3"),
    ("gcr.io/proj/img@" + D512, "gcr.io", "proj/img", None, DG512,
     "gcr.io/proj/img@" + D512, "gcr.io/proj/img@" + D512),
    ("localhost/foo", "localhost", "foo", "latest", None,
     "localhost/foo:latest", "localhost/foo:latest"),
    ("LOCALHOST/foo", "localhost", "foo", "latest", None,
     "localhost/foo:latest", "localhost/foo:latest"),
    ("localhost:5000/a/b:t@" + D256, "localhost:5000", "a/b", "t", DG256,
     "localhost:5000/a/b:t@" + D256, "localhost:5000/a/b:t@" + D256),
    ("127.0.0.1:5000/foo", "127.0.0.1:5000", "foo", "latest", None,
     "127.0.0.1:5000/foo:latest", "127.0.0.1:5000/foo:latest"),
    ("[::1]:5000/x", "[::1]:5000", "x", "latest", None,
     "[::1]:5000/x:latest", "[::1]:5000/x:latest"),
    ("[::1]/x", "[::1]", "x", "latest", None, "[::1]/x:latest", "[::1]/x:latest"),
    ("[2001:DB8::1]:443/a/b:tag", "[2001:db8::1]:443", "a/b", "tag", None,
     "[2001:db8::1]:443/a/b:tag", "[2001:db8::1]:443/a/b:tag"),
    ("[::ffff:1.2.3.4]:5000/x", "[::ffff:1.2.3.4]:5000", "x", "latest", None,
     "[::ffff:1.2.3.4]:5000/x:latest", "[::ffff:1.2.3.4]:5000/x:latest"),
    ("Example.COM/foo", "example.com", "foo", "latest", None,
     "example.com/foo:latest", "example.com/foo:latest"),
    ("my-registry.example.com:443/deep/a/b/c/d/e:t", "my-registry.example.com:443",
     "deep/a/b/c/d/e", "t", None, "my-registry.example.com:443/deep/a/b/c/d/e:t",
     "my-registry.example.com:443/deep/a/b/c/d/e:t"),
    ("reg:5000/x", "reg:5000", "x", "latest", None, "reg:5000/x:latest", "reg:5000/x:latest"),
    ("a.b/c", "a.b", "c", "latest", None, "a.b/c:latest", "a.b/c:latest"),
    ("x/a.b_c__d-e---f", "docker.io", "x/a.b_c__d-e---f", "latest", None,
     "docker.io/x/a.b_c__d-e---f:latest", "x/a.b_c__d-e---f:latest"),
    ("x/0:_", "docker.io", "x/0", "_", None, "docker.io/x/0:_", "x/0:_"),
    ("x:A-b.C_d", "docker.io", "library/x", "A-b.C_d", None,
     "docker.io/library/x:A-b.C_d", "x:A-b.C_d"),
    ("x:" + "t" * 128, "docker.io", "library/x", "t" * 128, None,
     "docker.io/library/x:" + "t" * 128, "x:" + "t" * 128),
    ("example.com/" + "a" * 243, "example.com", "a" * 243, "latest", None,
     "example.com/" + "a" * 243 + ":latest", "example.com/" + "a" * 243 + ":latest"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "canonical", "familiar"), VALID
)
def test_parse_valid(
    text: str,
    registry: str,
    repository: str,
    tag: str | None,
    digest: Digest | None,
    canonical: str,
    familiar: str,
) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert str(ref) == canonical
    assert ref.familiar == familiar
    assert ref.name == f"{registry}/{repository}"
    assert parse_reference(text) == ref
    assert Reference.parse(canonical) == ref
    assert Reference.parse(familiar) == ref
    assert str(Reference.parse(canonical)) == canonical


# --------------------------------------------------------------------------- registry refs: invalid

# text, a substring the message must contain
INVALID = [
    ("", "empty reference"),
    ("Ubuntu", "lowercase"),
    ("foo/Bar", "lowercase"),
    ("ghcr.io/Owner/repo", "lowercase"),
    ("ubuntu:bad tag", "' '"),
    ("ubuntu:t!g", "'!'"),
    ("ubuntu:tag/x", "port"),  # a '/' after the ':' makes "ubuntu:tag" a registry
    ("ubuntu:", "empty tag"),
    ("ubuntu:.tag", "must not start with '.'"),
    ("ubuntu:-tag", "must not start with '-'"),
    ("ubuntu:" + "a" * 129, "129 characters"),
    ("ubuntu:t\u00e9", "'\u00e9'"),
    ("ubuntu@sha256:abc", "sha256"),
    ("ubuntu@sha256:" + "A" * 64, "lowercase hex"),
    ("ubuntu@sha1:" + "a" * 40, "sha1"),
    ("ubuntu@md5:" + "a" * 32, "md5"),
    ("ubuntu@" + H256, "algorithm:hex"),
    ("ubuntu@", "empty digest"),
    ("ubuntu@" + D256 + "@" + D256, "sha256"),
    ("@" + D256, "empty name"),
    (":tag", "empty name"),
    ("a//b", "empty path component"),
    ("/a", "empty path component"),
    ("a/", "empty path component"),
    ("localhost:5000/", "empty"),
    ("localhost:5000//a", "empty path component"),
    ("a..b", "'a..b'"),
    ("-a", "'-a'"),
    ("a-", "'a-'"),
    ("_a", "'_a'"),
    ("a___b", "'a___b'"),
    ("a._b", "'a._b'"),
    ("foo/ba r", "' '"),
    ("ubuntu latest", "' '"),
    ("foo/bar$", "'$'"),
    ("ubuntu:tag:tag2", "':'"),
    ("http://example.com/foo", "scheme"),
    ("https://example.com/foo", "scheme"),
    ("docker://Ubuntu", "lowercase"),
    ("dir:/tmp/x", "skopeo's dir: transport"),
    ("foo://bar", "scheme"),
    ("example.com:port/foo", "port"),
    ("example.com:/foo", "empty port"),
    ("example.com:99999/foo", "port"),
    ("example.com:0/foo", "port"),
    ("example.com:5000:1/foo", "port"),
    (":5000/foo", "empty host"),
    ("[::1/foo", "']'"),
    ("[zz::1]:5000/foo", "IPv6"),
    ("[1:2:3]:5000/foo", "IPv6"),
    ("[1.2.3.4]/foo", "IPv6"),
    ("[fe80::1%eth0]/foo", "IPv6"),
    ("[::1]x/foo", "'x'"),
    ("[::1]:/foo", "empty port"),
    ("-example.com/foo", "'-'"),
    ("example-.com/foo", "'-'"),
    ("ex_ample.com/foo", "'_'"),
    ("example..com/foo", "empty host name label"),
    (".example.com/foo", "empty host name label"),
    ("example.com./foo", "empty host name label"),
    ("foo.bar_baz/qux", "'_'"),
    ("example.com/" + "a" * 244, "256 characters"),
    ("a" * 240, "258 characters"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as info:
        parse_reference(text)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, InvalidInput)
    assert message in str(info.value)
    assert repr(text) in str(info.value)
    if "://" not in text:
        with pytest.raises(InvalidReference):
            Reference.parse(text)


@pytest.mark.parametrize(
    "text",
    ["ocidir://./dir", "oci-archive://x.tar", "http://example.com/foo", "a://b", "docker://a"],
)
def test_reference_parse_rejects_schemes(text: str) -> None:
    with pytest.raises(InvalidReference, match="no scheme"):
        Reference.parse(text)


# --------------------------------------------------------------------------- registry refs: values


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("docker.io", "ubuntu"), "docker.io/library/ubuntu:latest"),
        (("index.docker.io", "ubuntu", "x"), "docker.io/library/ubuntu:x"),
        (("registry-1.docker.io", "a/b"), "docker.io/a/b:latest"),
        (("ghcr.io", "a", None, DG256), "ghcr.io/a@" + D256),
        (("GHCR.io", "a", "t", DG256), "ghcr.io/a:t@" + D256),
    ],
)
def test_constructor_normalises(args: tuple[object, ...], expected: str) -> None:
    ref = Reference(*args)  # type: ignore[arg-type]
    assert str(ref) == expected
    assert Reference.parse(expected) == ref


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("myregistry", "foo"), "must contain '.' or ':'"),
        (("", "foo"), "empty registry"),
        (("ghcr.io", ""), "empty repository"),
        (("ghcr.io", "Foo"), "lowercase"),
        (("ghcr.io", "foo", ""), "empty tag"),
        (("ghcr.io", "foo", "a b"), "' '"),
        (("ghcr.io", "foo", None, D256), "must be a Digest"),
    ],
)
def test_constructor_validates(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidReference, match=message):
        Reference(*args)  # type: ignore[arg-type]


def test_reference_is_immutable_and_hashable() -> None:
    a = Reference.parse("ubuntu")
    b = Reference.parse("docker.io/library/ubuntu:latest")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, Reference.parse("ubuntu:22.04")}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.tag = "x"  # type: ignore[misc]


def test_with_tag_and_digest() -> None:
    ref = Reference.parse("ghcr.io/a/b:v1")
    pinned = ref.with_digest(DG256)
    assert str(pinned) == "ghcr.io/a/b:v1@" + D256
    assert pinned.version_ref == D256
    retagged = pinned.with_tag("v2")
    assert str(retagged) == "ghcr.io/a/b:v2"
    assert retagged.digest is None
    assert retagged.version_ref == "v2"
    assert str(ref.with_tag(None)) == "ghcr.io/a/b:latest"
    assert str(pinned.with_digest(None)) == "ghcr.io/a/b:v1"
    digest_only = Reference.parse("ghcr.io/a/b@" + D256)
    assert digest_only.with_digest(None).tag == "latest"
    with pytest.raises(InvalidReference):
        ref.with_tag("bad tag")
    assert ref == Reference.parse("ghcr.io/a/b:v1")  # unchanged


@pytest.mark.parametrize(
    ("text", "api_host", "version_ref"),
    [
        ("ubuntu", "registry-1.docker.io", "latest"),
        ("index.docker.io/foo/bar:t", "registry-1.docker.io", "t"),
        ("ghcr.io/a/b:t@" + D256, "ghcr.io", D256),
        ("localhost:5000/a@" + D512, "localhost:5000", D512),
        ("[::1]:5000/x:y", "[::1]:5000", "y"),
    ],
)
def test_api_host_and_version_ref(text: str, api_host: str, version_ref: str) -> None:
    ref = Reference.parse(text)
    assert ref.api_host == api_host
    assert ref.version_ref == version_ref


# --------------------------------------------------------------------------- layout refs

# text, scheme, path, tag, digest, canonical
LAYOUT_VALID = [
    ("ocidir://./dir", "ocidir", "./dir", None, None, "ocidir://./dir"),
    ("ocidir://./dir:v1", "ocidir", "./dir", "v1", None, "ocidir://./dir:v1"),
    ("ocidir:///tmp/x", "ocidir", "/tmp/x", None, None, "ocidir:///tmp/x"),
    ("ocidir://dir", "ocidir", "dir", None, None, "ocidir://dir"),
    ("ocidir://dir@" + D256, "ocidir", "dir", None, DG256, "ocidir://dir@" + D256),
    ("ocidir:///tmp/x:v1@" + D512, "ocidir", "/tmp/x", "v1", DG512,
     "ocidir:///tmp/x:v1@" + D512),
    ("ocidir://rel/path/dir:latest", "ocidir", "rel/path/dir", "latest", None,
     "ocidir://rel/path/dir:latest"),
    ("ocidir://./a:b/c", "ocidir", "./a:b/c", None, None, "ocidir://./a:b/c"),
    ("ocidir://./a:b/", "ocidir", "./a:b/", None, None, "ocidir://./a:b/"),
    ("ocidir://./a:b:v1", "ocidir", "./a:b", "v1", None, "ocidir://./a:b:v1"),
    ("ocidir://./x@y/z", "ocidir", "./x@y/z", None, None, "ocidir://./x@y/z"),
    ("ocidir://./x@y/", "ocidir", "./x@y/", None, None, "ocidir://./x@y/"),
    ("ocidir:///", "ocidir", "/", None, None, "ocidir:///"),
    ("ocidir://My Dir/Sub:Tag_1", "ocidir", "My Dir/Sub", "Tag_1", None,
     "ocidir://My Dir/Sub:Tag_1"),
    ("OCIDIR://x", "ocidir", "x", None, None, "ocidir://x"),
    ("oci-archive://img.tar:v1", "oci-archive", "img.tar", "v1", None,
     "oci-archive://img.tar:v1"),
    ("docker-archive:///tmp/img.tar", "docker-archive", "/tmp/img.tar", None, None,
     "docker-archive:///tmp/img.tar"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "scheme", "path", "tag", "digest", "canonical"), LAYOUT_VALID)
def test_layout_parse_valid(
    text: str, scheme: str, path: str, tag: str | None, digest: Digest | None, canonical: str
) -> None:
    ref = parse_reference(text)
    assert isinstance(ref, LayoutReference)
    assert (ref.scheme, ref.path, ref.tag, ref.digest) == (scheme, path, tag, digest)
    assert ref.name == path
    assert str(ref) == canonical
    assert LayoutReference.parse(text) == ref
    assert parse_reference(canonical) == ref


LAYOUT_INVALID = [
    ("ocidir://", "empty path"),
    ("ocidir://:v1", "empty path"),
    ("ocidir://@" + D256, "empty path"),
    ("ocidir://dir:", "empty tag"),
    ("ocidir://dir:bad!tag", "'!'"),
    ("ocidir://dir:.x", "must not start"),
    ("ocidir://dir:" + "a" * 129, "129 characters"),
    ("ocidir://dir@sha256:short", "sha256"),
    ("ocidir://dir@", "empty digest"),
    ("ocidir://a@b", "algorithm:hex"),
    ("ocidir://a@b@" + D256, "'@'"),
    ("ocidir://dir\0x", "NUL"),
    ("ocidirs://x", "unknown scheme"),
    ("oci://x", "unknown scheme"),
    ("://x", "unknown scheme"),
]


@pytest.mark.parametrize(("text", "message"), LAYOUT_INVALID)
def test_layout_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as info:
        parse_reference(text)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)
    with pytest.raises(InvalidReference):
        LayoutReference.parse(text)


def test_layout_parse_rejects_registry_refs() -> None:
    with pytest.raises(InvalidReference, match="PATH"):
        LayoutReference.parse("ubuntu:latest")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ocidir", ""), "empty path"),
        (("foo", "./x"), "unknown scheme"),
        (("OCIDIR", "./x"), "unknown scheme"),
        (("ocidir", "./a:b"), "':'"),
        (("ocidir", "./a:b", None, DG256), "':'"),
        (("ocidir", "./a@b"), "'@'"),
        (("ocidir", "./a@b", "v1"), "'@'"),
        (("ocidir", "./a", ""), "empty tag"),
        (("ocidir", "./a", None, D256), "must be a Digest"),
    ],
)
def test_layout_constructor_validates(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidReference, match=message):
        LayoutReference(*args)  # type: ignore[arg-type]


def test_layout_values() -> None:
    ref = LayoutReference("ocidir", "./a:b", "v1")
    assert str(ref) == "ocidir://./a:b:v1"
    assert ref.version_ref == "v1"
    assert LayoutReference("ocidir", "./dir").version_ref is None
    pinned = ref.with_digest(DG256)
    assert str(pinned) == "ocidir://./a:b:v1@" + D256
    assert pinned.version_ref == D256
    plain = LayoutReference("ocidir", "./dir", None, DG256).with_tag("v2")
    assert (plain.tag, plain.digest) == ("v2", None)
    assert LayoutReference("ocidir", "./dir", "v2").with_tag(None).tag is None
    with pytest.raises(InvalidReference):
        ref.with_tag(None)  # './a:b' needs a tag
    assert len({ref, LayoutReference.parse("ocidir://./a:b:v1"), pinned}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.path = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------- hypothesis

path_components = st.from_regex(
    r"[a-z0-9]{1,5}(?:(?:\.|_|__|-{1,3})[a-z0-9]{1,5}){0,2}", fullmatch=True
)
repositories = st.lists(path_components, min_size=1, max_size=4).map("/".join)
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", fullmatch=True)
digests = st.one_of(
    st.binary(max_size=64).map(lambda b: Digest("sha256", hashlib.sha256(b).hexdigest())),
    st.from_regex(r"[a-f0-9]{128}", fullmatch=True).map(lambda h: Digest("sha512", h)),
)
labels = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
ports = st.integers(min_value=1, max_value=65535).map(str)
hosts = st.one_of(
    st.lists(labels, min_size=2, max_size=4).map(".".join),
    st.just("localhost"),
    st.just("docker.io"),
    st.just("index.docker.io"),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{ipaddress.IPv6Address(a).compressed}]"),
    st.ip_addresses(v=4).map(lambda a: f"[::ffff:{a}]"),
)
registries = st.one_of(
    hosts,
    st.tuples(st.one_of(hosts, labels), ports).map(lambda hp: f"{hp[0]}:{hp[1]}"),
)


@given(registries, repositories, st.none() | tags, st.none() | digests)
def test_reference_round_trip(
    registry: str, repository: str, tag: str | None, digest: Digest | None
) -> None:
    try:
        ref = Reference(registry, repository, tag, digest)
    except InvalidReference as exc:
        assume("characters long" not in str(exc))  # only too-long names may be rejected
        raise
    text = str(ref)
    assert Reference.parse(text) == ref
    assert parse_reference(text) == ref
    assert str(Reference.parse(text)) == text
    assert Reference.parse(ref.familiar) == ref
    assert ref.tag is not None or ref.digest is not None
    if registry.lower() not in ("docker.io", "index.docker.io"):
        assert ref.registry == registry.lower()
    else:
        assert ref.registry == "docker.io"
    assert ref.digest == digest
    if tag is not None:
        assert ref.tag == tag


@given(repositories, st.none() | tags, st.none() | digests)
def test_docker_hub_short_forms(repository: str, tag: str | None, digest: Digest | None) -> None:
    assume(not any(c in repository.partition("/")[0] for c in ".:") or "/" not in repository)
    assume(repository.partition("/")[0] != "localhost" or "/" not in repository)
    text = repository + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    ref = Reference.parse(text)
    assert ref.registry == "docker.io"
    expected_repo = repository if "/" in repository else f"library/{repository}"
    assert ref.repository == expected_repo
    assert ref == Reference.parse(f"docker.io/{repository}" + text[len(repository) :])


path_text = st.text(alphabet="abcXYZ019._- :@", min_size=1, max_size=8)


@given(
    st.sampled_from(["ocidir", "oci-archive", "docker-archive"]),
    st.lists(path_text, min_size=0, max_size=3),
    path_text,
    st.booleans(),
    st.none() | tags,
    st.none() | digests,
)
def test_layout_round_trip(
    scheme: str,
    dirs: list[str],
    last: str,
    absolute: bool,
    tag: str | None,
    digest: Digest | None,
) -> None:
    path = ("/" if absolute else "") + "/".join([*dirs, last])
    try:
        ref = LayoutReference(scheme, path, tag, digest)
    except InvalidReference:
        assume(False)
        raise
    text = str(ref)
    assert parse_reference(text) == ref
    assert LayoutReference.parse(text) == ref
    assert str(parse_reference(text)) == text


ref_chars = "aZ09._-/:@[]%! " + "ocidr" + "sha256" + "\u00e9"


@given(st.text(alphabet=ref_chars, max_size=40) | st.text(max_size=20))
def test_parse_any_text(text: str) -> None:
    """Any text parses to a value that round-trips, or raises InvalidReference, nothing else."""
    try:
        ref = parse_reference(text)
    except InvalidReference:
        return
    assert parse_reference(str(ref)) == ref
    if isinstance(ref, Reference):
        assert Reference.parse(ref.familiar) == ref


@given(st.sampled_from(["ocidir://", "localhost:5000/x", "ubuntu"]), st.text(max_size=20))
def test_parse_any_suffix(prefix: str, suffix: str) -> None:
    try:
        ref = parse_reference(prefix + suffix)
    except InvalidReference:
        return
    assert parse_reference(str(ref)) == ref


# --------------------------------------------------------------------------- skopeo's names


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("docker://ubuntu", "docker.io/library/ubuntu:latest"),
        ("docker://localhost:5000/app:v1", "localhost:5000/app:v1"),
        ("docker://ghcr.io/a/b@" + D256, "ghcr.io/a/b@" + D256),
        ("oci:/tmp/layout", "ocidir:///tmp/layout"),
        ("oci:./layout:v1", "ocidir://./layout:v1"),
        ("oci:layout:v1@" + D256, "ocidir://layout:v1@" + D256),
        ("oci:layout:@" + D256, "ocidir://layout@" + D256),
        ("oci-archive:app.tar", "oci-archive://app.tar"),
        ("oci-archive:/x/app.tar:v2", "oci-archive:///x/app.tar:v2"),
        ("docker-archive:app.tar", "docker-archive://app.tar"),
        ("docker-archive:app.tar:v1", "docker-archive://app.tar:v1"),
        ("docker-archive:app.tar:app:v1", "docker-archive://app.tar:v1"),
        ("docker-archive:app.tar:docker.io/library/app:v3", "docker-archive://app.tar:v3"),
    ],
)
def test_skopeo_names(text: str, canonical: str) -> None:
    ref = parse_reference(text)
    assert str(ref) == canonical
    assert parse_reference(canonical) == ref


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("oci:", "empty path"),
        ("oci::v1", "empty path"),
        ("oci:/x:", "empty tag"),
        ("oci:/x:bad!", "'!'"),
        ("docker://", "empty reference"),
        ("docker-archive:f.tar:@3", "invalid digest"),
        ("containers-storage:alpine", "skopeo's containers-storage: transport"),
    ],
)
def test_skopeo_names_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidReference, match=message):
        parse_reference(text)
