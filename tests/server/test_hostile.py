"""``hoist serve`` under attack: races, corrupt storage, hostile input, slow and rude clients.

Each test is named after its attack and failed on the code before its fix (issue 11). The
server is real (:class:`ServerThread`) and the requests are raw HTTP or raw sockets; the only
fault injected is a pause inside :meth:`Storage.ingest`, which holds a closing upload in the
middle of its commit so that a racing request lands there every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import select
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import bcrypt
import pytest
from click.testing import CliRunner
from support.oci_http import (
    ACCEPT,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Http,
    Resp,
    assert_error,
    desc,
    digest,
    dump,
    with_query,
)

from hoist.server.context import EVICT_AFTER
from hoist.server.gc import gc
from hoist.server.run import ServerThread
from hoist.server.settings import DEFAULT_MAX_UPLOADS
from hoist.server.storage import Storage

T = TypeVar("T")

# ---------------------------------------------------------------------- helpers


def start_upload(http: Http, repo: str) -> str:
    r = http.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert r.status == 202, r.body
    return http.path_of(r.headers["Location"])


def push_blob(http: Http, repo: str, data: bytes) -> str:
    d = digest(data)
    r = http.request("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", body=data)
    assert r.status == 201, r.body
    return d


def push_chunked(http: Http, repo: str, data: bytes) -> Resp:
    """A session, one PATCH with the first half, the closing PUT with the rest."""
    location = start_upload(http, repo)
    half = len(data) // 2
    r = http.request("PATCH", location, body=data[:half])
    assert r.status == 202, r.body
    return http.request(
        "PUT",
        with_query(http.path_of(r.headers["Location"]), f"digest={digest(data)}"),
        body=data[half:],
    )


def blob_file(root: Path, d: str) -> Path:
    alg, hexpart = d.split(":")
    return root / "blobs" / alg / hexpart


def assert_stored(root: Path, d: str, data: bytes) -> None:
    """The stored file of ``d`` holds ``data`` (and so matches its name)."""
    stored = blob_file(root, d).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == d.split(":")[1], (len(stored), len(data))
    assert stored == data


def image_manifest(config: bytes, layers: list[bytes]) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": desc(OCI_CONFIG, config),
        "layers": [desc(OCI_LAYER, layer) for layer in layers],
    }


def put_manifest(http: Http, repo: str, ref: str, raw: bytes, media_type: str) -> Resp:
    return http.request(
        "PUT", f"/v2/{repo}/manifests/{ref}", body=raw, headers={"Content-Type": media_type}
    )


def background(fn: Callable[[], T]) -> Future[T]:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


def htpasswd_file(path: Path, rounds: int, **users: str) -> Path:
    lines = []
    for user, password in users.items():
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()
        lines.append(f"{user}:$2y${hashed[4:]}\n")
    path.write_text("".join(lines))
    return path


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def head_of(method: str, path: str, length: int, extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (whatever it sends first)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if ready:
            try:
                if not sock.recv(65536):
                    return True
            except ConnectionError:
                return True
    return False


@dataclass
class Hold:
    """Holds every :meth:`Storage.ingest` until ``release`` is set."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def held_commit(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hold]:
    hold = Hold()
    original = Storage.ingest

    def ingest(self: Storage, source: Path, d: Any) -> None:
        hold.entered.set()
        hold.release.wait(30)
        original(self, source, d)

    monkeypatch.setattr(Storage, "ingest", ingest)
    yield hold
    hold.release.set()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(tmp_path / "root") as srv:
        yield srv


# ---------------------------------------------------------------------- 2: upload races


def test_patch_racing_the_closing_put_cannot_change_the_blob(
    tmp_path: Path, held_commit: Hold
) -> None:
    root = tmp_path / "root"
    data = secrets.token_bytes(300_000)
    d = digest(data)
    with ServerThread(root) as srv:
        http = Http(srv.url)
        location = start_upload(http, "race/app")
        assert http.request("PATCH", location, body=data[:100_000]).status == 202
        put = background(
            lambda: Http(srv.url).request(
                "PUT", with_query(location, f"digest={d}"), body=data[100_000:]
            )
        )
        assert held_commit.entered.wait(10)
        patch = Http(srv.url).request("PATCH", location, body=b"EVIL" * 1000)
        held_commit.release.set()
        assert put.result(30).status == 201
        assert_error(patch, 404, "BLOB_UPLOAD_UNKNOWN")
        assert http.get(f"/v2/race/app/blobs/{d}").body == data
    assert_stored(root, d, data)


def test_closing_upload_reloaded_by_another_server_stays_closed(
    tmp_path: Path, held_commit: Hold
) -> None:
    root = tmp_path / "root"
    data = secrets.token_bytes(200_000)
    d = digest(data)
    with ServerThread(root) as one, ServerThread(root) as other:
        http = Http(one.url)
        location = start_upload(http, "race/app")
        assert http.request("PATCH", location, body=data).status == 202
        put = background(lambda: Http(one.url).request("PUT", with_query(location, f"digest={d}")))
        assert held_commit.entered.wait(10)
        # the other server knows the session only from disk: it must read it as closed
        patch = Http(other.url).request("PATCH", location, body=b"EVIL" * 1000)
        status = Http(other.url).get(location)
        held_commit.release.set()
        assert put.result(30).status == 201
        assert_error(patch, 404, "BLOB_UPLOAD_UNKNOWN")
        assert_error(status, 404, "BLOB_UPLOAD_UNKNOWN")
        assert Http(other.url).get(f"/v2/race/app/blobs/{d}").body == data
    assert_stored(root, d, data)


def test_second_put_of_a_closing_upload_is_refused(tmp_path: Path, held_commit: Hold) -> None:
    root = tmp_path / "root"
    data = secrets.token_bytes(200_000)
    d = digest(data)
    with ServerThread(root) as srv:
        http = Http(srv.url)
        location = start_upload(http, "race/app")
        assert http.request("PATCH", location, body=data[:150_000]).status == 202
        closing = with_query(location, f"digest={d}")
        first = background(lambda: Http(srv.url).request("PUT", closing, body=data[150_000:]))
        assert held_commit.entered.wait(10)
        second = Http(srv.url).request("PUT", closing, body=data[150_000:])
        held_commit.release.set()
        assert first.result(30).status == 201
        assert_error(second, 404, "BLOB_UPLOAD_UNKNOWN")
        assert http.get(f"/v2/race/app/blobs/{d}").body == data
    assert_stored(root, d, data)
    assert not list((root / "_uploads").iterdir())


def test_concurrent_puts_of_one_digest_replace_a_corrupt_stored_blob(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = secrets.token_bytes(1_000_000)
    with ServerThread(root) as srv:
        d = push_blob(Http(srv.url), "shared/a", data)
    with blob_file(root, d).open("ab") as f:  # what the upload race left behind
        f.write(b"appended by a racing PATCH")
    served: list[bytes] = []
    with ServerThread(root) as srv:
        stop = threading.Event()

        def pull() -> None:
            http = Http(srv.url)
            while not stop.is_set():
                r = http.get(f"/v2/shared/a/blobs/{d}")
                assert r.status in (200, 404), r.status
                if r.status == 200:
                    served.append(r.body)

        with ThreadPoolExecutor(12) as pool:
            pullers = [pool.submit(pull) for _ in range(3)]
            pushes = [
                pool.submit(push_chunked, Http(srv.url), f"shared/b{i}", data) for i in range(8)
            ]
            answers = [p.result(60) for p in pushes]
            stop.set()
            for p in pullers:
                p.result(60)
        assert [r.status for r in answers] == [201] * 8, [r.body for r in answers]
        http = Http(srv.url)
        for repo in ["shared/a", *(f"shared/b{i}" for i in range(8))]:
            r = http.get(f"/v2/{repo}/blobs/{d}")
            if repo == "shared/a" and r.status == 404:
                # the corrupt file was dropped before a push replaced it: shared/a's link
                # stays, and the next push of the blob there makes it readable again
                assert push_blob(http, repo, data) == d
                r = http.get(f"/v2/{repo}/blobs/{d}")
            assert r.body == data, repo
    assert all(body == data for body in served)
    assert_stored(root, d, data)


def test_corrupt_stored_blob_is_never_served(tmp_path: Path) -> None:
    root = tmp_path / "root"
    changed, old, config = (secrets.token_bytes(50_000) for _ in range(3))
    with ServerThread(root) as srv:
        http = Http(srv.url)
        d_changed = push_blob(http, "bad/app", changed)
        d_old = push_blob(http, "bad/app", old)
        push_blob(http, "bad/app", config)
        raw = dump(image_manifest(config, [old]))
        assert put_manifest(http, "bad/app", "v1", raw, OCI_MANIFEST).status == 201
        time.sleep(0.05)  # past the file system's timestamp granularity
        # changed behind the running server's back: same size, one byte different
        path = blob_file(root, d_changed)
        content = bytearray(path.read_bytes())
        content[1000] ^= 0xFF
        with path.open("r+b") as f:
            f.write(content)
        assert http.head(f"/v2/bad/app/blobs/{d_changed}").status == 404
        assert_error(http.get(f"/v2/bad/app/blobs/{d_changed}"), 404, "BLOB_UNKNOWN")
        assert push_blob(http, "bad/app", changed) == d_changed  # a verified push repairs it
        assert http.get(f"/v2/bad/app/blobs/{d_changed}").body == changed
    # written by an older hoist, with no record of ever being verified
    with blob_file(root, d_old).open("ab") as f:
        f.write(b"tail")
    manifest_file = blob_file(root, digest(raw))
    manifest_file.write_bytes(raw.replace(b'"schemaVersion":2', b'"schemaVersion":3'))
    for record in (root / "_verified").rglob("*"):
        if record.is_file():
            record.unlink()
    with ServerThread(root) as srv:
        http = Http(srv.url)
        assert_error(http.get(f"/v2/bad/app/blobs/{d_old}"), 404, "BLOB_UNKNOWN")
        assert_error(http.get("/v2/bad/app/manifests/v1", headers=ACCEPT), 404, "MANIFEST_UNKNOWN")
        # the manifest can no longer be pushed against a blob that is gone
        assert_error(
            put_manifest(http, "bad/app", "v1", raw, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN"
        )
        push_blob(http, "bad/app", old)
        assert put_manifest(http, "bad/app", "v1", raw, OCI_MANIFEST).status == 201
        assert http.get("/v2/bad/app/manifests/v1", headers=ACCEPT).body == raw
        assert http.get(f"/v2/bad/app/blobs/{d_old}").body == old
        assert http.get(f"/v2/bad/app/blobs/{d_changed}").body == changed  # hashed, trusted


def test_serve_verify_finds_corrupt_blobs(tmp_path: Path) -> None:
    from hoist.cli.root import cli

    root = tmp_path / "root"
    with ServerThread(root) as srv:
        http = Http(srv.url)
        good = push_blob(http, "v/app", b"good bytes")
        bad = push_blob(http, "v/app", b"bytes that will change")
    runner = CliRunner()
    clean = runner.invoke(cli, ["serve", "verify", "--root", str(root)])
    assert clean.exit_code == 0, clean.output
    assert "0 corrupt" in clean.output
    with blob_file(root, bad).open("ab") as f:
        f.write(b"!")
    found = runner.invoke(cli, ["serve", "verify", "--root", str(root)])
    assert found.exit_code == 3, found.output
    assert f"corrupt blob {bad}" in found.output
    assert good not in found.output
    missing = runner.invoke(cli, ["serve", "verify", "--root", str(tmp_path / "nothing")])
    assert missing.exit_code == 1


def test_gc_during_a_push_keeps_what_it_pushed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with ServerThread(root) as srv:
        http = Http(srv.url)
        config, layer = dump({"n": 1}), secrets.token_bytes(5000)
        push_blob(http, "gc/app", config)
        push_blob(http, "gc/app", layer)
        child = dump(image_manifest(config, [layer]))
        assert put_manifest(http, "gc/app", digest(child), child, OCI_MANIFEST).status == 201
        result = gc(root)  # the push has not tagged anything yet
        assert (result.manifests, result.layers, result.blobs) == ([], [], [])
        index = dump(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {"mediaType": OCI_MANIFEST, "digest": digest(child), "size": len(child)}
                ],
            }
        )
        assert put_manifest(http, "gc/app", "latest", index, OCI_INDEX).status == 201
        assert http.get(f"/v2/gc/app/blobs/{digest(layer)}").body == layer

        # and gc in a loop beside pushes of whole images: every push succeeds
        stop = threading.Event()
        runs: list[int] = []

        def collect() -> None:
            while not stop.is_set():
                gc(root)
                runs.append(1)

        collector = background(collect)
        try:
            for i in range(15):
                cfg, lay = dump({"i": i}), secrets.token_bytes(3000)
                push_blob(http, "gc/loop", cfg)
                push_blob(http, "gc/loop", lay)
                raw = dump(image_manifest(cfg, [lay]))
                r = put_manifest(http, "gc/loop", f"t{i}", raw, OCI_MANIFEST)
                assert r.status == 201, r.body
        finally:
            stop.set()
            collector.result(30)
        assert runs


# ---------------------------------------------------------------------- 4: hostile JSON and ranges


@pytest.mark.parametrize(
    "body",
    [
        b'{"schemaVersion":2,"mediaType":"'
        + OCI_MANIFEST.encode()
        + b'","n":'
        + b"7" * 5000
        + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    ],
    ids=["5000-digit-integer", "100000-deep-array", "100000-deep-object"],
)
def test_hostile_json_manifest_is_manifest_invalid(
    server: ServerThread, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    r = put_manifest(Http(server.url), "json/app", "v1", body, OCI_MANIFEST)
    assert_error(r, 400, "MANIFEST_INVALID")
    assert not tracebacks(caplog)


@pytest.mark.parametrize(
    "header", ["0-" + "9" * 5000, "9" * 4000 + "-" + "9" * 4000, "bytes=0-99999999999999999999"]
)
def test_content_range_with_a_huge_number_is_416(
    server: ServerThread, header: str, caplog: pytest.LogCaptureFixture
) -> None:
    http = Http(server.url)
    location = start_upload(http, "range/app")
    r = http.request("PATCH", location, body=b"x", headers={"Content-Range": header})
    assert_error(r, 416, "BLOB_UPLOAD_INVALID")
    assert http.get(location).headers["Range"] == "0-0"  # nothing was appended
    assert not tracebacks(caplog)


# ---------------------------------------------------------------------- 5: slow clients, limits


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_slow_client_attack_leaves_server_memory_bounded(tmp_path: Path) -> None:
    """400 uploads that each send 1 MiB of an 8 MiB body and stall, against 8 upload slots:
    the server's memory grows by at most the slots' bound (3 MiB each) and some slack. Before
    the limits, RSS grew by 137 MiB here (40 -> 177 MiB; it held what every upload sent)."""
    import re
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "hoist", "serve", "--addr", "127.0.0.1:0"]
    proc = subprocess.Popen(
        [*cmd, "--root", str(tmp_path / "root"), "--no-ui", "-q", "--max-uploads", "8"],
        stderr=subprocess.PIPE,
        text=True,
    )
    socks: list[socket.socket] = []
    try:
        assert proc.stderr is not None
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", proc.stderr.readline())
        assert match, "hoist serve did not start"
        port = int(match.group(1))
        http = Http(f"http://127.0.0.1:{port}")
        assert http.get("/v2/").status == 200
        before = _rss_mib(proc.pid)
        chunk = secrets.token_bytes(1 << 20)
        for _ in range(400):
            location = start_upload(http, "slow/app")
            sock = socket.create_connection(("127.0.0.1", port))
            socks.append(sock)
            with contextlib.suppress(OSError):  # refused ones are answered and closed
                sock.sendall(head_of("PATCH", location, 8 << 20) + chunk)
        time.sleep(2)  # what the admitted uploads gathered is written out after 0.5 s
        during = _rss_mib(proc.pid)
        assert http.get("/v2/").status == 200
        assert during - before < 8 * 3 + 24, f"RSS {before:.0f} -> {during:.0f} MiB"
    finally:
        for sock in socks:
            sock.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_stalled_uploads_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    stalled = DEFAULT_MAX_UPLOADS + 16
    sent = 64 << 10
    with ServerThread(root) as srv:  # the default limits
        http = Http(srv.url)
        locations = [start_upload(http, "slow/app") for _ in range(stalled)]
        socks = []
        try:
            for location in locations:
                sock = socket.create_connection((srv.bind_host, srv.port))
                sock.sendall(head_of("PATCH", location, 1 << 20) + secrets.token_bytes(sent))
                socks.append(sock)
            stalled_since = time.monotonic()
            # the server answers the ones over the limit, and keeps the others waiting
            answers: dict[socket.socket, bytes] = {}
            deadline = time.monotonic() + 10
            while len(answers) < stalled - DEFAULT_MAX_UPLOADS and time.monotonic() < deadline:
                ready, _, _ = select.select([s for s in socks if s not in answers], [], [], 0.2)
                for sock in ready:
                    answers[sock] = sock.recv(65536)
            time.sleep(0.5)
            ready, _, _ = select.select([s for s in socks if s not in answers], [], [], 0)
            assert not ready  # no further answers: the admitted uploads are still receiving
            assert len(answers) == stalled - DEFAULT_MAX_UPLOADS
            for answer in answers.values():
                assert answer.startswith(b"HTTP/1.1 429 "), answer[:100]
                assert b"TOOMANYREQUESTS" in answer and b"Retry-After: 1" in answer
            # the server keeps answering everyone else quickly
            for _ in range(10):
                started = time.monotonic()
                assert http.get("/v2/").status == 200
                assert time.monotonic() - started < 0.5
            # uploads over the limit are refused, monolithic ones too
            r = http.request(
                "POST", f"/v2/slow/app/blobs/uploads/?digest={digest(b'x')}", body=b"x"
            )
            assert_error(r, 429, "TOOMANYREQUESTS")

            # a stalled upload holds no body bytes in memory: what arrived is on disk
            def sizes() -> list[int]:
                return sorted(
                    (root / "_uploads" / loc.rsplit("/", 1)[1] / "data").stat().st_size
                    for loc in locations
                )

            assert wait_for(lambda: sizes().count(sent) == DEFAULT_MAX_UPLOADS), sizes()
            # once they have sent nothing for a while, a new upload takes the slot of one
            time.sleep(max(0.0, stalled_since + EVICT_AFTER + 0.5 - time.monotonic()))
            r = http.request(
                "POST", f"/v2/slow/app/blobs/uploads/?digest={digest(b'y')}", body=b"y"
            )
            assert r.status == 201, r.body
            waiting = [s for s in socks if s not in answers]
            assert wait_for(
                lambda: len(select.select(waiting, [], [], 0)[0]) == 1, 5
            )  # one stalled client was dropped for it
            dropped = select.select(waiting, [], [], 0)[0][0]
            assert closed_within(dropped, 1)
        finally:
            for sock in socks:
                sock.close()
        # the slots of dropped clients are free again
        assert wait_for(
            lambda: (
                http.request(
                    "POST", f"/v2/slow/app/blobs/uploads/?digest={digest(b'x')}", body=b"x"
                ).status
                == 201
            )
        )


def test_stalled_and_silent_clients_are_dropped(tmp_path: Path) -> None:
    with ServerThread(tmp_path / "root", body_timeout=1.0, idle_timeout=1.0) as srv:
        http = Http(srv.url)
        location = start_upload(http, "slow/app")
        address = (srv.bind_host, srv.port)
        body = socket.create_connection(address)  # sends part of a body, then nothing
        body.sendall(head_of("PATCH", location, 100_000) + b"x" * 1000)
        head = socket.create_connection(address)  # sends part of a request head, then nothing
        head.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
        silent = socket.create_connection(address)  # sends nothing at all
        idle = socket.create_connection(address)  # one request, then keeps the connection open
        idle.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            for sock in (body, head, silent, idle):
                assert closed_within(sock, 5.0)
        finally:
            for sock in (body, head, silent, idle):
                sock.close()
        # what arrived of the stalled chunk is kept, so the client can resume
        assert http.get(location).headers["Range"] == "0-999"


def test_oversized_header_is_refused_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        with ServerThread(tmp_path / "root") as srv:
            r = Http(srv.url).get("/v2/", headers={"X-Padding": "a" * 20_000})
            assert r.status == 400
            assert wait_for(lambda: any("LineTooLong" in m for m in caplog.messages), 5)
        with ServerThread(tmp_path / "root", max_header_size=32 << 10) as srv:
            assert Http(srv.url).get("/v2/", headers={"X-Padding": "a" * 20_000}).status == 200
    assert not tracebacks(caplog)


def test_manifest_over_a_lowered_limit_is_413_and_stores_nothing(tmp_path: Path) -> None:
    with ServerThread(tmp_path / "root", max_manifest_size=2048) as srv:
        http = Http(srv.url)
        config = dump({"a": 1})
        push_blob(http, "small", config)

        def manifest(padding: int) -> bytes:
            return dump(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": desc(OCI_CONFIG, config),
                    "layers": [],
                    "annotations": {"padding": "x" * padding},
                }
            )

        fits, over = manifest(1500), manifest(2100)
        assert len(fits) <= 2048 < len(over)
        assert put_manifest(http, "small", "fits", fits, OCI_MANIFEST).status == 201
        assert_error(
            put_manifest(http, "small", "over", over, OCI_MANIFEST), 413, "MANIFEST_INVALID"
        )
        assert http.get("/v2/small/manifests/over", headers=ACCEPT).status == 404
        assert http.get("/v2/small/tags/list").json()["tags"] == ["fits"]


@pytest.mark.parametrize(
    "options",
    [
        {"max_uploads": -1},
        {"max_uploads": "8"},
        {"max_sessions": 0},
        {"idle_timeout": 0},
        {"body_timeout": float("nan")},
        {"max_header_size": 10},
        {"max_manifest_size": 5 << 20},
        {"upload_ttl": -1},
        {"no_such_option": 1},
    ],
)
def test_bad_settings_fail_at_construction(tmp_path: Path, options: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        ServerThread(tmp_path / "root", **options)


def test_bad_limit_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    from hoist.cli.root import cli

    result = CliRunner().invoke(
        cli, ["serve", "--root", str(tmp_path / "root"), "--max-uploads", "-1"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--max-uploads'" in result.output


# ---------------------------------------------------------------------- 8, 9: passwords


def test_unknown_user_takes_as_long_as_a_wrong_password(tmp_path: Path) -> None:
    path = htpasswd_file(tmp_path / "htpasswd", 8, alice="s3cret")
    with ServerThread(tmp_path / "root", htpasswd=path) as srv:
        known, unknown = (
            Http(srv.url, auth=("alice", "wrong")),
            Http(srv.url, auth=("mallory", "x")),
        )
        known.get("/v2/"), unknown.get("/v2/")  # warm up
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        for _ in range(10):
            for kind, http in (("known", known), ("unknown", unknown)):
                started = time.perf_counter()
                assert_error(http.get("/v2/"), 401, "UNAUTHORIZED")
                times[kind].append(time.perf_counter() - started)
    known_median = statistics.median(times["known"])
    unknown_median = statistics.median(times["unknown"])
    assert unknown_median > 0.5 * known_median, times


def test_bad_passwords_do_not_starve_storage(tmp_path: Path) -> None:
    path = htpasswd_file(tmp_path / "htpasswd", 11, alice="s3cret")
    with ServerThread(tmp_path / "root", htpasswd=path) as srv:
        alice = Http(srv.url, auth=("alice", "s3cret"))
        config, layer = dump({"a": 1}), b"layer"
        push_blob(alice, "auth/app", config)
        push_blob(alice, "auth/app", layer)
        raw = dump(image_manifest(config, [layer]))
        assert put_manifest(alice, "auth/app", "v1", raw, OCI_MANIFEST).status == 201
        stop = threading.Event()

        def attack(i: int) -> int:
            http = Http(srv.url, auth=("alice", f"guess-{i}"))
            tries = 0
            while not stop.is_set():
                assert http.get("/v2/auth/app/tags/list").status in (401, 429)
                tries += 1
            return tries

        with ThreadPoolExecutor(12) as pool:
            attackers = [pool.submit(attack, i) for i in range(12)]
            try:
                time.sleep(1.0)  # every attacker has a password check in flight
                latencies = []
                for _ in range(10):
                    started = time.monotonic()
                    assert alice.get("/v2/auth/app/manifests/v1", headers=ACCEPT).body == raw
                    assert alice.get("/v2/auth/app/tags/list").json()["tags"] == ["v1"]
                    latencies.append(time.monotonic() - started)
            finally:
                stop.set()
            assert sum(a.result(60) for a in attackers) > 0
    assert sorted(latencies)[8] < 0.5, latencies


# ---------------------------------------------------------------------- 10: clients that go away


@pytest.mark.parametrize("method", ["PATCH", "PUT", "POST"])
def test_client_dropping_mid_upload_logs_one_line(
    server: ServerThread, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    http = Http(server.url)
    data = secrets.token_bytes(100_000)
    location = start_upload(http, "drop/app")
    path = {
        "PATCH": location,
        "PUT": with_query(location, f"digest={digest(data)}"),
        "POST": f"/v2/drop/app/blobs/uploads/?digest={digest(data)}",
    }[method]
    with caplog.at_level(logging.INFO):
        sock = socket.create_connection((server.bind_host, server.port))
        sock.sendall(head_of(method, path, len(data)) + data[:1000])
        time.sleep(0.2)
        sock.close()
        assert wait_for(lambda: any("went away" in m for m in caplog.messages), 5)
        time.sleep(0.2)
    assert not tracebacks(caplog)
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.WARNING
    assert "\n" not in gone[0].getMessage()
    assert http.get("/v2/").status == 200


# ---------------------------------------------------------------------- 11: large manifests


def test_large_manifests_do_not_stall_the_event_loop(server: ServerThread) -> None:
    layers = [
        {"mediaType": OCI_LAYER, "digest": digest(str(i).encode()), "size": i}
        for i in range(24_000)
    ]
    raw = dump(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": layers[0], "layers": layers}
    )
    assert 3 << 20 < len(raw) <= 4 << 20
    http = Http(server.url)
    http.get("/v2/")

    def push() -> list[int]:
        client = Http(server.url)
        return [put_manifest(client, "big/app", "v1", raw, OCI_MANIFEST).status for _ in range(2)]

    latencies: list[float] = []
    with ThreadPoolExecutor(4) as pool:
        pushes = [pool.submit(push) for _ in range(4)]
        while not all(p.done() for p in pushes):
            started = time.monotonic()
            assert http.get("/v2/").status == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.01)
        statuses = [s for p in pushes for s in p.result()]
    assert statuses == [400] * 8  # parsed, checked: the layers are not there
    assert len(latencies) >= 10
    # on the loop, the eight parses queue behind each other: 1.7 s on this machine before the
    # fix; one parse is 0.25 s. 1 s leaves room for a loaded machine and still tells them apart
    assert max(latencies) < 1.0, sorted(latencies)[-5:]
