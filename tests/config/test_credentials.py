"""Docker config.json credentials and docker-credential-* helpers, in temporary directories."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from hoist.config.credentials import (
    HUB_SERVER_URL,
    Credentials,
    CredentialStore,
    docker_config_path,
    registry_key,
    server_url,
)
from hoist.errors import AuthError, InvalidInput


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(directory: Path, data: dict[str, Any]) -> CredentialStore:
    path = directory / "config.json"
    path.write_text(json.dumps(data))
    return CredentialStore(path)


HELPER = """#!{python}
import json, os, sys
store = os.environ["FAKE_HELPER_STORE"]
data = json.load(open(store)) if os.path.exists(store) else {{}}
action, text = sys.argv[1], sys.stdin.read()
with open(store + ".log", "a") as log:
    log.write(json.dumps([action, text]) + "\\n")
if action in ("get", "erase"):
    url = text.strip()
    if url == "broken":
        print("something went wrong"); sys.exit(1)
    if url not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    if action == "get":
        print(json.dumps({{"ServerURL": url, "Username": data[url][0], "Secret": data[url][1]}}))
    else:
        del data[url]
elif action == "store":
    req = json.loads(text)
    data[req["ServerURL"]] = [req["Username"], req["Secret"]]
else:
    sys.exit(2)
json.dump(data, open(store, "w"))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install ``docker-credential-test`` on PATH; returns its store (a JSON file)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "docker-credential-test"
    script.write_text(HELPER.format(python=sys.executable))
    script.chmod(0o755)
    store = tmp_path / "helper-store.json"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_HELPER_STORE", str(store))
    return store


def helper_log(store: Path) -> list[list[str]]:
    path = Path(str(store) + ".log")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- keys and paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("reg.example:5000", "reg.example:5000"),
        ("https://reg.example:5000/v2/", "reg.example:5000"),
        ("http://Reg.Example:5000", "reg.example:5000"),
        ("reg.example/v1/", "reg.example"),
        ("docker.io", "index.docker.io"),
        ("registry-1.docker.io", "index.docker.io"),
        (HUB_SERVER_URL, "index.docker.io"),
    ],
)
def test_registry_key(text: str, key: str) -> None:
    assert registry_key(text) == key


def test_server_url() -> None:
    assert server_url("registry-1.docker.io") == HUB_SERVER_URL
    assert server_url("localhost:5000") == "localhost:5000"


def test_docker_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_config_path() == tmp_path / "config.json"
    assert CredentialStore().path == tmp_path / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert docker_config_path() == tmp_path / "home" / ".docker" / "config.json"


# -- reading -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "entry", "expected"),
    [
        (
            "localhost:5000",
            {"auth": b64("alice:pw:with:colons")},
            Credentials("alice", "pw:with:colons"),
        ),
        ("https://localhost:5000/v2/", {"auth": b64("bob:x")}, Credentials("bob", "x")),
        (
            "http://localhost:5000",
            {"username": "carol", "password": "y"},
            Credentials("carol", "y"),
        ),
        (
            "localhost:5000",
            {"auth": b64("u:"), "identitytoken": "idt"},
            Credentials("u", "", "idt"),
        ),
        ("localhost:5000", {}, None),
        ("other:5000", {"auth": b64("x:y")}, None),
    ],
)
def test_get_from_auths(tmp_path: Path, key: str, entry: dict[str, Any], expected: Any) -> None:
    store = write_config(tmp_path, {"auths": {key: entry}})
    assert store.get("localhost:5000") == expected


def test_get_docker_hub(tmp_path: Path) -> None:
    store = write_config(tmp_path, {"auths": {HUB_SERVER_URL: {"auth": b64("hub:pw")}}})
    for host in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        assert store.get(host) == Credentials("hub", "pw")


def test_exact_key_wins(tmp_path: Path) -> None:
    store = write_config(
        tmp_path,
        {
            "auths": {
                "https://reg:1/v2/": {"auth": b64("loose:1")},
                "reg:1": {"auth": b64("exact:2")},
            }
        },
    )
    assert store.get("reg:1") == Credentials("exact", "2")


def test_missing_or_empty_file(tmp_path: Path) -> None:
    assert CredentialStore(tmp_path / "none.json").get("reg") is None
    (tmp_path / "empty.json").write_text("")
    assert CredentialStore(tmp_path / "empty.json").get("reg") is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"auths": {"reg": {"auth": "!!!"}}}', "not base64"),
        (json.dumps({"auths": {"reg": {"auth": b64("nocolon")}}}), "not base64"),
        ('{"auths": []}', "auths must be an object"),
    ],
)
def test_bad_config(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(InvalidInput, match=match):
        CredentialStore(path).get("reg")


def test_repr_hides_secrets() -> None:
    text = repr(Credentials("alice", "hunter2", "tok"))
    assert "alice" in text and "hunter2" not in text and "tok" not in text


# -- writing -------------------------------------------------------------------------------------


def test_store_keeps_unknown_fields(tmp_path: Path) -> None:
    data = {
        "auths": {
            "http://reg:1": {"auth": b64("old:old"), "email": "a@b"},
            "x": {"auth": b64("x:x")},
        },
        "psFormat": "table",
        "proxies": {"default": {"httpProxy": "p"}},
    }
    store = write_config(tmp_path, data)
    store.store("reg:1", Credentials("new", "pw"))
    saved = json.loads(store.path.read_text())
    assert saved["psFormat"] == "table" and saved["proxies"] == data["proxies"]
    assert saved["auths"]["x"] == {"auth": b64("x:x")}
    assert saved["auths"]["http://reg:1"] == {"auth": b64("new:pw"), "email": "a@b"}
    assert store.get("reg:1") == Credentials("new", "pw")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp file left


def test_store_new_file_and_erase(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "sub" / "config.json")
    store.store("docker.io", Credentials("hub", "pw", "idt"))
    saved = json.loads(store.path.read_text())
    assert saved == {"auths": {HUB_SERVER_URL: {"auth": b64("hub:pw"), "identitytoken": "idt"}}}
    store.store("reg:5000", Credentials("u", "p"))
    store.erase("registry-1.docker.io")
    assert list(json.loads(store.path.read_text())["auths"]) == ["reg:5000"]
    store.erase("nothing-here")
    assert store.get("reg:5000") == Credentials("u", "p")


# -- helpers -------------------------------------------------------------------------------------


def test_creds_store_helper(tmp_path: Path, helper: Path) -> None:
    store = write_config(tmp_path, {"credsStore": "test", "auths": {"reg:1": {}}})
    assert store.get("reg:1") is None  # "credentials not found"
    store.store("reg:1", Credentials("alice", "pw"))
    assert json.loads(helper.read_text()) == {"reg:1": ["alice", "pw"]}
    assert store.get("reg:1") == Credentials("alice", "pw")
    assert json.loads(store.path.read_text()) == {"credsStore": "test", "auths": {"reg:1": {}}}
    store.erase("reg:1")
    assert json.loads(helper.read_text()) == {}
    assert [a for a, _ in helper_log(helper)] == ["get", "store", "get", "erase"]


def test_helper_identity_token(tmp_path: Path, helper: Path) -> None:
    store = write_config(tmp_path, {"credsStore": "test"})
    store.store("docker.io", Credentials(identity_token="refresh"))
    assert json.loads(helper.read_text()) == {HUB_SERVER_URL: ["<token>", "refresh"]}
    assert store.get("registry-1.docker.io") == Credentials(identity_token="refresh")


def test_cred_helpers_per_registry(tmp_path: Path, helper: Path) -> None:
    helper.write_text(json.dumps({"reg:1": ["h", "1"]}))
    store = write_config(
        tmp_path,
        {
            "credsStore": "missing-one",
            "credHelpers": {"https://reg:1": "test"},
            "auths": {"reg:1": {"auth": b64("file:2")}, "reg:2": {"auth": b64("file:3")}},
        },
    )
    assert store.helper_for("reg:1") == "test"
    assert store.helper_for("reg:2") == "missing-one"
    assert store.get("reg:1") == Credentials("h", "1")


def test_missing_helper(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = write_config(
        tmp_path, {"credsStore": "absent-xyz", "auths": {"reg:2": {"auth": b64("file:3")}}}
    )
    with caplog.at_level(logging.WARNING):
        assert store.get("reg:2") == Credentials("file", "3")  # falls back to the file
    assert "docker-credential-absent-xyz" in caplog.text
    with pytest.raises(AuthError, match="not installed"):
        store.store("reg:2", Credentials("a", "b"))


def test_helper_failure(tmp_path: Path, helper: Path) -> None:
    store = write_config(tmp_path, {"credsStore": "test"})
    with pytest.raises(AuthError, match="something went wrong"):
        store.erase("broken")


def test_auth_json_chain_and_explicit_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hoist.config.credentials import (
        CommandCredentials,
        CredentialChain,
        Credentials,
        CredentialStore,
        default_credentials,
        login_store,
    )

    def auth_file(path: Path, host: str, user: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        encoded = base64.b64encode(f"{user}:pw".encode()).decode()
        path.write_text(json.dumps({"auths": {host: {"auth": encoded}}}))
        return path

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    auth_file(tmp_path / "docker" / "config.json", "a.example", "docker")
    assert isinstance(default_credentials(), CredentialStore)  # no auth.json: Docker's alone
    auth_file(tmp_path / "run" / "containers" / "auth.json", "a.example", "podman")
    auth_file(tmp_path / "xdg" / "containers" / "auth.json", "b.example", "xdg")
    chain = default_credentials()
    assert isinstance(chain, CredentialChain)
    assert chain.get("a.example") == Credentials("podman", "pw")  # runtime file first
    assert chain.get("b.example") == Credentials("xdg", "pw")
    assert chain.get("c.example") is None
    explicit = auth_file(tmp_path / "mine.json", "c.example", "mine")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(explicit))
    alone = default_credentials()
    assert alone.get("c.example") == Credentials("mine", "pw") and alone.get("a.example") is None
    assert login_store().path == explicit
    assert login_store(tmp_path / "other.json").path == tmp_path / "other.json"
    given = CommandCredentials(
        chain, hosts={"docker.io": Credentials("hub", "x")}, everywhere=None, anonymous=True
    )
    assert given.get("registry-1.docker.io") == Credentials("hub", "x")  # Hub's aliases are one
    assert given.get("a.example") is None  # anonymous: no saved logins
    everywhere = CommandCredentials(chain, everywhere=Credentials(registry_token="t"))
    assert everywhere.get("b.example") == Credentials(registry_token="t")
    assert Credentials(registry_token="t").describe() == "with a registry token"
    assert "secret" not in repr(Credentials("u", "secret", registry_token="secret"))
    assert not Credentials()
