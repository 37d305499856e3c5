"""certs.d directories: CA files and client certificate pairs per registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from hoist.config.certs import DEFAULT_CERTS_DIRS, HostCerts, certs_dirs, host_certs
from hoist.errors import InvalidInput


def test_certs_d_pairs_must_be_complete(tmp_path: Path) -> None:
    directory = tmp_path / "reg.example:5000"
    directory.mkdir()
    (directory / "me.cert").write_text("x")
    with pytest.raises(InvalidInput, match=r"me\.cert: no matching me\.key"):
        host_certs("reg.example:5000", [tmp_path])
    assert host_certs("other:1", [tmp_path]) == HostCerts()
    assert not host_certs("other:1", [tmp_path])


def test_roots_and_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOIST_CERTS_DIRS", raising=False)
    assert len(certs_dirs()) == len(DEFAULT_CERTS_DIRS)
    monkeypatch.setenv("HOIST_CERTS_DIRS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert certs_dirs() == (tmp_path / "a", tmp_path / "b")
    for root, stem in (("a", "first"), ("b", "second")):
        d = tmp_path / root / "reg.example"
        d.mkdir(parents=True)
        (d / f"{stem}.cert").write_text("c")
        (d / f"{stem}.key").write_text("k")
        (d / f"{stem}.crt").write_text("ca")
    found = host_certs("reg.example")
    assert found.client_cert == str(tmp_path / "a" / "reg.example" / "first.cert")
    assert found.ca_files == (
        str(tmp_path / "a" / "reg.example" / "first.crt"),
        str(tmp_path / "b" / "reg.example" / "second.crt"),
    )
