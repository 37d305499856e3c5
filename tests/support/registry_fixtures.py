"""Pytest plugin: real registries (CNCF distribution 2.8) on loopback for tests.

Fixtures (session-scoped unless noted):

* ``registry_anon`` / ``registry_anon2``: anonymous registries,
* ``registry_basic``: htpasswd (bcrypt) basic auth,
* ``registry_token``: bearer tokens from ``token_server`` (a :class:`TokenServer`),
* ``registry_mtls``: htpasswd basic auth over TLS that requires a client certificate (its CA,
  server and client certificates in ``.tls``, a :class:`RegistryTLS`),
* ``make_registry`` (function-scoped): factory for private instances, e.g. to
  test ``restart()`` without disturbing the shared ones,
* ``repo_name`` (function-scoped): a fresh, valid repository name per test.

A missing ``docker-registry`` binary skips the tests that need it, unless
``HOIST_TEST_REQUIRE_TOOLS=1`` (set by ``scripts/test.sh``), which makes it an error.
``HOIST_TEST_REGISTRY_BIN`` overrides the binary path.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import bcrypt
import pytest

from support.certs import Issued, TestCA
from support.token_server import TokenServer

AuthMode = Literal["anon", "basic", "token"]

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
DEFAULT_USERNAME = "hoist"

# Direct connections only: loopback must never go through an HTTP(S)_PROXY.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def require_tool(name: str) -> None:
    """Skip the current test (or fail, with HOIST_TEST_REQUIRE_TOOLS=1): ``name`` is missing."""
    msg = f"{name} not found on PATH (Debian: apt-get install skopeo docker-registry)"
    if os.environ.get("HOIST_TEST_REQUIRE_TOOLS") == "1":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def registry_binary() -> str | None:
    """Path of the distribution binary (``docker-registry`` on Debian, ``registry`` upstream)."""
    override = os.environ.get("HOIST_TEST_REGISTRY_BIN")
    if override:
        return override
    return shutil.which("docker-registry") or shutil.which("registry")


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RegistryTLS:
    """TLS of a test registry: the CA, the server's certificate, and, when the registry
    requires one, the client certificate it accepts (``client``)."""

    ca: TestCA
    server: Issued
    client: Issued | None = None

    def context(self) -> ssl.SSLContext:
        """A client context trusting the CA and showing the client certificate."""
        ctx = ssl.create_default_context(cafile=str(self.ca.path))
        if self.client is not None:
            ctx.load_cert_chain(str(self.client.cert), str(self.client.key))
        return ctx


SERVER_NAMES = ["127.0.0.1", "localhost", "registry.proxied.test"]
"""The names test registries' certificates carry (the last one only a test proxy resolves)."""


def make_registry_tls(directory: Path, *, client_certs: bool = True) -> RegistryTLS:
    ca = TestCA(directory)
    server = ca.issue("server", SERVER_NAMES)
    client = ca.issue("client", ["hoist test client"], client=True) if client_certs else None
    return RegistryTLS(ca, server, client)


def http_get(
    url: str,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
) -> tuple[int, Message, bytes]:
    """GET without proxies; (status, headers, body), also for HTTP errors.

    The headers are an :class:`email.message.Message` (case-insensitive lookups).
    """
    req = urllib.request.Request(url, headers=headers or {})
    opener = _opener
    if context is not None:
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


def htpasswd_line(username: str, password: str) -> str:
    """An htpasswd entry with a ``$2y$`` bcrypt hash (the only kind distribution accepts)."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode("ascii")
    return f"{username}:$2y${hashed[4:]}\n"


class RegistryServer:
    """A ``docker-registry serve`` process on 127.0.0.1 with filesystem storage.

    Attributes: ``host`` ("127.0.0.1:PORT"), ``url`` ("http://127.0.0.1:PORT"),
    ``port``, ``root`` (storage dir), ``auth`` ("anon" | "basic" | "token"),
    ``username`` / ``password`` (None when anonymous), ``creds`` ("user:pass" or None),
    ``token_server`` (for "token"), ``log_path``.
    """

    def __init__(
        self,
        workdir: Path,
        auth: AuthMode = "anon",
        *,
        username: str | None = None,
        password: str | None = None,
        token_server: TokenServer | None = None,
        binary: str | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        tls: RegistryTLS | None = None,
    ) -> None:
        if auth == "token" and token_server is None:
            raise ValueError("auth='token' needs a token_server")
        if auth != "anon":
            username = username or (token_server.username if token_server else DEFAULT_USERNAME)
            password = password or (
                token_server.password if token_server else secrets.token_urlsafe(12)
            )
        else:
            username = password = None
        self.auth: AuthMode = auth
        self.tls = tls
        self.username = username
        self.password = password
        self.token_server = token_server
        self.binary = binary or registry_binary() or "docker-registry"
        self.startup_timeout = startup_timeout
        self.workdir = workdir
        self.root = workdir / "data"
        self.config_path = workdir / "config.yml"
        self.log_path = workdir / "registry.log"
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    # -- addresses ---------------------------------------------------------

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` (registry host for references)."""
        assert self.port is not None, "registry not started"
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with TLS)."""
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def creds(self) -> str | None:
        """``user:pass`` for skopeo's ``--creds``, or None when anonymous."""
        if self.username is None or self.password is None:
            return None
        return f"{self.username}:{self.password}"

    def __repr__(self) -> str:
        where = self.host if self.port is not None else "stopped"
        return f"<RegistryServer {self.auth} {where}>"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> RegistryServer:
        """Start on the current port (a fresh free one the first time) and wait until ready."""
        self.root.mkdir(parents=True, exist_ok=True)
        fixed = self.port is not None
        attempts = 1 if fixed else 3
        for attempt in range(attempts):
            if not fixed:
                self.port = free_port()
            self._write_config()
            try:
                self._spawn_and_wait()
                return self
            except RuntimeError as err:
                in_use = "address already in use" in str(err).lower()
                if fixed or not in_use or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Terminate (then kill) the process; the port and storage are kept."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)

    def restart(self, fresh: bool = True) -> None:
        """Stop, optionally wipe the storage (``fresh``), and start again on the same port."""
        self.stop()
        if fresh and self.root.exists():
            shutil.rmtree(self.root)
        self.start()

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the registry log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- internals ---------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The registry configuration (written as JSON, which is valid YAML)."""
        cfg: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "info", "formatter": "text"},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
        }
        if self.tls is not None:
            tls: dict[str, Any] = {
                "certificate": str(self.tls.server.cert),
                "key": str(self.tls.server.key),
            }
            if self.tls.client is not None:
                tls["clientcas"] = [str(self.tls.ca.path)]
            cfg["http"]["tls"] = tls
        if self.auth == "basic":
            assert self.username is not None and self.password is not None
            htpasswd = self.workdir / "htpasswd"
            htpasswd.write_text(htpasswd_line(self.username, self.password))
            cfg["auth"] = {"htpasswd": {"realm": "hoist-test", "path": str(htpasswd)}}
        elif self.auth == "token":
            assert self.token_server is not None
            bundle = self.workdir / "token-signer.pem"
            bundle.write_bytes(self.token_server.cert_pem)
            cfg["auth"] = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": self.token_server.service,
                    "issuer": self.token_server.issuer,
                    "rootcertbundle": str(bundle),
                }
            }
        return cfg

    def _write_config(self) -> None:
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")

    def _spawn_and_wait(self) -> None:
        # REGISTRY_* variables would override the config file; keep them out.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with self.log_path.open("ab") as log:
            log.write(f"=== hoist tests: starting on {self.host} ===\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [self.binary, "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise RuntimeError(
                    f"docker-registry exited with {code} while starting on {self.host}; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                context = self.tls.context() if self.tls else None
                status, _, _ = http_get(f"{self.url}/v2/", timeout=2.0, context=context)
                if status in (200, 401):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"docker-registry not ready on {self.host} after {self.startup_timeout:.0f}s; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.05)


# -- fixtures ----------------------------------------------------------------


def _start_registry(
    workdir: Path, auth: AuthMode, token_server: TokenServer | None = None
) -> RegistryServer:
    binary = registry_binary()
    if binary is None or shutil.which(binary) is None:
        require_tool("docker-registry")
    return RegistryServer(workdir, auth, token_server=token_server, binary=binary).start()


@pytest.fixture(scope="session")
def token_server() -> Iterator[TokenServer]:
    """The token server behind ``registry_token`` (records requests in ``.requests``)."""
    with TokenServer(username=DEFAULT_USERNAME, password=secrets.token_urlsafe(12)) as server:
        yield server


@pytest.fixture(scope="session")
def registry_anon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Anonymous registry (no auth)."""
    reg = _start_registry(tmp_path_factory.mktemp("registry-anon"), "anon")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def registry_anon2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A second anonymous registry (copy tests)."""
    reg = _start_registry(tmp_path_factory.mktemp("registry-anon2"), "anon")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def registry_basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Registry with htpasswd basic auth; credentials in ``username``/``password``/``creds``."""
    reg = _start_registry(tmp_path_factory.mktemp("registry-basic"), "basic")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def registry_token(
    tmp_path_factory: pytest.TempPathFactory, token_server: TokenServer
) -> Iterator[RegistryServer]:
    """Registry with bearer-token auth from ``token_server`` (same credentials)."""
    reg = _start_registry(tmp_path_factory.mktemp("registry-token"), "token", token_server)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def registry_mtls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Registry with htpasswd basic auth over TLS, requiring a client certificate (``.tls``)."""
    workdir = tmp_path_factory.mktemp("registry-mtls")
    binary = registry_binary()
    if binary is None or shutil.which(binary) is None:
        require_tool("docker-registry")
    tls = make_registry_tls(workdir / "pki")
    reg = RegistryServer(workdir, "basic", binary=binary, tls=tls).start()
    yield reg
    reg.stop()


@pytest.fixture
def make_registry(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[..., RegistryServer]]:
    """Factory ``make_registry(auth="anon")`` for private registries, stopped after the test."""
    started: list[RegistryServer] = []

    def make(auth: AuthMode = "anon") -> RegistryServer:
        ts = request.getfixturevalue("token_server") if auth == "token" else None
        reg = _start_registry(tmp_path_factory.mktemp(f"registry-{auth}"), auth, ts)
        started.append(reg)
        return reg

    yield make
    for reg in started:
        reg.stop()


def unique_repo_name(test_name: str) -> str:
    """``test/<test-name>-<random>``: lowercase, valid for the distribution name grammar."""
    name = re.sub(r"^test_?", "", test_name.lower())
    name = re.sub(r"[^a-z0-9]+", "-", name).strip("-")[:40].strip("-") or "repo"
    return f"test/{name}-{secrets.token_hex(3)}"


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A fresh repository name for this test, e.g. ``test/push-basic-1a2b3c``."""
    return unique_repo_name(request.node.name)


class StaticCredentials:
    """A credential provider with one fixed login per host (tests never read ~/.docker)."""

    def __init__(self, logins: dict[str, tuple[str, str]]) -> None:
        self.logins = logins

    def get(self, host: str) -> Any:
        from hoist.config.credentials import Credentials

        login = self.logins.get(host)
        return Credentials(*login) if login else None


def registry_store_options(server: RegistryServer, factory: Any = None) -> dict[str, Any]:
    """RegistryStore keyword options for ``server``: plain HTTP, its login, fast retries."""
    from hoist.config.settings import RegistrySettings

    logins = {}
    if server.username and server.password:
        logins[server.host] = (server.username, server.password)
    return {
        "credentials": StaticCredentials(logins),
        "settings": {server.host: RegistrySettings(tls="disabled")},
        "backoff": 0.01,
        "retry_time": 10.0,
    }


@pytest.fixture
def registry_store(request: pytest.FixtureRequest) -> Iterator[Callable[[RegistryServer], Any]]:
    """Factory ``registry_store(server)``: a RegistryStore for ``server``, closed after the test."""
    from hoist.store.registry import RegistryStore

    stores: list[Any] = []

    def make(server: RegistryServer, **options: Any) -> Any:
        store = RegistryStore(**{**registry_store_options(server), **options})
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@dataclass
class ServeTarget:
    """A running ``hoist serve`` shaped like a RegistryServer for store fixtures."""

    host: str
    url: str
    root: Path
    username: str | None = None
    password: str | None = None
    creds: str | None = None


@pytest.fixture(scope="session")
def hoist_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeTarget]:
    """hoist's own registry (anonymous), in-process on a free loopback port."""
    from hoist.server.run import ServerThread

    root = tmp_path_factory.mktemp("hoist-serve")
    with ServerThread(root) as server:
        yield ServeTarget(server.host, server.url, root)
