"""Tag and catalog pagination: the ``Link`` header, fuzzed and hostile."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.fake_http import Request
from support.hostile_registry import HostileRegistry

from hoist.errors import HoistError, InvalidInput
from hoist.store.registry.tags import next_link

CASES = [
    ('</v2/app/tags/list?last=b&n=2>; rel="next"', "/v2/app/tags/list?last=b&n=2"),
    ("</v2/a?x>;rel=next", "/v2/a?x"),
    ('<https://other.example/v2/a>; rel="next"', "https://other.example/v2/a"),
    ('</first>; rel="prev", </second>; rel="next"', "/second"),
    ('</only>; rel="prev"', None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("header", "expected"), CASES)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert next_link(header) == expected


# What a header value can carry on the wire: latin-1 without control characters (a raw CR or
# LF would end the header line and break the fake server's own framing, not the client's).
_HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=20,
)
_LINKISH = st.lists(
    st.tuples(
        _HEADER_TEXT,
        st.sampled_from(['rel="next"', "rel=next", 'rel="prev"', "", 'rel="next"; x=y']),
    ).map(lambda p: f"<{p[0]}>; {p[1]}"),
    max_size=3,
).map(", ".join)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | _LINKISH)
def test_fuzz_next_link_never_raises(header: str) -> None:
    target = next_link(header)
    assert target is None or isinstance(target, str)


@pytest.mark.parametrize(
    "link",
    ["<http://[bad/v2/x>; rel=next", "<http://h:99999999/x>; rel=next", "<ftp://h/x>; rel=next"],
    ids=["bad-ipv6-host", "port-out-of-range", "not-http"],
)
def test_next_page_link_that_is_no_url_is_invalid_input(link: str) -> None:
    with HostileRegistry() as reg:
        answer = reg.server.handler

        def handler(req: Request) -> None:
            if req.path.endswith("/tags/list"):
                req.reply(200, {"tags": ["a"]}, {"Link": link})
            else:
                answer(req)

        reg.server.handler = handler
        with pytest.raises(InvalidInput, match=r"Link .* is not a URL"):
            reg.store.tag_list(reg.ref())


def test_next_page_link_to_another_host_is_refused_and_not_followed() -> None:
    with HostileRegistry() as elsewhere, HostileRegistry() as reg:
        answer = reg.server.handler

        def handler(req: Request) -> None:
            if req.path.endswith("/tags/list"):
                link = f'<http://{elsewhere.host}/v2/app/tags/list?last=a>; rel="next"'
                req.reply(200, {"tags": ["a"]}, {"Link": link})
            else:
                answer(req)

        reg.server.handler = handler
        with pytest.raises(InvalidInput, match="points away from the registry"):
            reg.store.tag_list(reg.ref())
        assert elsewhere.server.seen == []


@settings(max_examples=40, deadline=None)
@given(_LINKISH)
def test_fuzz_link_headers_against_the_client(link: str) -> None:
    """Whatever a registry puts in Link, listing tags ends in names or one HoistError."""
    with HostileRegistry() as reg:
        answer = reg.server.handler

        def handler(req: Request) -> None:
            if req.path.endswith("/tags/list"):
                req.reply(200, {"tags": ["a"]}, {"Link": link})
            else:
                answer(req)

        reg.server.handler = handler
        with contextlib.suppress(HoistError):
            reg.store.tag_list(reg.ref())
