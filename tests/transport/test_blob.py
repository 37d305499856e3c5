"""The resuming blob reader's ``Content-Range``: parsed strictly, fuzzed, hostile."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.fake_http import Request

from hoist.config.settings import RegistrySettings
from hoist.errors import TransportError
from hoist.model.digest import CHUNK, digest_of
from hoist.transport.blob import parse_content_range
from hoist.transport.http import Transport

BLOB = hashlib.sha256(b"blob").digest() * (2 * CHUNK // 32 + 3)
BLOB_DIGEST = digest_of(BLOB)

CASES = [
    ("bytes 0-9/10", (0, 9, 10)),
    ("bytes 5-9/*", (5, 9, None)),
    ("BYTES  1-1/2", (1, 1, 2)),
    ("bytes 9-5/10", None),  # first past last
    ("bytes 0-10/10", None),  # last past the end
    ("bytes 0-9", None),
    ("bytes -5/10", None),
    ("items 0-9/10", None),
    ("bytes " + "9" * 5000 + "-1/2", None),
    ("bytes 0-" + "9" * 30 + "/*", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_parse_content_range(value: str | None, expected: Any) -> None:
    assert parse_content_range(value) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=60)
    | st.builds(
        lambda a, b, c: f"bytes {a}-{b}/{c}",
        st.integers(-5, 2**80),
        st.integers(-5, 2**80),
        st.integers(-5, 2**80).map(str) | st.just("*"),
    )
)
def test_fuzz_content_range_never_raises(value: str) -> None:
    parsed = parse_content_range(value)
    if parsed is not None:
        first, last, total = parsed
        assert 0 <= first <= last and (total is None or last < total)


@pytest.mark.parametrize(
    "content_range",
    ["bytes " + "9" * 5000 + "-1/2", "bytes 1000-" + "9" * 5000 + "/*", "bytes 1000-5/10"],
    ids=["5000-digit-start", "5000-digit-end", "start-past-end"],
)
def test_resume_with_a_hostile_content_range_is_a_transport_error(
    content_range: str, serve: Any
) -> None:
    def handler(r: Request) -> None:
        if r.header("Range") is None:
            r.cut(200, BLOB[:1000], len(BLOB))
        else:
            r.reply(206, BLOB[1000:], {"Content-Range": content_range})

    srv = serve(handler)
    transport = Transport(settings=lambda _h: RegistrySettings("disabled"), backoff=0.01)
    with (
        transport,
        transport.open_blob(srv.host, "/v2/a/blobs/x", BLOB_DIGEST, len(BLOB)) as blob,
        pytest.raises(TransportError, match="wanted byte 1000"),
    ):
        blob.read()
