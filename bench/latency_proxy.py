"""A TCP proxy on loopback that adds round-trip time, and counts connections and requests.

::

    with LatencyProxy(("127.0.0.1", 5000), rtt=0.040) as proxy:   # proxy.host: 127.0.0.1:PORT
        ... clients talk to proxy.host ...
        print(proxy.stats.connections, proxy.stats.requests)
    proxy.rtt = 0.0          # takes effect for the next connection

The delay models a link of ``rtt`` round-trip time and unlimited bandwidth: every byte is
delivered ``rtt / 2`` after it was sent, in either direction, and a new connection costs one
``rtt`` before the client's first byte travels (the TCP handshake a real link would take).
``python bench/latency_proxy.py --upstream 127.0.0.1:5000 --rtt 40`` runs one on its own.

Requests are counted by following the HTTP/1.1 framing of what clients send (request line,
headers, then a ``Content-Length`` or chunked body); a connection that does not speak HTTP
(a TLS ClientHello sent to a plain-HTTP port) counts as a connection with no requests. The
proxy runs an asyncio loop on a thread of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LatencyProxy", "RequestCounter", "Stats"]

_READ = 256 * 1024
_METHODS = {b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS"}


@dataclass
class Stats:
    """What went through the proxy since the last :meth:`LatencyProxy.reset`."""

    connections: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, target) of every request, in the order they started."""
    bytes_up: int = 0
    bytes_down: int = 0
    intervals: list[tuple[float, float]] = field(default_factory=list)
    """(read, delivered) monotonic times of every piece the link carried: the time it spent
    in flight (with a connection's handshake, for its first piece)."""

    def busy(self, *others: Stats) -> float:
        """Seconds during which the link (this one or any of ``others``) had something in
        flight: the union of their :attr:`intervals`. Divided by the rtt, the round trips the
        client waited for, however many were in flight together and whatever the client did
        between them."""
        spans = sorted(i for stats in (self, *others) for i in stats.intervals)
        total, end = 0.0, float("-inf")
        for start, stop in spans:
            if stop <= end:
                continue
            total += stop - max(start, end)
            end = stop
        return total

    def count(self, method: str | None = None, contains: str = "") -> int:
        """Requests with ``method`` (any when None) whose target contains ``contains``."""
        return sum(1 for m, t in self.requests if (method is None or m == method) and contains in t)


class RequestCounter:
    """Follows the requests in one direction of an HTTP/1.1 connection (what a client sends)."""

    def __init__(self, on_request: Callable[[str, str], None]) -> None:
        self._on_request = on_request
        self._buf = b""
        self._state = "head"  # head | body | chunk-size | chunk-data | chunk-end | trailer | off
        self._left = 0

    def feed(self, data: bytes) -> None:
        if self._state == "off":
            return
        view = memoryview(data)
        while view:
            if self._state in ("body", "chunk-data"):
                n = min(self._left, len(view))
                self._left -= n
                view = view[n:]
                if self._left == 0:
                    self._state = "head" if self._state == "body" else "chunk-end"
                continue
            self._buf += bytes(view)
            view = memoryview(b"")
            if not self._parse_buffered():
                return

    def _parse_buffered(self) -> bool:
        """Consume what the buffer holds; False when it needs more bytes (or gave up)."""
        while self._buf:
            if self._state == "head":
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buf) > 65536 or not self._plausible():
                        self._state, self._buf = "off", b""
                    return False
                head, self._buf = self._buf[:end], self._buf[end + 4 :]
                if not self._request(head):
                    self._state, self._buf = "off", b""
                    return False
            elif self._state in ("chunk-size", "chunk-end", "trailer"):
                end = self._buf.find(b"\r\n")
                if end < 0:
                    return False
                line, self._buf = self._buf[:end], self._buf[end + 2 :]
                if self._state == "chunk-end":
                    self._state = "chunk-size"
                elif self._state == "trailer":
                    if not line:
                        self._state = "head"
                else:
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self._state = "trailer"
                    else:
                        self._state, self._left = "chunk-data", size
            else:  # body or chunk-data: hand the rest back to feed's fast path
                rest, self._buf = self._buf, b""
                self.feed(rest)
                return False
        return True

    def _plausible(self) -> bool:
        first = self._buf.split(b" ", 1)[0]
        return len(self._buf) < 8 or first in _METHODS

    def _request(self, head: bytes) -> bool:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or parts[0] not in _METHODS:
            return False
        self._on_request(parts[0].decode(), parts[1].decode("latin-1"))
        length, chunked = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value.strip() or b"0")
            elif key == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            self._state = "chunk-size"
        elif length:
            self._state, self._left = "body", length
        else:
            self._state = "head"
        return True


class LatencyProxy:
    """Forwards 127.0.0.1:``port`` (0: a free one) to ``upstream`` with ``rtt`` seconds of
    round-trip time added (see the module docstring). ``rtt`` may be changed between runs."""

    def __init__(self, upstream: tuple[str, int], rtt: float = 0.040, port: int = 0) -> None:
        self.upstream = upstream
        self.rtt = rtt
        self.stats = Stats()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(128)
        self.port: int = self._sock.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset(self) -> Stats:
        """The stats so far; counting starts again from zero."""
        with self._lock:
            stats, self.stats = self.stats, Stats()
        return stats

    # -- running ---------------------------------------------------------------------------

    def start(self) -> LatencyProxy:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def serve() -> None:
                self._server = await asyncio.start_server(self._handle, sock=self._sock)
                ready.set()

            loop.run_until_complete(serve())
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one connection --------------------------------------------------------------------

    def _record(self, method: str, target: str) -> None:
        with self._lock:
            self.stats.requests.append((method, target))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        accepted = time.monotonic()
        rtt = self.rtt
        with self._lock:
            self.stats.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        counter = RequestCounter(self._record)
        # The client's first byte travels after the handshake: one rtt after the accept.
        up = self._pump(reader, up_writer, rtt, accepted + rtt, counter, "up")
        down = self._pump(up_reader, writer, rtt, 0.0, None, "down")
        try:
            await asyncio.gather(up, down)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()
            if task is not None:
                self._tasks.discard(task)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        rtt: float,
        not_before: float,
        counter: RequestCounter | None,
        direction: str,
    ) -> None:
        """Copy ``reader`` to ``writer``, each piece delivered rtt/2 after it was read."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(_READ)
                if data and counter is not None:
                    counter.feed(data)
                if data:
                    with self._lock:
                        if direction == "up":
                            self.stats.bytes_up += len(data)
                        else:
                            self.stats.bytes_down += len(data)
                now = time.monotonic()
                due = max(now, not_before) + rtt / 2
                if rtt > 0 and data:  # a connection's end is not waited for
                    with self._lock:
                        self.stats.intervals.append((now, due))
                queue.put_nowait((due, data))
                if not data:
                    break
            await sender
        except (OSError, asyncio.CancelledError):
            sender.cancel()
            raise


def main() -> None:
    p = argparse.ArgumentParser(description="A loopback TCP proxy that adds round-trip time.")
    p.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    p.add_argument("--rtt", type=float, default=40.0, help="added round-trip time, ms")
    p.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    args = p.parse_args()
    host, _, port = args.upstream.rpartition(":")
    proxy = LatencyProxy((host, int(port)), rtt=args.rtt / 1000, port=args.port).start()
    print(f"listening on {proxy.host} -> {args.upstream}, rtt {args.rtt} ms", flush=True)
    try:
        while True:
            time.sleep(5)
            stats = proxy.stats
            print(f"{stats.connections} connections, {len(stats.requests)} requests", flush=True)
    except KeyboardInterrupt:
        proxy.stop()


if __name__ == "__main__":
    main()
