"""TLS against docker-registry serving TLS and requiring client certificates (mTLS)."""

from __future__ import annotations

import logging
import shutil
import ssl
import time
import warnings
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from support.certs import TestCA
from support.registry_fixtures import RegistryServer, StaticCredentials

from hoist.config.certs import host_certs
from hoist.config.settings import RegistrySettings
from hoist.errors import InvalidInput, NotFound, TransportError
from hoist.model.reference import Reference
from hoist.store.registry import RegistryStore
from hoist.transport.tls import TLSFiles, tls_context


def _store(server: RegistryServer, settings: RegistrySettings, **kw: Any) -> RegistryStore:
    assert server.username and server.password
    return RegistryStore(
        credentials=StaticCredentials({server.host: (server.username, server.password)}),
        settings={server.host: settings},
        environ={},
        backoff=0.01,
        retry_time=5.0,
        **kw,
    )


def _reachable(store: RegistryStore, ref: Reference) -> None:
    """The registry answered (TLS and login held): the repository is not there."""
    with pytest.raises(NotFound, match="NAME_UNKNOWN"):
        store.tag_list(ref)


def _tls(server: RegistryServer) -> Any:
    assert server.tls is not None and server.tls.client is not None
    return server.tls


def test_client_certificate_from_settings(registry_mtls: RegistryServer, repo_name: str) -> None:
    tls = _tls(registry_mtls)
    settings = RegistrySettings(
        ca_file=str(tls.ca.path), client_cert=str(tls.client.cert), client_key=str(tls.client.key)
    )
    with closing(_store(registry_mtls, settings)) as store:
        _reachable(store, Reference(registry_mtls.host, repo_name))
        assert store.transport.scheme(registry_mtls.host) == "https"


def test_no_client_certificate_fails_fast(registry_mtls: RegistryServer, repo_name: str) -> None:
    settings = RegistrySettings(ca_file=str(_tls(registry_mtls).ca.path))
    with closing(_store(registry_mtls, settings, retries=4)) as store:
        start = time.monotonic()
        with pytest.raises(TransportError) as info:
            store.tag_list(Reference(registry_mtls.host, repo_name))
        elapsed = time.monotonic() - start
    text = str(info.value)
    assert "client certificate" in text and "--client-cert" in text and "\n" not in text
    assert elapsed < 1.0


def test_untrusted_server_fails_fast_naming_the_fix(
    registry_mtls: RegistryServer, repo_name: str
) -> None:
    with closing(_store(registry_mtls, RegistrySettings(), retries=4)) as store:
        start = time.monotonic()
        with pytest.raises(TransportError) as info:
            store.tag_list(Reference(registry_mtls.host, repo_name))
        elapsed = time.monotonic() - start
    text = str(info.value)
    assert "certificate" in text and "--tls insecure" in text and "--ca FILE" in text
    assert elapsed < 1.0


def test_certs_d_directory(registry_mtls: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    """Docker's layout: certs.d/HOST:PORT/ca.crt, client.cert, client.key."""
    tls = _tls(registry_mtls)
    directory = tmp_path / "certs.d" / registry_mtls.host
    directory.mkdir(parents=True)
    shutil.copy(tls.ca.path, directory / "ca.crt")
    shutil.copy(tls.client.cert, directory / "client.cert")
    shutil.copy(tls.client.key, directory / "client.key")
    roots = [tmp_path / "missing", tmp_path / "certs.d"]
    found = host_certs(registry_mtls.host, roots)
    assert found.ca_files == (str(directory / "ca.crt"),)
    assert found.client_cert == str(directory / "client.cert")
    with closing(_store(registry_mtls, RegistrySettings(), certs_dirs=roots)) as store:
        _reachable(store, Reference(registry_mtls.host, repo_name))


def test_insecure_still_sends_the_client_certificate_and_warns_nothing(
    registry_mtls: RegistryServer, repo_name: str
) -> None:
    tls = _tls(registry_mtls)
    settings = RegistrySettings(client_cert=str(tls.client.cert), client_key=str(tls.client.key))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with closing(_store(registry_mtls, settings, tls="insecure")) as store:
            _reachable(store, Reference(registry_mtls.host, repo_name))
    assert [str(w.message) for w in caught] == []


def _count_system_ca_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    loads: list[int] = []
    real = ssl.SSLContext.load_default_certs

    def counted(self: ssl.SSLContext, purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH) -> None:
        loads.append(1)
        real(self, purpose)

    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", counted)
    return loads


def test_plain_http_loopback_registry_loads_no_system_cas(
    registry_anon: RegistryServer, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding out that a loopback registry speaks plain HTTP costs no CA bundle (45 ms)."""
    loads = _count_system_ca_loads(monkeypatch)
    store = RegistryStore(environ={}, settings={}, credentials=StaticCredentials({}))
    with closing(store):
        with pytest.raises(NotFound):
            store.tag_list(Reference(registry_anon.host, repo_name))
        assert store.transport.scheme(registry_anon.host) == "http"
    assert loads == []


def test_loopback_tls_registry_is_probed_then_verified(
    registry_mtls: RegistryServer,
    repo_name: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The probe meets TLS and the request goes again with the system's CAs (here the test
    CA, through SSL_CERT_FILE) and the client certificate: one CA load, verified."""
    tls = _tls(registry_mtls)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca.path))
    loads = _count_system_ca_loads(monkeypatch)
    settings = RegistrySettings(client_cert=str(tls.client.cert), client_key=str(tls.client.key))
    caplog.set_level(logging.DEBUG, logger="hoist.transport.http")
    with closing(_store(registry_mtls, settings)) as store:
        _reachable(store, Reference(registry_mtls.host, repo_name))
        _reachable(store, Reference(registry_mtls.host, repo_name + "-again"))
        assert store.transport.scheme(registry_mtls.host) == "https"
    assert loads == [1]
    assert "speaks TLS" in caplog.text


def test_bad_files_are_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(InvalidInput, match=r"junk\.pem"):
        tls_context(TLSFiles(True, str(junk), (), None, None))
    with pytest.raises(InvalidInput, match="no such file"):
        tls_context(TLSFiles(True, None, (), str(tmp_path / "none.crt"), None))
    ca = TestCA(tmp_path / "ca")
    leaf = ca.issue("c", ["client"], client=True)
    with pytest.raises(InvalidInput, match="cannot load"):
        tls_context(TLSFiles(True, None, (), str(leaf.cert), str(ca.path)))  # wrong key
    ctx = tls_context(TLSFiles(False, None, (str(ca.path),), str(leaf.cert), str(leaf.key)))
    assert not ctx.check_hostname


def test_mtls_through_the_cli(
    registry_mtls: RegistryServer,
    repo_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: Any,
) -> None:
    """registry set --client-cert/--client-key, then unset: the one-line failure comes back."""
    from support.cli import run

    tls = _tls(registry_mtls)
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("HOIST_CERTS_DIRS", str(tmp_path / "no-certs.d"))
    host, creds = registry_mtls.host, registry_mtls.creds
    assert creds is not None
    args = ["registry", "set", host, "--ca", str(tls.ca.path)]
    assert (
        run(
            capsysbinary,
            *args,
            "--client-cert",
            str(tls.client.cert),
            "--client-key",
            str(tls.client.key),
        )[0]
        == 0
    )
    code, _, err = run(capsysbinary, "repo", "ls", host, "--creds", creds)
    assert code == 0, err
    assert run(capsysbinary, "registry", "unset", host, "--client-cert")[0] == 0
    code, _, err = run(capsysbinary, "repo", "ls", host, "--creds", creds)
    assert code == 1 and "client certificate" in err and len(err.strip().splitlines()) == 1
