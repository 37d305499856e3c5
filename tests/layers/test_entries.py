"""Tar headers from outside, fuzzed: walking a layer of any bytes ends in entries or one
HoistError, never another exception."""

from __future__ import annotations

import io
import tarfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.layers import d, f, make_tar, sym

from hoist.errors import HoistError
from hoist.layers.entries import walk_layer
from hoist.layers.stream import LayerStream

SEED = make_tar(
    [
        d("etc"),
        f("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
        sym("etc/link", "passwd"),
        f("a" * 120 + "/long-name", b"long"),
    ]
)
"""A small real layer whose headers the fuzzer bends."""

_PAX_KEYS = st.sampled_from(
    [
        "path",
        "linkpath",
        "size",
        "mtime",
        "atime",
        "uid",
        "gid",
        "uname",
        "gname",
        "hdrcharset",
        "GNU.sparse.major",
        "GNU.sparse.minor",
        "GNU.sparse.size",
        "GNU.sparse.map",
        "GNU.sparse.realsize",
        "SCHILY.xattr.user.test",
        "SCHILY.xattr.security.capability",
    ]
)
_PAX_VALUES = st.text(max_size=30) | st.integers(-(2**70), 2**70).map(str)
"""Values; one key at a time gets a number of 4301 digits (past int()'s limit) instead."""


def _walk(blob: bytes) -> None:
    stream = LayerStream(io.BytesIO(blob), compression="none", max_bytes=1 << 20)
    try:
        for member in walk_layer(stream):
            entry = member.entry
            assert isinstance(entry.path, str)
            entry.to_dict()
            if entry.kind == "file":
                with member.open() as data:
                    while data.read(65536):
                        pass
        stream.finish()
    except HoistError:
        pass


def _with_checksum(block: bytes) -> bytes:
    """``block`` (512 bytes) with a checksum that matches it, so the fields get parsed."""
    header = bytearray(block[:148] + b" " * 8 + block[156:512])
    checksum = sum(header)
    header[148:156] = b"%06o\0 " % (checksum & 0o777777)
    return bytes(header)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_fuzz_random_bytes(blob: bytes) -> None:
    _walk(blob)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(SEED) - 1), st.binary(min_size=1, max_size=12)), max_size=6
    ),
    st.booleans(),
)
def test_fuzz_bent_headers(edits: list[tuple[int, bytes]], fix_checksums: bool) -> None:
    blob = bytearray(SEED)
    for offset, data in edits:
        blob[offset : offset + len(data)] = data
    blob = blob[: len(SEED)]
    if fix_checksums:
        for start in range(0, len(blob) - 511, 512):
            block = bytes(blob[start : start + 512])
            if block[257:262] == b"ustar":
                blob[start : start + 512] = _with_checksum(block)
    _walk(bytes(blob))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(_PAX_KEYS, _PAX_VALUES, min_size=1, max_size=4),
    st.sampled_from([tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.DIRTYPE, tarfile.LNKTYPE]),
    st.booleans(),
)
def test_fuzz_pax_headers(pax: dict[str, str], kind: bytes, huge: bool) -> None:
    if huge:
        pax[next(iter(pax))] = "9" * 4301
    raw = io.BytesIO()
    info = tarfile.TarInfo("fuzzed")
    info.type = kind
    info.linkname = "target" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    data = b"content" if kind == tarfile.REGTYPE else b""
    info.size = len(data)
    info.pax_headers = pax
    try:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(info, io.BytesIO(data))
    except (ValueError, UnicodeError, tarfile.TarError):
        return  # tarfile would not even write it
    _walk(raw.getvalue())
