"""Pytest plugin: a real HTTP proxy (Debian's squid) on loopback, with an access log to check.

The proxy requires Basic proxy credentials (``user``/``password``; :attr:`SquidProxy.url` carries
them, :attr:`SquidProxy.bare_url` does not) and resolves names from its own hosts file:
``*.proxied.test`` names map to 127.0.0.1 there and nowhere else, so a registry addressed as
``registry.proxied.test:PORT`` is reachable only through the proxy. Each request is logged with
its method, URL, status and every request header the proxy received (:meth:`entries`).

A missing squid skips the tests that need it, unless ``HOIST_TEST_REQUIRE_TOOLS=1``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.registry_fixtures import free_port, require_tool

PROXIED_NAMES = ("registry.proxied.test", "anon.proxied.test")
"""Names only the proxy resolves (to 127.0.0.1)."""
STARTUP_TIMEOUT = 30.0


def squid_binary() -> str | None:
    return shutil.which("squid") or next(
        (p for p in ("/usr/sbin/squid",) if os.access(p, os.X_OK)), None
    )


def _apr1(password: str) -> str:
    """An htpasswd line's hash that squid's basic_ncsa_auth accepts (``openssl passwd``)."""
    out = subprocess.run(
        ["openssl", "passwd", "-apr1", password], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@dataclass(frozen=True)
class LogEntry:
    """One request the proxy answered."""

    method: str
    url: str
    status: int
    headers: str
    """The request headers as squid logged them (``Name: value\\r\\n...``, escaped)."""

    def header(self, name: str) -> str | None:
        for line in self.headers.split("\\r\\n"):
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() == name.lower():
                return value.strip()
        return None


class SquidProxy:
    """``squid -N`` on 127.0.0.1:PORT with proxy auth and a hosts file of its own."""

    def __init__(self) -> None:
        binary = squid_binary()
        if binary is None:
            require_tool("squid")
        assert binary is not None
        self.binary = binary
        self.user = "proxyuser"
        self.password = secrets.token_urlsafe(10)
        # squid, started as root, works as user "proxy": its directory must be open to it.
        self.dir = Path(tempfile.mkdtemp(prefix="hoist-squid-"))
        self.dir.chmod(0o777)
        self.port = free_port()
        self.access_log = self.dir / "access.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://USER:PASSWORD@127.0.0.1:PORT``."""
        return f"http://{self.user}:{self.password}@{self.address}"

    @property
    def bare_url(self) -> str:
        """The proxy URL without credentials (squid answers 407)."""
        return f"http://{self.address}"

    def _write_config(self) -> Path:
        (self.dir / "hosts").write_text("".join(f"127.0.0.1 {n}\n" for n in PROXIED_NAMES))
        (self.dir / "passwd").write_text(f"{self.user}:{_apr1(self.password)}\n")
        for name in ("hosts", "passwd"):
            (self.dir / name).chmod(0o644)
        conf = self.dir / "squid.conf"
        conf.write_text(
            "\n".join(
                [
                    f"http_port 127.0.0.1:{self.port}",
                    f"pid_filename {self.dir}/squid.pid",
                    "cache deny all",
                    "cache_mem 8 MB",
                    f"coredump_dir {self.dir}",
                    f"cache_log {self.dir}/cache.log",
                    "logformat hoist %ts.%03tu %rm %ru %>Hs [%>h]",
                    f"access_log stdio:{self.access_log} hoist",
                    "buffered_logs off",
                    f"hosts_file {self.dir}/hosts",
                    "dns_nameservers 127.0.0.1",
                    "pinger_enable off",
                    "shutdown_lifetime 0 seconds",
                    "forwarded_for delete",
                    "via off",
                    f"auth_param basic program /usr/lib/squid/basic_ncsa_auth {self.dir}/passwd",
                    "auth_param basic realm hoist-test-proxy",
                    "acl authed proxy_auth REQUIRED",
                    "http_access allow authed",
                    "http_access deny all",
                    "",
                ]
            )
        )
        conf.chmod(0o644)
        return conf

    def start(self) -> SquidProxy:
        conf = self._write_config()
        self.proc = subprocess.Popen(
            [self.binary, "-N", "-f", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "stderr.txt").open("wb"),
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        import socket

        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"squid exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"squid not ready on {self.address}:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self) -> str:
        parts = []
        for name in ("stderr.txt", "cache.log"):
            path = self.dir / name
            if path.exists():
                parts.append("\n".join(path.read_text(errors="replace").splitlines()[-20:]))
        return "\n".join(parts)

    def entries(self) -> list[LogEntry]:
        """Every request logged so far (squid writes its log unbuffered)."""
        try:
            text = self.access_log.read_text(errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            head, _, headers = line.partition(" [")
            fields = head.split()
            if len(fields) < 4:
                continue
            if fields[1] == "-" and fields[2].startswith("error:"):
                continue  # a connection that closed before sending a request (none was made)
            status = int(fields[3]) if fields[3].isdigit() else 0
            out.append(LogEntry(fields[1], fields[2], status, headers.rstrip("]")))
        return out

    def wait_entries(
        self, start: int, done: Callable[[list[LogEntry]], bool], timeout: float = 5.0
    ) -> list[LogEntry]:
        """The entries after the first ``start``, once ``done`` holds for them (squid logs a
        CONNECT when its tunnel closes, a moment after the client hung up)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.entries()[start:]
            if done(entries) or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)

    def log_text(self) -> str:
        try:
            return self.access_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def squid() -> Iterator[SquidProxy]:
    """A running squid (see the module docstring)."""
    proxy = SquidProxy().start()
    yield proxy
    proxy.stop()
