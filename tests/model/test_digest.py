"""Tests for hoist.model.digest."""

from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hoist.errors import DigestMismatch, InvalidDigest, InvalidInput
from hoist.model.digest import Digest, VerifyingReader, digest_of, digest_stream

H256 = hashlib.sha256(b"hello").hexdigest()
H512 = hashlib.sha512(b"hello").hexdigest()


# --------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    ("text", "algorithm", "hexpart"),
    [
        (f"sha256:{H256}", "sha256", H256),
        (f"sha512:{H512}", "sha512", H512),
        ("sha256:" + "0" * 64, "sha256", "0" * 64),
        ("sha512:" + "f" * 128, "sha512", "f" * 128),
    ],
)
def test_parse_valid(text: str, algorithm: str, hexpart: str) -> None:
    d = Digest.parse(text)
    assert (d.algorithm, d.hex) == (algorithm, hexpart)
    assert str(d) == text
    assert d == Digest(algorithm, hexpart)
    assert d.short == hexpart[:12]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "algorithm:hex"),
        ("sha256", "algorithm:hex"),
        (H256, "algorithm:hex"),
        ("sha256:", "sha256"),
        (":" + H256, "unsupported"),
        ("sha256:" + H256[:-1], "64"),
        ("sha256:" + H256 + "0", "64"),
        ("sha256:" + H256.upper(), "lowercase"),
        ("sha256:" + "g" * 64, "hex"),
        ("sha256:" + H256 + "\n", "hex"),
        (" sha256:" + H256, "unsupported"),
        ("sha256:" + H256 + ":x", "hex"),
        ("sha512:" + H256, "128"),
        ("sha256:" + H512, "64"),
        ("sha1:" + hashlib.sha1(b"x").hexdigest(), "unsupported digest algorithm 'sha1'"),
        ("md5:" + hashlib.md5(b"x").hexdigest(), "unsupported"),
        ("SHA256:" + H256, "unsupported"),
        ("sha256-" + H256, "algorithm:hex"),
    ],
)
def test_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidDigest) as info:
        Digest.parse(text)
    assert isinstance(info.value, InvalidInput)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)


def test_digest_value_semantics() -> None:
    a = Digest.parse(f"sha256:{H256}")
    b = Digest("sha256", H256)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, Digest.parse(f"sha512:{H512}")}) == 2
    assert sorted([Digest("sha256", "f" * 64), Digest("sha256", "0" * 64)])[0].hex == "0" * 64
    h = a.hasher()
    h.update(b"hello")
    assert h.hexdigest() == H256
    assert a.hasher() is not a.hasher()


@given(st.binary())
def test_round_trip_computed(data: bytes) -> None:
    for algorithm in ("sha256", "sha512"):
        d = digest_of(data, algorithm)
        assert Digest.parse(str(d)) == d
        assert str(d) == f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


@given(st.sampled_from(["sha256", "sha512"]), st.data())
def test_round_trip_any_hex(algorithm: str, data: st.DataObject) -> None:
    length = 64 if algorithm == "sha256" else 128
    hexpart = data.draw(st.from_regex(rf"[0-9a-f]{{{length}}}", fullmatch=True))
    d = Digest(algorithm, hexpart)
    assert Digest.parse(str(d)) == d


# ------------------------------------------------------------------- digest_of / digest_stream


@pytest.mark.parametrize(
    ("data", "algorithm"),
    [
        (b"", "sha256"),
        (b"hello", "sha256"),
        (b"hello", "sha512"),
        (bytes(range(256)) * 9, "sha256"),
    ],
)
def test_digest_of(data: bytes, algorithm: str) -> None:
    assert digest_of(data, algorithm) == Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def test_digest_of_default_is_sha256() -> None:
    assert digest_of(b"hello") == Digest("sha256", H256)


def test_digest_of_unknown_algorithm() -> None:
    with pytest.raises((InvalidDigest, ValueError)):
        digest_of(b"x", "sha1")


@given(st.lists(st.binary(max_size=64), max_size=10), st.sampled_from(["sha256", "sha512"]))
def test_digest_stream(chunks: list[bytes], algorithm: str) -> None:
    whole = b"".join(chunks)
    assert digest_stream(iter(chunks), algorithm) == (digest_of(whole, algorithm), len(whole))


def test_digest_stream_empty() -> None:
    assert digest_stream([]) == (digest_of(b""), 0)


# --------------------------------------------------------------------------- VerifyingReader

BODY = b"0123456789" * 100
GOOD = digest_of(BODY)
BAD = digest_of(b"something else")


class Trickle(io.RawIOBase):
    """A source that returns at most ``step`` bytes per read, and counts closes."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = io.BytesIO(data)
        self._step = step
        self.closes = 0

    def read(self, size: int = -1, /) -> bytes:
        if size < 0 or size > self._step:
            size = self._step
        return self._data.read(size)

    def close(self) -> None:
        self.closes += 1
        super().close()


def _drain(reader: VerifyingReader, size: int) -> bytes:
    out = bytearray()
    while chunk := reader.read(size):
        out += chunk
    return bytes(out)


@pytest.mark.parametrize("size", [len(BODY), None])
@pytest.mark.parametrize("chunk", [1, 7, 100, len(BODY), 1 << 20])
def test_verified_body(size: int | None, chunk: int) -> None:
    reader = VerifyingReader(io.BytesIO(BODY), GOOD, size)
    assert _drain(reader, chunk) == BODY
    assert reader.verified
    assert reader.read_bytes == len(BODY)
    assert reader.read(10) == b""  # further reads stay quiet
    assert reader.verified


def test_read_all_and_iterate() -> None:
    reader = VerifyingReader(io.BytesIO(BODY), GOOD, len(BODY))
    assert reader.read() == BODY
    assert reader.verified
    reader = VerifyingReader(Trickle(BODY), GOOD, len(BODY))
    assert b"".join(reader) == BODY
    assert reader.verified
    reader = VerifyingReader(Trickle(BODY), GOOD)
    assert reader.read(-1) == BODY
    assert reader.verified


def test_empty_body() -> None:
    reader = VerifyingReader(io.BytesIO(b""), digest_of(b""), 0)
    assert reader.read(10) == b""
    assert reader.verified


def test_read_zero_does_not_finish() -> None:
    reader = VerifyingReader(io.BytesIO(b""), BAD, 0)
    assert reader.read(0) == b""
    assert not reader.verified


@pytest.mark.parametrize("size", [len(BODY), None])
def test_wrong_digest_raises_at_end(size: int | None) -> None:
    reader = VerifyingReader(io.BytesIO(BODY), BAD, size)
    got = reader.read(len(BODY) - 1) + reader.read(1)  # every byte arrives without complaint
    assert got == BODY
    assert not reader.verified
    with pytest.raises(DigestMismatch) as info:
        reader.read(1)
    assert info.value.expected == str(BAD)
    assert info.value.actual == str(GOOD)
    assert str(BAD) in str(info.value)
    assert not reader.verified
    with pytest.raises(DigestMismatch):
        reader.read(1)  # still refuses on a second attempt


@pytest.mark.parametrize("sha512", [False, True])
def test_wrong_digest_same_algorithm(sha512: bool) -> None:
    algorithm = "sha512" if sha512 else "sha256"
    expected = digest_of(b"other", algorithm)
    reader = VerifyingReader(io.BytesIO(BODY), expected)
    with pytest.raises(DigestMismatch) as info:
        reader.read()
    assert info.value.actual == str(digest_of(BODY, algorithm))


def test_too_long_raises_as_soon_as_exceeded() -> None:
    body = BODY + b"x" * 100
    source = io.BytesIO(body)
    reader = VerifyingReader(source, GOOD, len(BODY))
    assert reader.read(len(BODY) - 10) == BODY[:-10]
    with pytest.raises(DigestMismatch) as info:
        reader.read(20)  # crosses the limit: no waiting for end of stream
    assert info.value.expected == str(len(BODY))
    assert source.tell() < len(body)  # the rest was never read
    assert not reader.verified


def test_too_long_even_if_prefix_matches() -> None:
    reader = VerifyingReader(Trickle(BODY + b"x"), GOOD, len(BODY))
    with pytest.raises(DigestMismatch, match="more than"):
        reader.read()


def test_too_short_raises() -> None:
    short = BODY[:-1]
    reader = VerifyingReader(io.BytesIO(short), digest_of(short), len(BODY))
    assert reader.read(len(BODY)) == short
    with pytest.raises(DigestMismatch) as info:
        reader.read(1)
    assert info.value.expected == str(len(BODY))
    assert info.value.actual == str(len(short))
    assert not reader.verified


def test_iteration_raises_on_mismatch() -> None:
    reader = VerifyingReader(Trickle(BODY), BAD, len(BODY))
    with pytest.raises(DigestMismatch):
        for _ in reader:
            pass


def test_close_and_context_manager() -> None:
    source = Trickle(BODY)
    with VerifyingReader(source, GOOD, len(BODY)) as reader:
        assert reader.read() == BODY
    assert source.closes >= 1
    VerifyingReader(object(), GOOD).close()  # type: ignore[arg-type]  # no close(): fine


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_verifying_reader_any_body(data: bytes, chunk: int) -> None:
    reader = VerifyingReader(io.BytesIO(data), digest_of(data), len(data))
    assert _drain(reader, chunk) == data
    assert reader.verified


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=140)
    | st.builds(
        lambda alg, hex_: f"{alg}:{hex_}",
        st.sampled_from(["sha256", "sha512", "SHA256", "md5", ""]),
        st.text(alphabet="0123456789abcdefABCDEF", max_size=130),
    )
)
def test_fuzz_digest_parse_only_invalid_digest(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except InvalidDigest:
        return
    assert str(Digest.parse(str(digest))) == str(digest)
