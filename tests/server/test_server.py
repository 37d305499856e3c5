"""``hoist serve`` beyond the spec walk: auth, read-only, names, gc, crash safety, concurrency."""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.oci_http import (
    ACCEPT,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    SPEC_CODES,
    Http,
    Resp,
    assert_error,
    desc,
    digest,
    dump,
    with_query,
)
from support.registry_fixtures import htpasswd_line

from hoist.server.gc import gc
from hoist.server.run import ServerThread

# ---------------------------------------------------------------------- helpers


def push_blob(http: Http, repo: str, data: bytes) -> str:
    d = digest(data)
    r = http.request("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", body=data)
    assert r.status == 201, r.body
    return d


def push_manifest(
    http: Http, repo: str, ref: str, obj: dict[str, Any], media_type: str = OCI_MANIFEST
) -> tuple[bytes, str]:
    raw = dump(obj)
    r = http.request(
        "PUT", f"/v2/{repo}/manifests/{ref}", body=raw, headers={"Content-Type": media_type}
    )
    assert r.status == 201, r.body
    return raw, digest(raw)


def image(http: Http, repo: str, ref: str, **extra: Any) -> tuple[bytes, str, list[str]]:
    """A one-layer image pushed at ``ref``: (manifest bytes, digest, blob digests)."""
    config, layer = dump({"id": secrets.token_hex(8)}), secrets.token_bytes(500)
    blobs = [push_blob(http, repo, config), push_blob(http, repo, layer)]
    obj = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": desc(OCI_CONFIG, config),
        "layers": [desc(OCI_LAYER, layer)],
        **extra,
    }
    raw = dump(obj)
    raw, d = push_manifest(http, repo, ref if ref else digest(raw), obj)
    return raw, d, blobs


def referrer(http: Http, repo: str, subject: tuple[bytes, str], kind: str) -> tuple[bytes, str]:
    push_blob(http, repo, b"{}")
    obj = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": kind,
        "config": desc(OCI_EMPTY, b"{}"),
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject[1], "size": len(subject[0])},
        "annotations": {"nonce": secrets.token_hex(4)},
    }
    return push_manifest(http, repo, digest(dump(obj)), obj)


def raw_request(host: str, port: int, method: str, path: str, body: bytes = b"") -> Resp:
    """A request whose path is sent exactly as given (no client-side normalisation)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return Resp(r.status, r.headers, r.read())
    finally:
        conn.close()


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(tmp_path / "root") as srv:
        yield srv


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_line("alice", "s3cret") + htpasswd_line("bob", "hunter2"))
    return path


# ---------------------------------------------------------------------- auth


def test_basic_auth(tmp_path: Path, htpasswd: Path) -> None:
    with ServerThread(tmp_path / "root", htpasswd=htpasswd) as srv:
        anon, alice = Http(srv.url), Http(srv.url, auth=("alice", "s3cret"))
        r = anon.get("/v2/")
        assert_error(r, 401, "UNAUTHORIZED")
        assert r.headers["WWW-Authenticate"] == 'Basic realm="hoist"'
        assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert_error(Http(srv.url, auth=("alice", "nope")).get("/v2/"), 401, "UNAUTHORIZED")
        assert_error(Http(srv.url, auth=("mallory", "s3cret")).get("/v2/"), 401, "UNAUTHORIZED")
        assert alice.get("/v2/").status == 200
        assert Http(srv.url, auth=("bob", "hunter2")).get("/v2/").status == 200
        raw, _, _ = image(alice, "private/app", "v1")
        assert_error(anon.get("/v2/private/app/manifests/v1", headers=ACCEPT), 401, "UNAUTHORIZED")
        assert_error(anon.get("/v2/_catalog"), 401, "UNAUTHORIZED")
        assert_error(anon.request("POST", "/v2/private/app/blobs/uploads/"), 401, "UNAUTHORIZED")
        assert alice.get("/v2/private/app/manifests/v1", headers=ACCEPT).body == raw


def test_anonymous_read(tmp_path: Path, htpasswd: Path) -> None:
    with ServerThread(tmp_path / "root", htpasswd=htpasswd, anonymous_read=True) as srv:
        anon, alice = Http(srv.url), Http(srv.url, auth=("alice", "s3cret"))
        raw, d, blobs = image(alice, "pub/app", "v1")
        assert anon.get("/v2/pub/app/manifests/v1", headers=ACCEPT).body == raw
        assert anon.head(f"/v2/pub/app/blobs/{blobs[1]}").status == 200
        assert anon.get("/v2/pub/app/tags/list").json()["tags"] == ["v1"]
        assert anon.get("/v2/_catalog").json()["repositories"] == ["pub/app"]
        # writes still need credentials; /v2/ still challenges so clients log in
        r = anon.request("POST", "/v2/pub/app/blobs/uploads/")
        assert_error(r, 401, "UNAUTHORIZED")
        assert r.headers["WWW-Authenticate"].startswith("Basic ")
        assert_error(anon.request("DELETE", f"/v2/pub/app/manifests/{d}"), 401, "UNAUTHORIZED")
        assert_error(anon.get("/v2/"), 401, "UNAUTHORIZED")
        # wrong credentials are refused even for reads
        bad = Http(srv.url, auth=("alice", "wrong"))
        assert_error(bad.get("/v2/pub/app/tags/list"), 401, "UNAUTHORIZED")


def test_htpasswd_must_be_bcrypt(tmp_path: Path) -> None:
    from hoist.errors import InvalidInput
    from hoist.server.app import make_app

    path = tmp_path / "htpasswd"
    path.write_text("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    with pytest.raises(InvalidInput, match="bcrypt"):
        make_app(tmp_path / "root", htpasswd=path)


def test_read_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with ServerThread(root) as srv:
        raw, d, blobs = image(Http(srv.url), "ro/app", "v1")
    with ServerThread(root, read_only=True) as srv:
        http = Http(srv.url)
        assert http.get("/v2/ro/app/manifests/v1", headers=ACCEPT).body == raw
        for method, path in [
            ("POST", "/v2/ro/app/blobs/uploads/"),
            ("PUT", "/v2/ro/app/manifests/v2"),
            ("DELETE", f"/v2/ro/app/manifests/{d}"),
            ("DELETE", "/v2/ro/app/manifests/v1"),
            ("DELETE", f"/v2/ro/app/blobs/{blobs[0]}"),
            ("PATCH", "/v2/ro/app/blobs/uploads/" + "0" * 32),
        ]:
            assert_error(http.request(method, path, body=b"{}"), 405, "UNSUPPORTED")
        assert http.get("/v2/ro/app/manifests/v1", headers=ACCEPT).status == 200


def test_too_many_requests(tmp_path: Path) -> None:
    with ServerThread(tmp_path / "root", max_uploads=0) as srv:
        data = b"refused"
        r = Http(srv.url).request(
            "POST", f"/v2/busy/app/blobs/uploads/?digest={digest(data)}", body=data
        )
        assert_error(r, 429, "TOOMANYREQUESTS")
        assert r.headers["Retry-After"] == "1"


def test_flood_of_sessions_without_a_body_is_bounded(tmp_path: Path) -> None:
    with ServerThread(tmp_path / "root", max_sessions=5) as srv:
        http = Http(srv.url)
        started = [http.request("POST", "/v2/flood/app/blobs/uploads/") for _ in range(5)]
        assert [r.status for r in started] == [202] * 5
        r = http.request("POST", "/v2/flood/app/blobs/uploads/")
        assert_error(r, 429, "TOOMANYREQUESTS")
        assert r.headers["Retry-After"] == "10"
        assert len(list((tmp_path / "root" / "_uploads").iterdir())) == 5
        # cancelling one frees its slot; a monolithic push needs none of the open ones
        assert http.request("DELETE", started[0].headers["Location"]).status == 204
        assert http.request("POST", "/v2/flood/app/blobs/uploads/").status == 202
        data = b"pushed whole"
        r = http.request("POST", f"/v2/flood/app/blobs/uploads/?digest={digest(data)}", body=data)
        assert r.status == 201


def test_idle_sessions_are_purged_to_make_room(tmp_path: Path) -> None:
    with ServerThread(tmp_path / "root", max_sessions=2, upload_ttl=0.2) as srv:
        http = Http(srv.url)
        first = [http.request("POST", "/v2/idle/app/blobs/uploads/") for _ in range(2)]
        assert [r.status for r in first] == [202, 202]
        time.sleep(0.4)
        assert http.request("POST", "/v2/idle/app/blobs/uploads/").status == 202
        assert http.request("GET", first[0].headers["Location"]).status == 404


# ---------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v2/..%2f..%2fetc/tags/list"),
        ("GET", "/v2/a/..%2f..%2f..%2fescape/tags/list"),
        ("POST", "/v2/..%2fescape/blobs/uploads/"),
        ("POST", "/v2/%2e%2e/%2e%2e/escape/blobs/uploads/"),
        ("PUT", "/v2/a/%2e%2e/escape/manifests/v1"),
        ("GET", "/v2/a/../../escape/tags/list"),
        ("POST", "/v2/a/../../../escape/blobs/uploads/"),
        ("GET", "/v2/Escape/tags/list"),
        ("GET", "/v2/a//b/tags/list"),
        ("GET", "/v2/" + "a" * 256 + "/tags/list"),
    ],
)
def test_names_cannot_escape_the_root(tmp_path: Path, method: str, path: str) -> None:
    root = tmp_path / "root"
    with ServerThread(root) as srv:
        before = files_under(tmp_path)
        r = raw_request(srv.bind_host, srv.port, method, path, b"{}" if method == "PUT" else b"")
        assert r.status in (400, 404), (r.status, r.body)
        if r.status == 400:
            assert "NAME_INVALID" in r.codes
        assert files_under(tmp_path) == before
        assert not (tmp_path / "escape").exists()
        assert not any(p.name == "escape" for p in tmp_path.rglob("*"))


@pytest.mark.parametrize(
    "path",
    [
        "/v2/a/blobs/uploads/..%2f..%2fblobs",
        "/v2/a/blobs/uploads/..%2f..%2f..%2f..%2fetc",
        "/v2/a/blobs/sha256:..%2f..%2f..%2fx",
        "/v2/a/manifests/sha256:..%2fx",
        "/v2/a/manifests/..%2f..%2fx",
        "/v2/a/referrers/sha256:..%2f..",
    ],
)
def test_other_path_parts_cannot_escape(server: ServerThread, path: str) -> None:
    r = raw_request(server.bind_host, server.port, "GET", path)
    assert r.status in (400, 404), r.body
    assert set(r.codes) <= SPEC_CODES
    r = raw_request(server.bind_host, server.port, "GET", path.replace("%2f", "/"))
    assert r.status in (400, 404), r.body


def test_tag_with_traversal_is_refused(server: ServerThread) -> None:
    http = Http(server.url)
    raw, _, _ = image(http, "a", "v1")
    r = raw_request(server.bind_host, server.port, "PUT", "/v2/a/manifests/..%2f..%2fx", raw)
    assert r.status in (400, 404)


# ---------------------------------------------------------------------- gc


def test_gc(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with ServerThread(root) as srv:
        http = Http(srv.url)
        kept = image(http, "gc/app", "v1")
        kept_sig = referrer(http, "gc/app", kept[:2], "application/vnd.example.sig")
        sig_of_sig = referrer(http, "gc/app", kept_sig, "application/vnd.example.countersig")
        dropped = image(http, "gc/app", "")  # untagged
        dropped_sig = referrer(http, "gc/app", dropped[:2], "application/vnd.example.sig")
        orphan = push_blob(http, "gc/app", b"never referenced")
        # an index tagged elsewhere keeps its untagged children
        child = image(http, "gc/multi", "")
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": child[1], "size": len(child[0])}],
        }
        push_manifest(http, "gc/multi", "latest", index, OCI_INDEX)
        # a blob shared with a dropped image stays while another repo keeps it
        shared = image(http, "gc/other", "v1")

    before = files_under(root)
    dry = gc(root, dry_run=True, grace=0)
    assert dry.dry_run
    assert files_under(root) == before
    removed = {str(d) for _, d in dry.manifests}
    assert removed == {dropped[1], dropped_sig[1]}
    assert {str(d) for _, d in dry.layers} == {*dropped[2], orphan}
    assert {str(d) for d in dry.blobs} == {dropped[1], dropped_sig[1], *dropped[2], orphan}
    assert dry.freed > 0
    assert any("would remove" in line for line in dry.lines())

    real = gc(root, grace=0)
    assert {str(d) for d in real.blobs} == {str(d) for d in dry.blobs}
    assert not real.dry_run
    with ServerThread(root) as srv:
        http = Http(srv.url)
        for repo, d in [
            ("gc/app", kept[1]),
            ("gc/app", kept_sig[1]),
            ("gc/app", sig_of_sig[1]),
            ("gc/multi", child[1]),
            ("gc/other", shared[1]),
        ]:
            assert http.get(f"/v2/{repo}/manifests/{d}", headers=ACCEPT).status == 200, d
        for d in kept[2]:
            assert http.get(f"/v2/gc/app/blobs/{d}").status == 200
        for d in [dropped[1], dropped_sig[1]]:
            assert http.get(f"/v2/gc/app/manifests/{d}", headers=ACCEPT).status == 404
        for d in [*dropped[2], orphan]:
            assert http.head(f"/v2/gc/app/blobs/{d}").status == 404
        refs = http.get(f"/v2/gc/app/referrers/{kept[1]}").json()["manifests"]
        assert [m["digest"] for m in refs] == [kept_sig[1]]
    assert gc(root, grace=0).blobs == []  # idempotent


def test_gc_cli(tmp_path: Path) -> None:
    from hoist.cli.root import cli

    root = tmp_path / "root"
    with ServerThread(root) as srv:
        image(Http(srv.url), "cli/app", "")
    runner = CliRunner()
    dry = runner.invoke(cli, ["serve", "gc", "--root", str(root), "--dry-run", "--grace", "0"])
    assert dry.exit_code == 0, dry.output
    assert "would remove manifest cli/app@sha256:" in dry.output
    real = runner.invoke(cli, ["serve", "gc", "--root", str(root), "--grace", "0"])
    assert real.exit_code == 0, real.output
    assert "removed blob sha256:" in real.output
    missing = runner.invoke(cli, ["serve", "gc", "--root", str(tmp_path / "nothing")])
    assert missing.exit_code != 0


# ---------------------------------------------------------------------- crash safety


def test_abandoned_upload_leaves_nothing_visible(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = secrets.token_bytes(200_000)
    d = digest(data)
    with ServerThread(root) as srv:
        http = Http(srv.url)
        r = http.request("POST", "/v2/crash/app/blobs/uploads/")
        location = http.path_of(r.headers["Location"])
        r = http.request("PATCH", location, body=data[:100_000])
        assert r.status == 202
        assert http.head(f"/v2/crash/app/blobs/{d}").status == 404
        # a client that dies mid-body: headers promise 100 000 bytes, 1 000 arrive
        sock = socket.create_connection((srv.bind_host, srv.port))
        sock.sendall(
            f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".encode()
            + data[100_000:101_000]
        )
        sock.close()
        time.sleep(0.3)
    assert not list((root / "blobs").rglob("*"))  # nothing reached the blob store
    with ServerThread(root) as srv:
        http = Http(srv.url)
        assert http.head(f"/v2/crash/app/blobs/{d}").status == 404
        status = http.get(location)
        assert status.status == 204
        offset = int(status.headers["Range"].split("-")[1]) + 1
        assert offset in (100_000, 101_000)  # what arrived is kept, so the push can resume
        # resume after the restart: the hash state is rebuilt from the data file
        r = http.request(
            "PATCH", location, body=data[offset:], headers={"Content-Range": f"{offset}-199999"}
        )
        assert r.status == 202, r.body
        r = http.request("PUT", with_query(location, f"digest={d}"))
        assert r.status == 201, r.body
        assert http.get(f"/v2/crash/app/blobs/{d}").body == data


def test_idle_uploads_are_purged(tmp_path: Path) -> None:
    with ServerThread(tmp_path / "root", upload_ttl=0.5) as srv:
        http = Http(srv.url)
        r = http.request("POST", "/v2/idle/app/blobs/uploads/")
        location = http.path_of(r.headers["Location"])
        http.request("PATCH", location, body=b"partial")
        deadline = time.monotonic() + 10
        while http.get(location).status == 204 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert_error(http.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
        assert not list((tmp_path / "root" / "_uploads").iterdir())


def test_digest_mismatch_stores_nothing(server: ServerThread) -> None:
    http = Http(server.url)
    data = b"some content"
    wrong = digest(b"other content")
    r = http.request("POST", f"/v2/bad/app/blobs/uploads/?digest={wrong}", body=data)
    assert_error(r, 400, "DIGEST_INVALID")
    root = Path(str(server.root))
    assert not list((root / "blobs").rglob("*"))
    assert not list((root / "_uploads").iterdir())


def test_temporary_files_are_never_served(server: ServerThread) -> None:
    http = Http(server.url)
    _, d, _ = image(http, "tmp/app", "v1")
    root = Path(str(server.root))
    tags = root / "repositories" / "tmp" / "app" / "_manifests" / "tags"
    (tags / ".tmp-123").write_text(d)
    layers = root / "repositories" / "tmp" / "app" / "_layers" / "sha256"
    (layers / ".tmp-456").write_text("x")
    assert http.get("/v2/tmp/app/tags/list").json()["tags"] == ["v1"]
    assert http.get("/v2/tmp/app/manifests/.tmp-123", headers=ACCEPT).status == 404
    assert http.get("/v2/tmp/app/blobs/sha256:.tmp-456").status == 400


def test_chunk_with_wrong_length_is_rolled_back(server: ServerThread) -> None:
    http = Http(server.url)
    data = secrets.token_bytes(3000)
    r = http.request("POST", "/v2/len/app/blobs/uploads/")
    location = http.path_of(r.headers["Location"])
    r = http.request("PATCH", location, body=data[:1000], headers={"Content-Range": "0-999"})
    assert r.status == 202

    def body() -> Iterator[bytes]:
        yield data[1000:1500]  # declares 1000 bytes, sends 500

    r = http.request(
        "PATCH", location, body=body(), chunked=True, headers={"Content-Range": "1000-1999"}
    )
    assert_error(r, 400, "SIZE_INVALID")
    assert http.get(location).headers["Range"] == "0-999"
    r = http.request("PUT", with_query(location, f"digest={digest(data)}"), body=data[1000:])
    assert r.status == 201, r.body


# ---------------------------------------------------------------------- concurrency


def test_concurrent_pushes_of_the_same_blob(server: ServerThread) -> None:
    data = secrets.token_bytes(2_000_000)
    d = digest(data)
    errors: list[BaseException] = []

    def push(i: int) -> None:
        try:
            http = Http(server.url)
            repo = f"race/r{i % 3}"
            r = http.request("POST", f"/v2/{repo}/blobs/uploads/")
            location = http.path_of(r.headers["Location"])
            half = len(data) // 2
            r = http.request("PATCH", location, body=data[:half])
            assert r.status == 202, r.body
            location = http.path_of(r.headers["Location"])
            r = http.request("PUT", with_query(location, f"digest={d}"), body=data[half:])
            assert r.status == 201, r.body
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    http = Http(server.url)
    for i in range(3):
        assert http.get(f"/v2/race/r{i}/blobs/{d}").body == data
    root = Path(str(server.root))
    stored = [p for p in (root / "blobs").rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [d.split(":")[1]]
    assert hashlib.sha256(stored[0].read_bytes()).hexdigest() == d.split(":")[1]
    assert not list((root / "_uploads").iterdir())


def test_concurrent_manifest_pushes(server: ServerThread) -> None:
    http = Http(server.url)
    raw, _, _ = image(http, "mrace/app", "base")
    errors: list[BaseException] = []

    def tag(i: int) -> None:
        try:
            r = Http(server.url).request(
                "PUT",
                f"/v2/mrace/app/manifests/t{i:02d}",
                body=raw,
                headers={"Content-Type": OCI_MANIFEST},
            )
            assert r.status == 201, r.body
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tag, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    tags = http.get("/v2/mrace/app/tags/list").json()["tags"]
    assert tags == ["base", *[f"t{i:02d}" for i in range(20)]]


# ---------------------------------------------------------------------- odds and ends


def test_request_log(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "hoist.server.access"]

    with caplog.at_level(logging.INFO, logger="hoist.server.access"):
        Http(server.url).get("/v2/nope/tags/list")
        deadline = time.monotonic() + 5  # the line is written once the answer is sent
        while not lines() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.05)
    assert len(lines()) == 1
    method, path, status, size, ms, user = lines()[0].split()
    assert (method, path, status, user) == ("GET", "/v2/nope/tags/list", "404", "-")
    assert size.endswith("B") and ms.endswith("ms")


def test_manifest_content_type_parameters_are_ignored(server: ServerThread) -> None:
    http = Http(server.url)
    config = dump({"p": 1})
    push_blob(http, "ctype/app", config)
    raw = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, config),
            "layers": [],
        }
    )
    r = http.request(
        "PUT",
        "/v2/ctype/app/manifests/v1",
        body=raw,
        headers={"Content-Type": OCI_MANIFEST + "; charset=utf-8"},
    )
    assert r.status == 201, r.body
    assert http.get("/v2/ctype/app/manifests/v1", headers=ACCEPT).headers["Content-Type"] == (
        OCI_MANIFEST
    )


def test_unknown_endpoint_and_method(server: ServerThread) -> None:
    http = Http(server.url)
    assert_error(http.get("/v2/a/b/nothing-here"), 404, "UNSUPPORTED")
    r = http.request("POST", "/v2/a/b/tags/list")
    assert_error(r, 405, "UNSUPPORTED")
    assert "GET" in r.headers["Allow"]


def test_help_does_not_import_aiohttp() -> None:
    code = (
        "import sys\n"
        "from hoist.cli.main import main\n"
        "try:\n    main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "hoist serve gc" in proc.stdout


def test_cli_serve(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hoist",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--root",
            str(tmp_path / "root"),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        url = line.split("listening on ")[1].split()[0]
        assert Http(url).get("/v2/").json() == {}
        assert "GET /v2/ 200" in proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "hoist",
                "serve",
                "--addr",
                f"127.0.0.1:{port}",
                "--root",
                str(tmp_path / "root"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        busy.close()
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "hoist", "serve", "--addr", "nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "HOST:PORT" in bad.stderr


def test_catalog_n_zero_and_bad_n(server: ServerThread) -> None:
    http = Http(server.url)
    image(http, "cat/a", "v1")
    r = http.get("/v2/_catalog?n=0")
    assert r.json() == {"repositories": []}
    assert "Link" not in r.headers
    assert_error(http.get("/v2/_catalog?n=-1"), 400, "UNSUPPORTED")


def test_json_error_bodies(server: ServerThread) -> None:
    r = Http(server.url).get("/v2/x/manifests/sha256:abc", headers=ACCEPT)
    assert_error(r, 400, "DIGEST_INVALID")
    assert r.headers["Content-Type"].startswith("application/json")
    body = json.loads(r.body)
    assert set(body["errors"][0]) >= {"code", "message"}
