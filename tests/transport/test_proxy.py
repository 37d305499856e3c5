"""Proxies: NO_PROXY as curl and Go read it, and a real squid between hoist and registries.

The registries behind the proxy are addressed as ``*.proxied.test`` names that only the proxy
resolves (its own hosts file), so every byte that reaches them went through squid, whose access
log (with the request headers it received) is checked.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from support.proxy import SquidProxy
from support.registry_fixtures import RegistryServer, StaticCredentials

from hoist.config.settings import RegistrySettings
from hoist.errors import InvalidInput, TransportError
from hoist.model.platform import Platform
from hoist.model.reference import Reference
from hoist.store.registry import RegistryStore
from hoist.testing.sample import base_image, write_image
from hoist.transport.proxy import NoProxy, ProxyEnv, proxy_credentials, redact_proxy

SAMPLE = base_image([Platform("linux", "amd64")])

# -- NO_PROXY, as curl and Go read it --------------------------------------------------------------

NO_PROXY_TABLE = [
    # (NO_PROXY, host, port, bypass?)
    ("", "example.com", 443, False),
    ("*", "example.com", 443, True),
    ("*", "10.1.2.3", 5000, True),
    ("example.com", "example.com", 443, True),
    ("example.com", "reg.example.com", 443, True),
    ("example.com", "a.b.example.com", 5000, True),
    ("example.com", "notexample.com", 443, False),
    ("example.com", "example.com.evil", 443, False),
    ("EXAMPLE.com", "Reg.Example.COM", 443, True),
    (".example.com", "reg.example.com", 443, True),
    (".example.com", "example.com", 443, False),  # Go: subdomains only
    ("*.example.com", "reg.example.com", 443, True),
    ("*.example.com", "example.com", 443, False),
    ("example.com:5000", "example.com", 5000, True),
    ("example.com:5000", "example.com", 443, False),
    ("example.com:5000", "reg.example.com", 5000, True),
    ("10.1.2.3", "10.1.2.3", 5000, True),
    ("10.1.2.3", "10.1.2.4", 5000, False),
    ("10.1.2.3:5000", "10.1.2.3", 5000, True),
    ("10.1.2.3:5000", "10.1.2.3", 443, False),
    ("10.0.0.0/8", "10.200.3.4", 443, True),
    ("10.0.0.0/8", "11.0.0.1", 443, False),
    ("10.0.0.0/8", "ten.example", 443, False),  # names are not resolved for CIDR entries
    ("192.168.0.0/16,example.org", "192.168.7.7", 80, True),
    ("fd00::/8", "fd12::1", 443, True),
    ("fd00::/8", "fe80::1", 443, False),
    ("2001:db8::1", "2001:db8::1", 443, True),
    ("[2001:db8::1]:5000", "2001:db8::1", 5000, True),
    ("[2001:db8::1]:5000", "2001:db8::1", 443, False),
    (" a.example , b.example ", "b.example", 443, True),
    ("a.example,,b.example", "c.example", 443, False),
    ("not/a/cidr", "not", 443, False),
]


@pytest.mark.parametrize(("no_proxy", "host", "port", "bypass"), NO_PROXY_TABLE)
def test_no_proxy_table(no_proxy: str, host: str, port: int, bypass: bool) -> None:
    assert NoProxy(no_proxy).matches(host, port) is bypass


def test_environment_is_read_as_go_does() -> None:
    env = {
        "HTTPS_PROXY": "http://upper:3128",
        "https_proxy": "http://lower:3128",
        "http_proxy": "plain.proxy:8080",
        "no_proxy": "skip.example",
    }
    proxies = ProxyEnv(env)
    assert proxies.proxy_for("https://reg.example/v2/") == "http://upper:3128"
    assert proxies.proxy_for("http://reg.example:5000/v2/") == "http://plain.proxy:8080"
    assert proxies.proxy_for("https://skip.example/v2/") is None
    assert proxies.proxy_for("https://x.skip.example/v2/") is None
    # the port of a URL without one is its scheme's
    assert (
        ProxyEnv({"HTTPS_PROXY": "p:1", "NO_PROXY": "r.example:443"}).proxy_for(
            "https://r.example/v2/"
        )
        is None
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost:5000/v2/",
        "https://127.0.0.1:5000/",
        "https://[::1]:5000/",
        "http://127.9.9.9/",
    ],
)
def test_loopback_is_never_proxied(url: str) -> None:
    assert (
        ProxyEnv({"HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://p:1"}).proxy_for(url) is None
    )


def test_empty_values_and_explicit_proxy() -> None:
    assert ProxyEnv({"HTTPS_PROXY": ""}).proxy_for("https://r.example/") is None
    explicit = ProxyEnv({"HTTPS_PROXY": "http://env:1"}, proxy="http://mine:2", no_proxy="")
    assert explicit.proxy_for("https://r.example/") == "http://mine:2"
    assert ProxyEnv({"HTTPS_PROXY": "http://env:1"}, proxy="direct").proxy_for("https://r/") is None


@pytest.mark.parametrize("bad", ["socks5://p:1080", "http://", "http://p:99999", "http://p:1/path"])
def test_bad_proxy_urls(bad: str) -> None:
    with pytest.raises(InvalidInput):
        ProxyEnv({"HTTPS_PROXY": bad})


def test_proxy_credentials_are_percent_decoded() -> None:
    url = "http://us%40er:p%3Ass@proxy:3128"
    assert proxy_credentials(url) == ("us@er", "p:ss")
    assert redact_proxy(url) == "http://proxy:3128"
    assert proxy_credentials("http://proxy:3128") is None


# -- through a real proxy -------------------------------------------------------------------------


def _port(server: RegistryServer) -> int:
    assert server.port is not None
    return server.port


@pytest.fixture
def behind(registry_mtls: RegistryServer) -> Iterator[str]:
    """``registry.proxied.test:PORT``: the mTLS registry by a name only the proxy resolves."""
    yield f"registry.proxied.test:{_port(registry_mtls)}"


def _mtls_settings(server: RegistryServer, **kw: Any) -> RegistrySettings:
    assert server.tls is not None and server.tls.client is not None
    return RegistrySettings(
        ca_file=str(server.tls.ca.path),
        client_cert=str(server.tls.client.cert),
        client_key=str(server.tls.client.key),
        **kw,
    )


def _store(server: RegistryServer, host: str, environ: dict[str, str], **kw: Any) -> RegistryStore:
    assert server.username and server.password
    return RegistryStore(
        credentials=StaticCredentials({host: (server.username, server.password)}),
        settings={host: _mtls_settings(server)},
        environ=environ,
        backoff=0.01,
        retry_time=5.0,
        **kw,
    )


def test_push_and_pull_through_the_proxy(
    squid: SquidProxy, registry_mtls: RegistryServer, behind: str, repo_name: str
) -> None:
    started = len(squid.entries())
    with closing(_store(registry_mtls, behind, {"HTTPS_PROXY": squid.url})) as store:
        ref = Reference(behind, repo_name, "v1")
        pushed = write_image(store, ref, SAMPLE)
        assert store.manifest_head(ref).digest == pushed.digest
        assert store.tag_list(ref) == ["v1"]
    entries = squid.wait_entries(started, lambda es: any(e.url == behind for e in es))
    assert entries and all(e.method == "CONNECT" for e in entries)
    assert {e.url for e in entries} == {behind}
    login = base64.b64encode(f"{squid.user}:{squid.password}".encode()).decode()
    for entry in entries:
        assert entry.header("Proxy-Authorization") == f"Basic {login}"
        assert entry.header("Authorization") is None
    # the registry's credentials never reached the proxy, in any form
    assert registry_mtls.password is not None
    registry_login = f"{registry_mtls.username}:{registry_mtls.password}".encode()
    log = squid.log_text()
    assert registry_mtls.password not in log
    assert base64.b64encode(registry_login).decode() not in log


def test_without_the_proxy_the_name_does_not_resolve(
    registry_mtls: RegistryServer, behind: str, repo_name: str
) -> None:
    with closing(_store(registry_mtls, behind, {})) as store:
        start = time.monotonic()
        with pytest.raises(TransportError, match="cannot resolve host name"):
            store.tag_list(Reference(behind, repo_name))
    assert time.monotonic() - start < 1.0


def test_no_proxy_sends_it_direct(
    squid: SquidProxy, registry_mtls: RegistryServer, behind: str, repo_name: str
) -> None:
    env = {"HTTPS_PROXY": squid.url, "NO_PROXY": ".proxied.test"}
    started = len(squid.entries())
    with (
        closing(_store(registry_mtls, behind, env)) as store,
        pytest.raises(TransportError, match="resolve"),
    ):
        store.tag_list(Reference(behind, repo_name))
    assert squid.entries()[started:] == []


def test_proxy_wants_credentials_fails_fast(
    squid: SquidProxy, registry_mtls: RegistryServer, behind: str, repo_name: str
) -> None:
    with closing(_store(registry_mtls, behind, {"HTTPS_PROXY": squid.bare_url})) as store:
        start = time.monotonic()
        with pytest.raises(TransportError) as info:
            store.tag_list(Reference(behind, repo_name))
    elapsed = time.monotonic() - start
    text = str(info.value)
    assert "407" in text and "http://USER:PASSWORD@HOST:PORT" in text and "\n" not in text
    assert elapsed < 1.0
    wrong = squid.url.replace(squid.password, "wrong")
    with (
        closing(_store(registry_mtls, behind, {"HTTPS_PROXY": wrong})) as store,
        pytest.raises(TransportError, match="refused the user and password") as info,
    ):
        store.tag_list(Reference(behind, repo_name))
    assert "wrong" not in str(info.value)


def test_plain_http_registry_is_forwarded(
    squid: SquidProxy, registry_anon: RegistryServer, repo_name: str
) -> None:
    host = f"anon.proxied.test:{_port(registry_anon)}"
    started = len(squid.entries())
    store = RegistryStore(
        credentials=None,
        settings={host: RegistrySettings(tls="disabled")},
        environ={"HTTP_PROXY": squid.url},
        backoff=0.01,
    )
    with closing(store):
        ref = Reference(host, repo_name, "v1")
        pushed = write_image(store, ref, SAMPLE)
        assert store.manifest_get(ref).digest == pushed.digest
    entries = squid.wait_entries(
        started, lambda es: {"GET", "HEAD", "PUT"} <= {e.method for e in es}
    )
    assert {e.method for e in entries} >= {"GET", "HEAD", "PUT"}
    assert all(e.url.startswith(f"http://{host}/v2/") for e in entries)


def test_registry_proxy_setting_wins(
    squid: SquidProxy, registry_mtls: RegistryServer, behind: str, repo_name: str, tmp_path: Path
) -> None:
    """A registry's own proxy setting, with no proxy in the environment."""
    assert registry_mtls.username and registry_mtls.password
    settings = {behind: _mtls_settings(registry_mtls, proxy=squid.url)}
    started = len(squid.entries())
    store = RegistryStore(
        credentials=StaticCredentials({behind: (registry_mtls.username, registry_mtls.password)}),
        settings=settings,
        environ={"HTTPS_PROXY": "http://127.0.0.1:1"},  # would be refused: the setting wins
        backoff=0.01,
    )
    with closing(store):
        write_image(store, Reference(behind, repo_name, "v1"), SAMPLE)
        assert store.tag_list(Reference(behind, repo_name)) == ["v1"]
    assert any(e.url == behind for e in squid.wait_entries(started, lambda es: bool(es)))
