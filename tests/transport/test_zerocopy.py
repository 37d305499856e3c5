"""Zero-copy blob bodies: os.splice between plain sockets, and the fallbacks where it cannot."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from support.fake_http import Request

from hoist.errors import TransportError
from hoist.model.digest import VerifyingReader, digest_of
from hoist.transport.http import Transport
from hoist.transport.zerocopy import SPLICE_MIN, FileReader, Pipe, SourceLost, splice_available

from .test_http import make

pytestmark = pytest.mark.skipif(not splice_available(), reason="os.splice is Linux only")

BLOB = hashlib.sha256(b"splice").digest() * (3 * SPLICE_MIN // 32 + 5)
BLOB_DIGEST = digest_of(BLOB)


class Sink:
    """One end of a socket pair handed out as the destination; the other end is read to the
    end in a thread, so :attr:`received` is what reached the destination."""

    def __init__(self) -> None:
        self.sock, self._peer = socket.socketpair()
        self._parts: list[bytes] = []
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while data := self._peer.recv(1 << 20):
            self._parts.append(data)

    @property
    def received(self) -> bytes:
        self.sock.close()
        self._thread.join(10)
        self._peer.close()
        return b"".join(self._parts)


def move_all(reader: VerifyingReader, sink: Sink, step: int = 1 << 20) -> list[int]:
    """Call ``transfer_to`` until the end; the amounts it moved."""
    reader.hand_over()
    steps = []
    while moved := reader.transfer_to(sink.sock, step):
        steps.append(moved)
    assert moved == 0
    return steps


def open_blob(t: Transport, host: str, blob: bytes = BLOB) -> VerifyingReader:
    return t.open_blob(host, "/v2/a/blobs/x", digest_of(blob), len(blob))


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
    return client, accepted


# -- Pipe ----------------------------------------------------------------------------------------


def test_pipe_moves_exactly_the_count_asked_and_leaves_the_rest() -> None:
    src_w, src = tcp_pair()
    sink = Sink()
    pipe = Pipe()
    try:
        src_w.sendall(b"a" * 5000 + b"rest")
        assert pipe.move(src, sink.sock, 5000) == 5000
        assert src.recv(10) == b"rest"
    finally:
        pipe.close()
        src_w.close()
        src.close()
    assert sink.received == b"a" * 5000


def test_pipe_returns_fewer_when_the_source_ends() -> None:
    src_w, src = tcp_pair()
    sink = Sink()
    pipe = Pipe()
    src_w.sendall(b"short")
    src_w.close()
    try:
        assert pipe.move(src, sink.sock, 1 << 20) == 5
    finally:
        pipe.close()
        src.close()
    assert sink.received == b"short"


def test_a_stalled_source_is_source_lost_after_its_timeout() -> None:
    src_w, src = tcp_pair()
    src.settimeout(0.2)
    sink = Sink()
    pipe = Pipe()
    try:
        src_w.sendall(b"x" * 100)
        with pytest.raises(SourceLost, match="timed out reading"):
            pipe.move(src, sink.sock, 1000)
    finally:
        pipe.close()
        src_w.close()
        src.close()
    assert sink.received == b"x" * 100  # what was taken from the source reached the sink


def test_a_destination_that_went_away_is_its_own_error_not_the_sources() -> None:
    src_w, src = tcp_pair()
    dst, dst_peer = tcp_pair()
    dst_peer.close()
    pipe = Pipe()

    def write() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            src_w.sendall(b"y" * (4 << 20))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        with pytest.raises(OSError) as caught:
            for _ in range(50):  # the first writes may still land in the socket buffer
                pipe.move(src, dst, 1 << 16)
        assert not isinstance(caught.value, SourceLost)
    finally:
        pipe.close()
        for s in (src_w, src, dst):
            s.close()


# -- response bodies -----------------------------------------------------------------------------


def test_blob_body_moves_socket_to_socket_without_passing_through_python(
    serve: Any, python_reads: list[int]
) -> None:
    srv = serve(lambda r: r.reply(200, BLOB))
    sink = Sink()
    with make() as t, open_blob(t, srv.host) as b:
        steps = move_all(b, sink)
        assert b.read_bytes == len(BLOB)
    assert sink.received == BLOB
    assert len(steps) >= 3
    assert sum(python_reads) == 0


def test_blob_cut_while_spliced_resumes_at_the_byte_it_stopped(serve: Any) -> None:
    half = len(BLOB) // 2

    def handler(r: Request) -> None:
        value = r.header("Range")
        start = int(value.removeprefix("bytes=").rstrip("-")) if value else 0
        if start == 0:
            r.cut(200, BLOB[:half], len(BLOB))
        else:
            rng = f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"
            r.reply(206, BLOB[start:], {"Content-Range": rng})

    srv = serve(handler)
    sink = Sink()
    with make() as t, open_blob(t, srv.host) as b:
        move_all(b, sink)
    assert sink.received == BLOB
    _, second = srv.requests()
    assert second.header("Range") == f"bytes={half}-"


def test_bytes_past_the_content_length_are_never_moved(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200, BLOB + b"trailing lie", length=len(BLOB)))
    sink = Sink()
    with make() as t, t.open_blob(srv.host, "/b", BLOB_DIGEST, len(BLOB)) as b:
        move_all(b, sink)
    assert sink.received == BLOB


def test_source_that_keeps_ending_early_fails_after_its_resumptions(serve: Any) -> None:
    def handler(r: Request) -> None:
        value = r.header("Range")
        start = int(value.removeprefix("bytes=").rstrip("-")) if value else 0
        rng = {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"} if start else {}
        r.cut(206 if start else 200, BLOB[start : start + SPLICE_MIN], len(BLOB) - start, rng)

    srv = serve(handler)
    sink = Sink()
    with (
        make(blob_attempts=1) as t,
        open_blob(t, srv.host) as b,
        pytest.raises(TransportError, match="gave up at byte"),
    ):
        move_all(b, sink)
    received = sink.received
    assert received == BLOB[: len(received)] and len(received) >= SPLICE_MIN


def test_chunked_small_or_hashed_bodies_are_read_not_spliced(serve: Any) -> None:
    def chunked(r: Request) -> None:
        h = r.handler
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(BLOB), BLOB))
        h.wfile.flush()

    small = BLOB[: SPLICE_MIN - 1]
    sink = Sink()
    with make() as t:
        with open_blob(t, serve(chunked).host) as b:
            b.hand_over()
            assert b.transfer_to(sink.sock, 1 << 20) is None
        with open_blob(t, serve(lambda r: r.reply(200, small)).host, small) as b:
            b.hand_over()
            assert b.transfer_to(sink.sock, 1 << 20) is None
        with open_blob(t, serve(lambda r: r.reply(200, BLOB)).host) as b:
            assert b.transfer_to(sink.sock, 1 << 20) is None  # still hashing: bytes are read
            assert b.read() == BLOB and b.verified
    assert sink.received == b""


def test_a_sink_that_is_not_a_plain_socket_gets_nothing_spliced(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200, BLOB))
    with make() as t, open_blob(t, srv.host) as b:
        b.hand_over()
        assert b.transfer_to(object(), 1 << 20) is None
        assert b.read() == BLOB


# -- files ---------------------------------------------------------------------------------------


def test_file_sends_itself_into_a_plain_socket_from_where_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(BLOB)
    sink = Sink()
    with path.open("rb") as f:
        reader = FileReader(f, len(BLOB))
        assert reader.read(1000) == BLOB[:1000]
        steps = []
        while moved := reader.transfer_to(sink.sock, 1 << 20):
            steps.append(moved)
        assert reader.read() == b""
    assert sink.received == BLOB[1000:]
    assert len(steps) >= 3


@pytest.mark.parametrize("content", [BLOB[:-1], BLOB + b"x"], ids=["shorter", "longer"])
def test_file_of_another_size_than_expected_is_read_not_sent(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "blob"
    path.write_bytes(content)
    with path.open("rb") as f:
        assert FileReader(f, len(BLOB)).transfer_to(Sink().sock, 1 << 20) is None
        assert FileReader(f, None).transfer_to(Sink().sock, 1 << 20) is None


def test_file_into_something_else_than_a_plain_socket_is_read(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"abc")
    with path.open("rb") as f:
        assert FileReader(f, 3).transfer_to(object(), 10) is None


def blob_server(serve: Any) -> tuple[Any, list[int]]:
    """A server that answers every request with BLOB, and the client port of each request."""
    ports: list[int] = []

    def handler(r: Request) -> None:
        ports.append(r.handler.client_address[1])
        r.reply(200, BLOB)

    return serve(handler), ports


def test_connection_of_a_spliced_body_goes_back_to_the_pool(serve: Any) -> None:
    srv, ports = blob_server(serve)
    with make() as t:
        for _ in range(3):
            sink = Sink()
            with open_blob(t, srv.host) as b:
                move_all(b, sink)
            assert sink.received == BLOB
        with open_blob(t, srv.host) as b:
            assert b.read() == BLOB and b.verified  # and a read after them on the same one
    assert len(ports) == 4 and len(set(ports)) == 1


def test_a_body_spliced_part_way_closes_its_connection(serve: Any) -> None:
    srv, ports = blob_server(serve)
    sink = Sink()
    with make() as t:
        with open_blob(t, srv.host) as b:
            b.hand_over()
            assert b.transfer_to(sink.sock, 1 << 20)
        with open_blob(t, srv.host) as b:
            assert b.read() == BLOB  # not the rest of the first body
    assert len(ports) == 2 and ports[0] != ports[1]
