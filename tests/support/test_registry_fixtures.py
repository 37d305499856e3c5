"""Smoke tests: the registry fixtures, token server and skopeo helper are real and work."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from support.registry_fixtures import RegistryServer, http_get, unique_repo_name
from support.skopeo import SkopeoError, skopeo, skopeo_command, skopeo_raw
from support.token_server import TokenServer, b64url_decode, decode_jwt, libtrust_key_id

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# Repository path components from the distribution reference grammar.
REPO_RE = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- helpers -----------------------------------------------------------------


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_oci_layout(path: Path, content: bytes, tag: str = "latest") -> bytes:
    """Write a one-layer OCI image layout at ``path``; returns the manifest bytes."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = _sha(data)
        (blobs / digest.removeprefix("sha256:")).write_bytes(data)
        return digest

    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode, info.mtime = len(content), 0o644, 0
        tar.addfile(info, io.BytesIO(content))
    layer_tar = tar_buf.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [_sha(layer_tar)]},
        },
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": put(layer),
                    "size": len(layer),
                }
            ],
        },
        separators=(",", ":"),
    ).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": put(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (path / "index.json").write_text(json.dumps(index))
    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return manifest


def push_image(
    tmp_path: Path, reg: RegistryServer, repo: str, tag: str = "v1", creds: str | None = None
) -> bytes:
    """Build a unique tiny image and push it with skopeo; returns the manifest bytes."""
    layout = tmp_path / f"layout-{tag}"
    manifest = write_oci_layout(layout, f"hello from {repo}:{tag}\n".encode())
    skopeo(
        "copy",
        "--preserve-digests",
        f"oci:{layout}:latest",
        f"docker://{reg.host}/{repo}:{tag}",
        creds=creds,
    )
    return manifest


def request(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, data: bytes | None = None
) -> tuple[int, Message, bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with _opener.open(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def get_token(ts: TokenServer, *scopes: str, auth: tuple[str, str] | None = None) -> Any:
    query = urllib.parse.urlencode([("service", ts.service)] + [("scope", s) for s in scopes])
    status, _, body = request(f"{ts.realm}?{query}", headers=basic(*auth) if auth else None)
    assert status == 200, body
    return json.loads(body)


def post_token(ts: TokenServer, **form: str) -> tuple[int, Any]:
    status, _, body = request(
        ts.realm,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=urllib.parse.urlencode(form).encode(),
    )
    return status, json.loads(body)


# -- token server (no registry needed) ----------------------------------------


def test_token_is_es256_signed_with_libtrust_kid(token_server: TokenServer) -> None:
    answer = get_token(token_server, "repository:a/b:pull")
    assert answer["token"] == answer["access_token"]
    assert answer["expires_in"] == 300 and answer["issued_at"].endswith("Z")
    header, claims = decode_jwt(answer["token"])
    assert header == {"typ": "JWT", "alg": "ES256", "kid": token_server.kid}
    assert re.fullmatch(r"[A-Z2-7]{4}(:[A-Z2-7]{4}){11}", token_server.kid)
    assert token_server.kid == libtrust_key_id(token_server.key.public_key())
    assert claims["iss"] == "hoist-test-issuer" and claims["aud"] == "hoist-test"
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    assert claims["access"] == [{"type": "repository", "name": "a/b", "actions": ["pull"]}]
    signing_input, _, sig = answer["token"].rpartition(".")
    raw = b64url_decode(sig)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    try:
        token_server.key.public_key().verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:  # pragma: no cover - the assertion message is the point
        pytest.fail("token signature does not verify")


def test_token_access_policy(token_server: TokenServer) -> None:
    user = (token_server.username, token_server.password)
    anon = decode_jwt(get_token(token_server, "repository:x/y:pull,push")["token"])[1]
    assert anon["access"] == [{"type": "repository", "name": "x/y", "actions": ["pull"]}]
    assert anon["sub"] == ""
    full = decode_jwt(
        get_token(token_server, "repository:x/y:pull,push,delete", "repository:z:*", auth=user)[
            "token"
        ]
    )[1]
    assert full["sub"] == token_server.username
    assert full["access"] == [
        {"type": "repository", "name": "x/y", "actions": ["pull", "push", "delete"]},
        {"type": "repository", "name": "z", "actions": ["*"]},
    ]
    query = urllib.parse.urlencode({"service": "hoist-test", "scope": "repository:x/y:pull"})
    status, headers, _ = request(
        f"{token_server.realm}?{query}", headers=basic(token_server.username, "wrong")
    )
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic ")
    last = token_server.requests[-1]
    assert (last.status, last.authenticated, last.username) == (401, False, token_server.username)


def test_token_oauth_password_and_refresh(token_server: TokenServer) -> None:
    scope = "repository:o/p:pull,push"
    status, answer = post_token(
        token_server,
        grant_type="password",
        service="hoist-test",
        client_id="hoist-tests",
        access_type="offline",
        username=token_server.username,
        password=token_server.password,
        scope=scope,
    )
    assert status == 200 and answer["refresh_token"] and answer["scope"] == scope
    assert decode_jwt(answer["access_token"])[1]["access"][0]["actions"] == ["pull", "push"]
    status, again = post_token(
        token_server,
        grant_type="refresh_token",
        service="hoist-test",
        client_id="hoist-tests",
        refresh_token=answer["refresh_token"],
        scope="repository:o/p:pull repository:o/q:pull",
    )
    assert status == 200 and "refresh_token" not in again
    assert [a["name"] for a in decode_jwt(again["access_token"])[1]["access"]] == ["o/p", "o/q"]
    rec = token_server.requests[-1]
    assert (rec.method, rec.grant_type, rec.authenticated) == ("POST", "refresh_token", True)
    assert rec.actions_for("o/q") == {"pull"}
    status, _ = post_token(
        token_server, grant_type="refresh_token", service="hoist-test", refresh_token="bogus"
    )
    assert status == 401
    status, _ = post_token(
        token_server, grant_type="password", username=token_server.username, password="nope"
    )
    assert status == 401


# -- pure helpers -------------------------------------------------------------


@pytest.mark.parametrize(
    "test_name", ["test_push[basic]", "test_X__Y--z", "test_", "test_" + "a_" * 60, "weird..name!"]
)
def test_unique_repo_name_is_valid(test_name: str) -> None:
    name = unique_repo_name(test_name)
    assert name.startswith("test/") and REPO_RE.match(name), name
    assert unique_repo_name(test_name) != name


def test_repo_name_fixture(repo_name: str) -> None:
    assert REPO_RE.match(repo_name) and repo_name.startswith("test/repo-name-fixture-")


def test_skopeo_command_flags() -> None:
    assert skopeo_command("inspect", "--raw", "docker://h/r:t", creds="u:p") == [
        "skopeo", "--insecure-policy", "inspect", "--tls-verify=false", "--creds", "u:p",
        "--raw", "docker://h/r:t",
    ]  # fmt: skip
    assert skopeo_command("copy", "oci:/x:latest", "docker://h/r:t", creds="u:p") == [
        "skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
        "--dest-tls-verify=false", "--dest-creds", "u:p", "oci:/x:latest", "docker://h/r:t",
    ]  # fmt: skip
    cmd = skopeo_command("copy", "docker://a/r:t", "docker://b/r:t", src_creds="a:1", creds="b:2")
    assert cmd[5:9] == ["--src-creds", "a:1", "--dest-creds", "b:2"]


# -- real registries ----------------------------------------------------------


@pytest.mark.parametrize("fixture", ["registry_anon", "registry_basic", "registry_token"])
def test_push_and_inspect_raw_roundtrip(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path, repo_name: str
) -> None:
    reg: RegistryServer = request.getfixturevalue(fixture)
    assert reg.host.startswith("127.0.0.1:") and reg.url == f"http://{reg.host}"
    assert reg.root.is_dir()
    assert (reg.username is None) == (reg.auth == "anon")
    manifest = push_image(tmp_path, reg, repo_name, creds=reg.creds)
    ref = f"docker://{reg.host}/{repo_name}:v1"
    assert skopeo_raw(ref, creds=reg.creds) == manifest
    tags = json.loads(
        skopeo("list-tags", f"docker://{reg.host}/{repo_name}", creds=reg.creds).stdout
    )
    assert tags["Tags"] == ["v1"]
    # the data really lands in the storage root
    assert (reg.root / "docker/registry/v2/repositories" / repo_name).is_dir()


def test_basic_auth_is_enforced(
    registry_basic: RegistryServer, tmp_path: Path, repo_name: str
) -> None:
    assert registry_basic.username and registry_basic.password
    status, headers, _ = http_get(f"{registry_basic.url}/v2/")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
    status, _, _ = http_get(
        f"{registry_basic.url}/v2/", basic(registry_basic.username, registry_basic.password)
    )
    assert status == 200
    status, _, _ = http_get(f"{registry_basic.url}/v2/", basic(registry_basic.username, "wrong"))
    assert status == 401
    layout = tmp_path / "layout"
    write_oci_layout(layout, b"anonymous push\n")
    proc = skopeo(
        "copy",
        f"oci:{layout}:latest",
        f"docker://{registry_basic.host}/{repo_name}:v1",
        check=False,
    )
    assert proc.returncode != 0
    assert re.search(r"(?i)denied|unauthorized", proc.stderr), proc.stderr
    with pytest.raises(SkopeoError, match=r"(?i)unauthorized|authentication required"):
        skopeo(
            "inspect",
            "--raw",
            f"docker://{registry_basic.host}/{repo_name}:v1",
            creds="hoist:wrong",
        )


def test_token_auth_flow(
    registry_token: RegistryServer, token_server: TokenServer, tmp_path: Path, repo_name: str
) -> None:
    assert registry_token.token_server is token_server
    status, headers, body = http_get(f"{registry_token.url}/v2/")
    assert status == 401, body
    challenge = headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{token_server.realm}"')
    assert 'service="hoist-test"' in challenge

    token_server.clear()
    manifest = push_image(tmp_path, registry_token, repo_name, creds=registry_token.creds)
    pushes = [r for r in token_server.requests if "push" in r.actions_for(repo_name)]
    assert pushes and all(r.authenticated and r.status == 200 for r in pushes)
    assert any(g["name"] == repo_name and "push" in g["actions"] for r in pushes for g in r.granted)

    # anonymous pull works, with an unauthenticated pull-only token
    token_server.clear()
    assert skopeo_raw(f"docker://{registry_token.host}/{repo_name}:v1") == manifest
    assert token_server.requests and not any(r.authenticated for r in token_server.requests)

    # the registry accepts our tokens directly: pull yes, push (blob upload) no
    pull = get_token(token_server, f"repository:{repo_name}:pull")["token"]
    status, _, body = http_get(
        f"{registry_token.url}/v2/{repo_name}/manifests/v1",
        {"Authorization": f"Bearer {pull}", "Accept": OCI_MANIFEST},
    )
    assert status == 200 and body == manifest
    status, _, body = request(
        f"{registry_token.url}/v2/{repo_name}/blobs/uploads/",
        method="POST",
        headers={"Authorization": f"Bearer {pull}"},
        data=b"",
    )
    assert status == 401, body

    # anonymous push is refused
    layout = tmp_path / "anon-layout"
    write_oci_layout(layout, b"anonymous push\n")
    proc = skopeo(
        "copy",
        f"oci:{layout}:latest",
        f"docker://{registry_token.host}/{repo_name}:anon",
        check=False,
    )
    assert proc.returncode != 0
    assert re.search(r"(?i)denied|unauthorized", proc.stderr), proc.stderr
    status, _, _ = http_get(
        f"{registry_token.url}/v2/{repo_name}/manifests/anon",
        {"Authorization": f"Bearer {pull}", "Accept": OCI_MANIFEST},
    )
    assert status == 404


def test_copy_between_anonymous_registries(
    registry_anon: RegistryServer, registry_anon2: RegistryServer, tmp_path: Path, repo_name: str
) -> None:
    assert registry_anon.host != registry_anon2.host
    manifest = push_image(tmp_path, registry_anon, repo_name)
    skopeo(
        "copy",
        "--preserve-digests",
        f"docker://{registry_anon.host}/{repo_name}:v1",
        f"docker://{registry_anon2.host}/{repo_name}:v1",
    )
    assert skopeo_raw(f"docker://{registry_anon2.host}/{repo_name}:v1") == manifest


def test_restart_keeps_port_and_optionally_data(
    make_registry: Callable[..., RegistryServer], tmp_path: Path, repo_name: str
) -> None:
    reg: RegistryServer = make_registry("anon")
    host = reg.host
    manifest = push_image(tmp_path, reg, repo_name)
    reg.restart(fresh=False)
    assert reg.host == host
    assert skopeo_raw(f"docker://{host}/{repo_name}:v1") == manifest
    reg.restart()
    assert reg.host == host
    with pytest.raises(SkopeoError, match=r"(?i)manifest unknown|not found"):
        skopeo("inspect", "--raw", f"docker://{host}/{repo_name}:v1")
    assert "starting on" in reg.log_tail(1000)
