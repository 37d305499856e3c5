"""The CLI's network options against real registries: credentials for one command (htpasswd and
token registries), auth.json, skopeo's names, failing fast, no secrets anywhere, no warnings."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.fake_http import FakeServer, Request
from support.registry_fixtures import RegistryServer, http_get

from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference, Reference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import base_image, write_image

SAMPLE = base_image([Platform("linux", "amd64")])
HOIST = str(Path(sys.executable).parent / "hoist")


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private config files; no saved logins, no proxies, no certs.d."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOIST_CERTS_DIRS", str(tmp_path / "certs.d"))
    for name in (
        "XDG_RUNTIME_DIR",
        "REGISTRY_AUTH_FILE",
        "HOIST_PASSWORD",
        "HOIST_CREDS",
        "HOIST_SRC_CREDS",
        "HOIST_DEST_CREDS",
        "HOIST_REGISTRY_TOKEN",
        "HOIST_IDENTITY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _pushed(request: pytest.FixtureRequest, server: RegistryServer, repo: str) -> str:
    store = request.getfixturevalue("registry_store")(server)
    write_image(store, Reference(server.host, repo, "v1"), SAMPLE)
    return f"{server.host}/{repo}"


@pytest.mark.parametrize("auth", ["registry_basic", "registry_token"])
def test_creds_for_one_command(
    request: pytest.FixtureRequest, capsysbinary: Any, repo_name: str, auth: str, env: Path
) -> None:
    server: RegistryServer = request.getfixturevalue(auth)
    repo = _pushed(request, server, repo_name)
    assert server.creds is not None
    code, out, err = run(
        capsysbinary, "tag", "ls", repo, "--tls", "disabled", "--creds", server.creds
    )
    assert code == 0, err
    assert out.decode().split() == ["v1"]
    # the options work before the command too
    code, out, _ = run(
        capsysbinary, "--tls", "disabled", "--creds", server.creds, "tag", "ls", repo
    )
    assert code == 0 and out.decode().split() == ["v1"]
    # nothing was saved
    assert not (env / "docker" / "config.json").exists() and not (env / "hoist.json").exists()
    if auth == "registry_token":
        return  # anonymous pulls are allowed there
    code, _, err = run(capsysbinary, "tag", "ls", repo, "--tls", "disabled")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "anonymously" in err or "unauthorized" in err
    assert f"hoist registry login {server.host}" in err


def test_password_from_stdin_and_environment(
    request: pytest.FixtureRequest,
    capsysbinary: Any,
    repo_name: str,
    registry_basic: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = _pushed(request, registry_basic, repo_name)
    user, password = registry_basic.username, registry_basic.password
    assert user and password
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    args = ["tag", "ls", repo, "--tls", "disabled", "--creds", user]
    code, out, err = run(capsysbinary, *args, "--password-stdin")
    assert code == 0 and out.decode().split() == ["v1"], err
    monkeypatch.setenv("HOIST_PASSWORD", password)
    code, out, err = run(capsysbinary, *args)
    assert code == 0 and out.decode().split() == ["v1"], err
    monkeypatch.delenv("HOIST_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal: no prompt, no warning
    code, _, err = run(capsysbinary, *args)
    assert code == 2 and "--password-stdin" in err and "Warning" not in err
    monkeypatch.setenv("HOIST_CREDS", f"{user}:{password}")
    code, out, err = run(capsysbinary, "tag", "ls", repo, "--tls", "disabled")
    assert code == 0 and out.decode().split() == ["v1"], err


def test_src_and_dest_creds(
    request: pytest.FixtureRequest,
    capsysbinary: Any,
    repo_name: str,
    registry_basic: RegistryServer,
    registry_token: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = _pushed(request, registry_basic, repo_name)
    dst = f"{registry_token.host}/{repo_name}:copied"
    assert registry_basic.creds and registry_token.creds
    code, _, err = run(
        capsysbinary,
        "image",
        "copy",
        "-q",
        f"{src}:v1",
        dst,
        "--tls",
        "disabled",
        "--src-creds",
        registry_basic.creds,
        "--dest-creds",
        registry_token.creds,
    )
    assert code == 0, err
    code, out, err = run(
        capsysbinary, "tag", "ls", dst, "--tls", "disabled", "--creds", registry_token.creds
    )
    assert code == 0 and out.decode().split() == ["copied"], err
    code, _, err = run(
        capsysbinary, "image", "copy", f"{src}:v1", "ocidir://x", "--dest-creds", "a:b"
    )
    assert code == 2 and "not on a registry" in err
    # the same from the environment, as CI jobs give them
    monkeypatch.setenv("HOIST_SRC_CREDS", registry_basic.creds)
    monkeypatch.setenv("HOIST_DEST_CREDS", registry_token.creds)
    code, _, err = run(
        capsysbinary, "image", "copy", "-q", f"{src}:v1", f"{dst}-env", "--tls", "disabled"
    )
    assert code == 0, err
    monkeypatch.delenv("HOIST_SRC_CREDS")
    code, _, err = run(
        capsysbinary, "image", "copy", "-q", f"{src}:v1", f"{dst}-env2", "--tls", "disabled"
    )
    assert code == 1 and "anonymously" in err  # the source needs its credentials


def test_registry_token(
    request: pytest.FixtureRequest,
    capsysbinary: Any,
    repo_name: str,
    registry_token: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = _pushed(request, registry_token, repo_name)
    ts = registry_token.token_server
    assert ts is not None and registry_token.creds
    query = urllib.parse.urlencode({"service": ts.service, "scope": f"repository:{repo_name}:pull"})
    basic = base64.b64encode(registry_token.creds.encode()).decode()
    status, _, body = http_get(f"{ts.realm}?{query}", {"Authorization": f"Basic {basic}"})
    assert status == 200
    token = json.loads(body)["token"]
    args = ["tag", "ls", repo, "--tls", "disabled"]
    code, out, err = run(capsysbinary, *args, "--registry-token", token)
    assert code == 0 and out.decode().split() == ["v1"], err
    code, _, err = run(capsysbinary, *args, "--registry-token", "not-a-token")
    assert code == 1 and "with a registry token" in err and "not-a-token" not in err
    monkeypatch.setenv("HOIST_REGISTRY_TOKEN", token)
    code, out, err = run(capsysbinary, *args)
    assert code == 0 and out.decode().split() == ["v1"], err


def test_identity_token(
    request: pytest.FixtureRequest,
    capsysbinary: Any,
    repo_name: str,
    registry_token: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An OAuth2 refresh token (what `docker login` stores as identitytoken) for one command:
    the token server is asked with grant_type=refresh_token."""
    ts = registry_token.token_server
    assert ts is not None and registry_token.username
    layout = LayoutReference("ocidir", str(request.getfixturevalue("tmp_path") / "l"), "v1")
    write_image(OCIDirStore(fsync=False), layout, SAMPLE)
    dst = f"{registry_token.host}/{repo_name}:v1"
    args = ["image", "copy", "-q", str(layout), dst, "--tls", "disabled"]
    code, _, err = run(
        capsysbinary, *args, "--identity-token", ts.new_refresh_token(registry_token.username)
    )
    assert code == 0, err
    monkeypatch.setenv("HOIST_IDENTITY_TOKEN", ts.new_refresh_token(registry_token.username))
    code, _, err = run(capsysbinary, *args)
    assert code == 0, err
    mine = [r for r in ts.requests if r.actions_for(repo_name)]
    assert mine and all(r.grant_type == "refresh_token" and r.authenticated for r in mine)
    monkeypatch.setenv("HOIST_IDENTITY_TOKEN", "not-a-refresh-token")
    code, _, err = run(capsysbinary, *args)
    assert code == 1 and "not-a-refresh-token" not in err


def test_authfile_and_no_creds(
    request: pytest.FixtureRequest,
    capsysbinary: Any,
    repo_name: str,
    registry_basic: RegistryServer,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = _pushed(request, registry_basic, repo_name)
    assert registry_basic.creds
    auth = env / "auth.json"
    encoded = base64.b64encode(registry_basic.creds.encode()).decode()
    auth.write_text(json.dumps({"auths": {registry_basic.host: {"auth": encoded}}}))
    args = ["tag", "ls", repo, "--tls", "disabled"]
    code, out, err = run(capsysbinary, *args, "--authfile", str(auth))
    assert code == 0 and out.decode().split() == ["v1"], err
    code, _, _ = run(capsysbinary, *args, "--authfile", str(auth), "--no-creds")
    assert code == 1
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    assert run(capsysbinary, *args)[0] == 0
    monkeypatch.delenv("REGISTRY_AUTH_FILE")
    # podman's default place
    default = env / "xdg" / "containers" / "auth.json"
    default.parent.mkdir(parents=True)
    default.write_text(auth.read_text())
    assert run(capsysbinary, *args)[0] == 0
    code, _, err = run(capsysbinary, *args, "--no-creds", "--creds", "a:b")
    assert code == 2 and "--no-creds excludes --creds" in err


def test_login_where_none_is_needed(
    capsysbinary: Any, registry_anon: RegistryServer, env: Path
) -> None:
    code, _, err = run(capsysbinary, "registry", "login", registry_anon.host, "--tls", "disabled")
    assert code == 0 and "needs no login" in err
    assert not (env / "docker" / "config.json").exists()


def test_login_to_an_authfile(
    capsysbinary: Any,
    registry_basic: RegistryServer,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert registry_basic.username and registry_basic.password
    monkeypatch.setattr("sys.stdin", io.StringIO(registry_basic.password + "\n"))
    auth = env / "auth.json"
    code, _, err = run(
        capsysbinary,
        "registry",
        "login",
        registry_basic.host,
        "-u",
        registry_basic.username,
        "--password-stdin",
        "--tls",
        "disabled",
        "--authfile",
        str(auth),
    )
    assert code == 0, err
    assert registry_basic.host in json.loads(auth.read_text())["auths"]
    assert not (env / "docker" / "config.json").exists()
    assert registry_basic.password not in err


# -- failing fast ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "cause"),
    [("127.0.0.1:1/app:v1", "connection refused"), ("reg.hoist.invalid/app:v1", "resolve")],
)
def test_fails_fast_in_one_line(capsysbinary: Any, ref: str, cause: str) -> None:
    start = time.monotonic()
    code, _, err = run(capsysbinary, "image", "digest", ref)
    elapsed = time.monotonic() - start
    assert code == 1 and cause in err and len(err.strip().splitlines()) == 1
    assert elapsed < 1.0


def test_retries_and_timeout_options(capsysbinary: Any) -> None:
    hits: list[float] = []

    def slow(r: Request) -> None:
        hits.append(time.monotonic())
        time.sleep(0.6)
        r.reply(200, b"{}")

    srv = FakeServer(slow)
    try:
        args = ["tag", "ls", f"{srv.host}/app", "--tls", "disabled", "--timeout", "0.2"]
        code, _, err = run(capsysbinary, *args, "--retries", "1")
        assert code == 1 and "timed out" in err and "2 attempts" in err
    finally:
        srv.close()
    assert len(hits) == 2


# -- names as other tools write them ---------------------------------------------------------------


def test_skopeo_names_and_the_local_path_hint(
    capsysbinary: Any, tmp_path: Path, registry_anon: RegistryServer, repo_name: str
) -> None:
    layout = tmp_path / "layout"
    write_image(OCIDirStore(), LayoutReference("ocidir", str(layout), "v1"), SAMPLE)
    code, out, err = run(capsysbinary, "image", "digest", f"oci:{layout}:v1")
    assert code == 0 and out.decode().strip() == str(SAMPLE.top.digest), err
    archive = tmp_path / "app.tar"
    code, _, err = run(
        capsysbinary, "image", "copy", "-q", f"oci:{layout}:v1", f"oci-archive:{archive}:v1"
    )
    assert code == 0, err
    code, out, err = run(capsysbinary, "image", "digest", f"oci-archive:{archive}:v1")
    assert code == 0 and out.decode().strip() == str(SAMPLE.top.digest), err
    docker = tmp_path / "app-docker.tar"
    code, _, err = run(
        capsysbinary, "image", "copy", "-q", f"oci:{layout}:v1", f"docker-archive:{docker}:v1"
    )
    assert code == 0, err
    code, out, err = run(capsysbinary, "image", "config", f"docker-archive:{docker}")
    assert code == 0 and json.loads(out)["rootfs"]["diff_ids"], err
    dst = f"docker://{registry_anon.host}/{repo_name}:v1"
    code, _, err = run(
        capsysbinary, "image", "copy", "-q", f"oci:{layout}:v1", dst, "--tls", "disabled"
    )
    assert code == 0, err
    code, out, err = run(capsysbinary, "image", "digest", dst, "--tls", "disabled")
    assert code == 0 and out.decode().strip() == str(SAMPLE.top.digest), err
    code, _, err = run(capsysbinary, "image", "digest", str(layout))
    assert code in (1, 2) and f"did you mean ocidir://{layout}?" in err
    assert len(err.strip().splitlines()) == 1


# -- secrets and warnings --------------------------------------------------------------------------


def _wait_for_a_request(srv: FakeServer) -> None:
    """Until hoist, in another process, has reached ``srv`` (at most 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not srv.requests():
        time.sleep(0.05)
    assert srv.requests(), "hoist never reached the registry"


def _subprocess_env(env: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return {**keep, "HOIST_CONFIG": str(env / "hoist.json"), "DOCKER_CONFIG": str(env / "docker")}


def test_password_never_in_process_list_logs_or_errors(
    registry_basic: RegistryServer, env: Path, repo_name: str, request: pytest.FixtureRequest
) -> None:
    repo = _pushed(request, registry_basic, repo_name)
    user, password = registry_basic.username, registry_basic.password
    assert user and password
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    # a command line seen while the command runs: the registry answers slowly
    seen: list[bytes] = []
    gate = threading.Event()

    def slow(r: Request) -> None:
        gate.wait(5)
        r.reply(200, {"name": "app", "tags": ["v1"]})

    srv = FakeServer(slow)
    try:
        proc = subprocess.Popen(
            [
                HOIST,
                "tag",
                "ls",
                f"{srv.host}/app",
                "--tls",
                "disabled",
                "--creds",
                f"{user}:{password}",
            ],
            env=_subprocess_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _wait_for_a_request(srv)
        seen.append(Path(f"/proc/{proc.pid}/cmdline").read_bytes())
        ps = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(proc.pid)], capture_output=True)
        seen.append(ps.stdout)
        gate.set()
        _, err = proc.communicate(timeout=20)
    finally:
        gate.set()
        srv.close()
    assert proc.returncode == 0, err
    assert b"--creds" in seen[0] and user.encode() in seen[0]
    for listing in seen:
        assert password.encode() not in listing
    # logs at their most verbose, a success and a refusal
    for secret in (password, "wrong-" + password):
        result = subprocess.run(
            [HOIST, "-vv", "tag", "ls", repo, "--tls", "disabled", "--creds", f"{user}:{secret}"],
            env=_subprocess_env(env),
            capture_output=True,
            text=True,
            timeout=60,
        )
        text = result.stdout + result.stderr
        assert secret not in text and basic not in text
        assert base64.b64encode(f"{user}:{secret}".encode()).decode() not in text
    assert result.returncode == 1 and "hoist registry login" in result.stderr


@pytest.mark.parametrize("option", ["--src-creds", "--dest-creds"])
def test_two_ended_passwords_leave_the_process_list(option: str, env: Path) -> None:
    gate = threading.Event()

    def slow(r: Request) -> None:
        gate.wait(5)
        r.error(404, "MANIFEST_UNKNOWN", "no such manifest")

    srv = FakeServer(slow)
    layout = LayoutReference("ocidir", str(env / "layout"), "v1")
    write_image(OCIDirStore(fsync=False), layout, SAMPLE)
    src, dst = (f"{srv.host}/app:v1", f"ocidir://{env / 'out'}:v1")
    if option == "--dest-creds":
        src, dst = str(layout), f"{srv.host}/app:v1"
    secret = "s3cret-" + option[2:]
    try:
        proc = subprocess.Popen(
            [HOIST, "image", "copy", src, dst, "--tls", "disabled", option, f"bob:{secret}"],
            env=_subprocess_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _wait_for_a_request(srv)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        gate.set()
        _, err = proc.communicate(timeout=20)
    finally:
        gate.set()
        srv.close()
    assert option.encode() in cmdline and b"bob:" in cmdline
    assert secret.encode() not in cmdline and secret.encode() not in err


def test_no_raw_warnings_with_tls_insecure(registry_mtls: RegistryServer, env: Path) -> None:
    tls = registry_mtls.tls
    assert tls is not None and tls.client is not None and registry_mtls.creds
    config = {
        "registries": {
            registry_mtls.host: {
                "client_cert": str(tls.client.cert),
                "client_key": str(tls.client.key),
            }
        }
    }
    (env / "hoist.json").write_text(json.dumps(config))
    result = subprocess.run(
        [
            HOIST,
            "--tls",
            "insecure",
            "repo",
            "ls",
            registry_mtls.host,
            "--creds",
            registry_mtls.creds,
        ],
        env={**_subprocess_env(env), "PYTHONWARNINGS": "always"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and result.stderr == ""


def test_registry_set_and_unset_each_setting(capsysbinary: Any, env: Path, tmp_path: Path) -> None:
    host = "reg.example:5000"
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("y")
    args = [
        "registry", "set", host, "--client-cert", str(cert), "--client-key", str(key),
        "--mirror", "m1.example/hub", "--mirror", "m2.example", "--priority", "5",
        "--req-per-sec", "2.5", "--req-concurrent", "3", "--proxy", "proxy.corp:3128",
    ]  # fmt: skip
    assert run(capsysbinary, *args)[0] == 0
    assert (
        run(capsysbinary, "registry", "set", host, "--mirror", "m3.example", "--priority", "9")[0]
        == 0
    )
    data = json.loads((env / "hoist.json").read_text())["registries"][host]
    assert data == {
        "tls": "enabled",
        "client_cert": str(cert),
        "client_key": str(key),
        "mirrors": [
            {"location": "m3.example", "priority": 9},
            {"location": "m1.example/hub", "priority": 5},
            {"location": "m2.example", "priority": 5},
        ],
        "req_per_sec": 2.5,
        "req_concurrent": 3,
        "proxy": "http://proxy.corp:3128",
    }
    code, out, _ = run(capsysbinary, "registry", "config")
    assert code == 0 and "m3.example(9)" in out.decode() and "2.5/3" in out.decode()
    unset = ["registry", "unset", host, "--mirror", "m1.example/hub", "--proxy", "--req-per-sec"]
    assert run(capsysbinary, *unset)[0] == 0
    data = json.loads((env / "hoist.json").read_text())["registries"][host]
    assert [m["location"] for m in data["mirrors"]] == ["m3.example", "m2.example"]
    assert "proxy" not in data and "req_per_sec" not in data and data["req_concurrent"] == 3
    for flag in ("--client-cert", "--mirrors", "--req-concurrent"):
        assert run(capsysbinary, "registry", "unset", host, flag)[0] == 0
    assert json.loads((env / "hoist.json").read_text())["registries"][host] == {"tls": "enabled"}
    code, _, err = run(capsysbinary, "registry", "unset", host, "--mirror", "nope.example")
    assert code == 1 and "no mirror nope.example" in err
    assert run(capsysbinary, "registry", "unset", host)[0] == 0
    assert json.loads((env / "hoist.json").read_text())["registries"] == {}
    code, _, err = run(capsysbinary, "registry", "set", host, "--proxy", "socks5://p:1")
    assert code == 1 and "not supported" in err


def test_proxy_for_one_command(
    squid: Any,
    registry_mtls: RegistryServer,
    capsysbinary: Any,
    repo_name: str,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--proxy URL`` through a real squid to a registry only squid can resolve; ``--proxy
    direct`` ignores HTTPS_PROXY."""
    tls = registry_mtls.tls
    assert tls is not None and tls.client is not None and registry_mtls.creds
    behind = f"registry.proxied.test:{registry_mtls.port}"
    code, _, err = run(
        capsysbinary,
        "registry",
        "set",
        behind,
        "--ca",
        str(tls.ca.path),
        "--client-cert",
        str(tls.client.cert),
        "--client-key",
        str(tls.client.key),
    )
    assert code == 0, err
    layout = LayoutReference("ocidir", str(env / "layout"), "v1")
    write_image(OCIDirStore(fsync=False), layout, SAMPLE)
    started = len(squid.entries())
    creds = ["--creds", registry_mtls.creds]
    dst = f"{behind}/{repo_name}"
    code, _, err = run(
        capsysbinary, "image", "copy", "-q", str(layout), f"{dst}:v1", *creds, "--proxy", squid.url
    )
    assert code == 0, err
    code, out, err = run(capsysbinary, "tag", "ls", dst, *creds, "--proxy", squid.url)
    assert code == 0 and out.decode().split() == ["v1"], err
    entries = squid.wait_entries(started, lambda es: any(e.url == behind for e in es))
    assert {e.method for e in entries} == {"CONNECT"} and {e.url for e in entries} == {behind}
    # without a proxy the name does not resolve; --proxy direct overrides the environment
    code, _, err = run(capsysbinary, "tag", "ls", dst, *creds)
    assert code == 1 and "cannot resolve host name" in err
    monkeypatch.setenv("HTTPS_PROXY", squid.url)
    code, _, err = run(capsysbinary, "tag", "ls", dst, *creds, "--proxy", "direct")
    assert code == 1 and "cannot resolve host name" in err
    code, out, err = run(capsysbinary, "tag", "ls", dst, *creds)
    assert code == 0 and out.decode().split() == ["v1"], err
