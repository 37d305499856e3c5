"""Hoist's per-registry settings file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from hoist.config.settings import (
    HoistConfig,
    RegistrySettings,
    config_path,
    load_config,
    normalize_host,
    save_config,
    set_registry,
    unset_registry,
)
from hoist.errors import InvalidInput


def test_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOIST_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "hoist" / "config.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_path() == tmp_path / "home" / ".config" / "hoist" / "config.json"
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "explicit.json"))
    assert config_path() == tmp_path / "explicit.json"


def test_missing_file_is_empty(tmp_path: Path) -> None:
    config = load_config(tmp_path / "none.json")
    assert config == HoistConfig()
    assert config.registry("anything:5000") == RegistrySettings()


def test_set_unset_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hoist" / "config.json"
    monkeypatch.setenv("HOIST_CONFIG", str(path))
    set_registry("LOCALHOST:5000", RegistrySettings(tls="disabled"))
    set_registry("https://reg.example/v2/", RegistrySettings(ca_file="/ca.pem"))
    assert json.loads(path.read_text()) == {
        "registries": {
            "localhost:5000": {"tls": "disabled"},
            "reg.example": {"tls": "enabled", "ca_file": "/ca.pem"},
        }
    }
    config = load_config()
    assert config.registry("localhost:5000").tls == "disabled"
    assert config.registry("reg.example").ca_file == "/ca.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = unset_registry("localhost:5000")
    assert list(config.registries) == ["reg.example"]
    assert load_config(path) == config


def test_unknown_keys_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"future": {"x": 1}, "registries": {}}))
    save_config(load_config(path).with_registry("r", RegistrySettings(tls="insecure")), path)
    assert json.loads(path.read_text()) == {
        "future": {"x": 1},
        "registries": {"r": {"tls": "insecure"}},
    }


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"registries": []}, "registries must be an object"),
        ({"registries": {"r": "x"}}, "must be an object"),
        ({"registries": {"r": {"tls": "maybe"}}}, "invalid tls mode 'maybe'"),
        ({"registries": {"r": {"ca_file": 3}}}, "ca_file must be a string"),
    ],
)
def test_bad_config(tmp_path: Path, data: object, match: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidInput, match=match):
        load_config(path)


def test_settings_validate() -> None:
    with pytest.raises(InvalidInput):
        RegistrySettings(tls="off")  # type: ignore[arg-type]
    assert hash(RegistrySettings()) == hash(RegistrySettings())


def test_normalize_host() -> None:
    assert normalize_host(" https://Reg.Example:443/v2/ ") == "reg.example:443"
    assert normalize_host("[::1]:5000") == "[::1]:5000"


def test_new_settings_round_trip(tmp_path: Path) -> None:
    from hoist.config.settings import Mirror

    path = tmp_path / "config.json"
    settings = RegistrySettings(
        client_cert="/c.pem",
        client_key="/k.pem",
        mirrors=(Mirror("m1.example"), Mirror("https://M2.example/hub/", 3)),
        req_per_sec=4,
        req_concurrent=2,
        proxy="proxy.corp:3128",
    )
    save_config(HoistConfig().with_registry("reg.example", settings), path)
    data = json.loads(path.read_text())["registries"]["reg.example"]
    assert data["mirrors"] == [
        {"location": "m2.example/hub", "priority": 3},
        {"location": "m1.example", "priority": 0},
    ]
    assert data["proxy"] == "http://proxy.corp:3128"
    assert load_config(path).registry("reg.example") == settings


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"client_key": "/k.pem"}, "client_key needs a client_cert"),
        ({"req_per_sec": 0}, "req_per_sec"),
        ({"req_per_sec": float("inf")}, "finite"),
        ({"req_concurrent": 0}, "req_concurrent"),
        ({"req_concurrent": True}, "req_concurrent"),
        ({"proxy": "socks5://p:1080"}, "not supported"),
        ({"proxy": "http://p:1/path"}, "no path"),
    ],
)
def test_new_settings_validate(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        RegistrySettings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"registries": {"r": {"mirrors": "m"}}}, "mirrors must be a list"),
        ({"registries": {"r": {"mirrors": [{"priority": 1}]}}}, "location"),
        ({"registries": {"r": {"mirrors": [{"location": "m", "priority": "x"}]}}}, "priority"),
        ({"registries": {"r": {"client_cert": 1}}}, "client_cert must be a string"),
        ({"registries": {"r": {"req_concurrent": -1}}}, "req_concurrent"),
    ],
)
def test_bad_new_settings_in_the_file(tmp_path: Path, data: object, match: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidInput, match=match):
        load_config(path)
