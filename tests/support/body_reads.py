"""A fixture that counts the body bytes read through urllib3, that is through Python: a blob
spliced from socket to socket (hoist.transport.zerocopy) adds nothing to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import urllib3.response


@pytest.fixture
def python_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The sizes of the body reads that went through urllib3 while the test ran."""
    seen: list[int] = []
    read = urllib3.response.HTTPResponse.read

    def counting(self: Any, *args: Any, **kw: Any) -> bytes:
        data: bytes = read(self, *args, **kw)
        seen.append(len(data))
        return data

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read", counting)
    yield seen
