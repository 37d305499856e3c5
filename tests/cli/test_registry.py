"""The CLI against real registries (anonymous, htpasswd, bearer token), checked with skopeo."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.registry_fixtures import RegistryServer
from support.skopeo import skopeo, skopeo_raw

from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference, Reference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import app_image, base_image, write_image

AUTHS = ["registry_anon", "registry_basic", "registry_token"]


DOCKER_LIST = base_image(
    [Platform("linux", "amd64"), Platform("linux", "arm64", "v8")], docker=True
)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI index and a single OCI image (skopeo reads no Docker lists from layouts)."""
    root = tmp_path_factory.mktemp("cli-registry") / "layout"
    ref = LayoutReference("ocidir", str(root))
    store = OCIDirStore()
    platforms = [Platform("linux", "amd64"), Platform("linux", "arm64", "v8")]
    oci = base_image(platforms)
    write_image(store, ref.with_tag("index"), oci)
    write_image(store, ref.with_tag("single"), app_image(oci, platforms[0]))
    return root


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private Docker and hoist config files for the CLI under test."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "hoist.json"))
    return tmp_path


def _login(cap: Any, server: RegistryServer) -> None:
    assert run(cap, "registry", "set", server.host, "--tls", "disabled")[0] == 0
    if server.username and server.password:
        code, _, err = run(
            cap, "registry", "login", server.host, "-u", server.username, "-p", server.password
        )
        assert code == 0, err


@pytest.fixture(params=AUTHS)
def pushed(
    request: pytest.FixtureRequest, layout: Path, env: Path, capsysbinary: Any, repo_name: str
) -> tuple[RegistryServer, str]:
    server: RegistryServer = request.getfixturevalue(request.param)
    registry_store = request.getfixturevalue("registry_store")(server)
    write_image(registry_store, Reference(server.host, repo_name, "list"), DOCKER_LIST)
    for tag in ("index", "single"):
        skopeo(
            "copy",
            "--all",
            "--preserve-digests",
            f"oci:{layout}:{tag}",
            f"docker://{server.host}/{repo_name}:{tag}",
            creds=server.creds,
        )
    _login(capsysbinary, server)
    return server, f"{server.host}/{repo_name}"


@pytest.mark.parametrize("tag", ["index", "list", "single"])
def test_manifest_digest_inspect_agree_with_skopeo(
    pushed: tuple[RegistryServer, str], capsysbinary: Any, tag: str
) -> None:
    server, repo = pushed
    ref = f"{repo}:{tag}"
    code, raw, err = run(capsysbinary, "manifest", "get", ref, "--format", "raw")
    assert code == 0, err
    assert raw == skopeo_raw(f"docker://{ref}", creds=server.creds)
    code, out, _ = run(capsysbinary, "image", "digest", ref)
    theirs = json.loads(skopeo("inspect", f"docker://{ref}", creds=server.creds).stdout)
    assert out.decode().strip() == "sha256:" + hashlib.sha256(raw).hexdigest()
    code, out, err = run(
        capsysbinary, "image", "inspect", ref, "-p", "linux/amd64", "--format", "json"
    )
    assert code == 0, err
    mine = json.loads(out)
    config = json.loads(
        skopeo(
            "inspect", "--config", "--override-arch", "amd64", f"docker://{ref}", creds=server.creds
        ).stdout
    )
    assert mine["Config"] == config["config"]
    assert mine["RootFS"]["Layers"] == config["rootfs"]["diff_ids"]
    assert mine["History"] == config["history"]
    assert mine["Layers"] == theirs["Layers"]


def test_tags_list_filter_and_delete_alone(
    pushed: tuple[RegistryServer, str], capsysbinary: Any, tmp_path: Path
) -> None:
    _, repo = pushed
    code, out, _ = run(capsysbinary, "tag", "ls", repo)
    assert out.decode().split() == ["index", "list", "single"]
    code, out, _ = run(capsysbinary, "tag", "ls", repo, "--limit", "1", "--last", "index")
    assert out.decode().split() == ["list"]
    code, out, _ = run(capsysbinary, "tag", "ls", repo, "--include", "^s", "--format", "json")
    assert json.loads(out) == ["single"]
    # a second tag on the same image survives deleting the first
    code, raw, _ = run(capsysbinary, "manifest", "get", f"{repo}:index", "--format", "raw")
    (tmp_path / "index.json").write_bytes(raw)
    code, out, err = run(
        capsysbinary, "manifest", "put", f"{repo}:copy", str(tmp_path / "index.json")
    )
    assert code == 0, err
    assert out.decode().strip() == "sha256:" + hashlib.sha256(raw).hexdigest()
    code, _, err = run(capsysbinary, "tag", "delete", f"{repo}:index")
    assert code == 0, err
    code, out, _ = run(capsysbinary, "tag", "ls", repo)
    assert out.decode().split() == ["copy", "list", "single"]
    assert run(capsysbinary, "manifest", "get", f"{repo}:copy", "--format", "raw")[1] == raw


def test_missing_manifest_error_line(pushed: tuple[RegistryServer, str], capsysbinary: Any) -> None:
    """One line, and whether the repository exists (one more request: its tag list)."""
    server, repo = pushed
    code, _, err = run(capsysbinary, "manifest", "get", f"{repo}:absent")
    assert code == 1
    assert err.strip() == (
        f"error: MANIFEST_UNKNOWN: manifest unknown ({repo}:absent) "
        "(the repository exists, without this tag; 3 tags: index, list, single)"
    )
    code, _, err = run(capsysbinary, "image", "inspect", f"{repo}:singel")
    assert code == 1 and err.strip().endswith("without this tag; nearest tags: single)")
    code, _, err = run(capsysbinary, "manifest", "get", f"{server.host}/no/such-repo:v1")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.strip().endswith(f"(no repository no/such-repo on {server.host})")


def test_blob_put_get_delete(
    pushed: tuple[RegistryServer, str], capsysbinary: Any, tmp_path: Path
) -> None:
    _, repo = pushed
    data = b"hello blob\n" * 1000
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    code, out, err = run(capsysbinary, "blob", "put", repo, str(src))
    assert code == 0, err
    digest = out.decode().strip()
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert run(capsysbinary, "blob", "get", repo, digest)[1] == data
    assert run(capsysbinary, "blob", "delete", repo, digest)[0] == 0
    code, _, err = run(capsysbinary, "blob", "head", repo, digest)
    assert code == 1 and "BLOB_UNKNOWN" in err


def test_repo_ls_and_ratelimit(pushed: tuple[RegistryServer, str], capsysbinary: Any) -> None:
    server, repo = pushed
    code, out, err = run(capsysbinary, "repo", "ls", server.host, "--format", "json")
    assert code == 0, err
    assert repo.split("/", 1)[1] in json.loads(out)
    code, out, _ = run(capsysbinary, "image", "ratelimit", f"{repo}:single")
    assert code == 0 and "no rate limit reported" in out.decode()


@pytest.mark.parametrize("auth", ["registry_basic", "registry_token"])
def test_login_wrong_password_and_logout(
    request: pytest.FixtureRequest, env: Path, capsysbinary: Any, auth: str
) -> None:
    server: RegistryServer = request.getfixturevalue(auth)
    run(capsysbinary, "registry", "set", server.host, "--tls", "disabled")
    code, _, err = run(capsysbinary, "registry", "login", server.host, "-u", "hoist", "-p", "wrong")
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (env / "docker" / "config.json").exists()
    _login(capsysbinary, server)
    stored = json.loads((env / "docker" / "config.json").read_text())
    assert server.host in stored["auths"]
    assert run(capsysbinary, "registry", "logout", server.host)[0] == 0
    stored = json.loads((env / "docker" / "config.json").read_text())
    assert server.host not in stored.get("auths", {})


def test_registry_config_shows_settings(env: Path, capsysbinary: Any) -> None:
    assert run(capsysbinary, "registry", "set", "reg.example:5000", "--tls", "insecure")[0] == 0
    _, out, _ = run(capsysbinary, "registry", "config", "--format", "json")
    assert json.loads(out) == {"reg.example:5000": {"tls": "insecure"}}
