"""Per-registry throttles, honoured across every thread of one transport."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from support.fake_http import FakeServer, Request

from hoist.config.settings import RegistrySettings
from hoist.transport.http import Transport
from hoist.transport.limits import HostLimiter


class Gauge:
    """Counts requests in flight at the server."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, r: Request) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        r.reply(200, b"x" * 10)


@pytest.fixture
def gauge() -> Iterator[tuple[Gauge, FakeServer]]:
    g = Gauge(hold=0.1)
    server = FakeServer(g)
    yield g, server
    server.close()


def _transport(host: str, **settings: Any) -> Transport:
    return Transport(
        settings={host: RegistrySettings(tls="disabled", **settings)},
        environ={},
        backoff=0.01,
    )


def test_req_concurrent_across_threads(gauge: tuple[Gauge, FakeServer]) -> None:
    g, srv = gauge
    with _transport(srv.host, req_concurrent=2) as t, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: t.request("GET", srv.host, f"/v2/x/{i}").read(), range(16)))
    assert g.peak == 2


def test_streamed_bodies_hold_their_slot(gauge: tuple[Gauge, FakeServer]) -> None:
    srv = gauge[1]
    with _transport(srv.host, req_concurrent=1) as t:
        first = t.request("GET", srv.host, "/v2/a", stream=True)
        done = threading.Event()

        def other() -> None:
            t.request("GET", srv.host, "/v2/b").read()
            done.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert not done.wait(0.4)  # waits for the first body to be closed
        assert first.read() == b"x" * 10
        first.close()
        assert done.wait(5)
        thread.join()
        # the same thread may hold two (a blob streamed back to the same registry)
        with t.request("GET", srv.host, "/v2/c", stream=True) as again:
            assert t.request("GET", srv.host, "/v2/d").read() == b"x" * 10
            assert again.read() == b"x" * 10


def test_req_per_sec(gauge: tuple[Gauge, FakeServer]) -> None:
    g, srv = gauge
    g.hold = 0.0
    with _transport(srv.host, req_per_sec=10) as t, ThreadPoolExecutor(4) as pool:
        t.request("GET", srv.host, "/v2/warm").read()
        start = time.monotonic()
        list(pool.map(lambda i: t.request("GET", srv.host, f"/v2/x/{i}").read(), range(10)))
        elapsed = time.monotonic() - start
    assert elapsed >= 0.85  # 10 requests at 10 a second, after the first slot was used


def test_limiter_unit() -> None:
    now = [0.0]
    slept: list[float] = []
    limiter = HostLimiter(rate=4, clock=lambda: now[0], sleep=slept.append)
    for _ in range(3):
        limiter.pace()
    assert slept == [0.25, 0.5]
    assert HostLimiter().pace() == 0.0
    unlimited = HostLimiter().acquire()
    unlimited.release()
    unlimited.release()
