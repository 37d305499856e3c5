"""Transport against real registries (distribution): basic auth, bearer tokens, scope widening."""

from __future__ import annotations

import hashlib

import pytest
from support.registry_fixtures import RegistryServer
from support.token_server import TokenServer

from hoist.config.credentials import Credentials
from hoist.errors import AuthError, RegistryError
from hoist.model.digest import digest_of
from hoist.transport.http import Transport


class Static:
    def __init__(self, creds: Credentials | None) -> None:
        self.creds = creds

    def get(self, host: str) -> Credentials | None:
        return self.creds


def transport(creds: Credentials | None = None) -> Transport:
    # default settings: the registries speak plain http on 127.0.0.1, found by the loopback fallback
    return Transport(credentials=Static(creds), backoff=0.01, retries=2)


def user(reg: RegistryServer) -> Credentials:
    assert reg.username and reg.password
    return Credentials(reg.username, reg.password)


def push_blob(t: Transport, host: str, repo: str, data: bytes, scopes: list[str]) -> str:
    """Monolithic upload (POST then PUT); returns the digest."""
    digest = str(digest_of(data))
    r = t.request("POST", host, f"/v2/{repo}/blobs/uploads/", scopes=scopes, expect=(202,))
    assert r.location
    t.request(
        "PUT",
        host,
        r.location,
        query=[("digest", digest)],
        body=data,
        headers={"Content-Type": "application/octet-stream"},
        scopes=scopes,
        expect=(201,),
    )
    return digest


def test_ping_and_basic_auth(registry_basic: RegistryServer, repo_name: str) -> None:
    data = hashlib.sha256(b"basic").digest() * 40_000
    scopes = [f"repository:{repo_name}:pull,push"]
    with transport(user(registry_basic)) as t:
        assert t.request("GET", registry_basic.host, "/v2/").status == 200
        assert t.scheme(registry_basic.host) == "http"
        digest = push_blob(t, registry_basic.host, repo_name, data, scopes)
        head = t.request("HEAD", registry_basic.host, f"/v2/{repo_name}/blobs/{digest}")
        assert head.content_length == len(data)
        path = f"/v2/{repo_name}/blobs/{digest}"
        with t.open_blob(registry_basic.host, path, digest_of(data), len(data), scopes) as blob:
            assert blob.read() == data and blob.verified


def test_basic_auth_wrong_password(registry_basic: RegistryServer) -> None:
    with (
        transport(Credentials(registry_basic.username or "", "wrong")) as t,
        pytest.raises(AuthError, match="401") as info,
    ):
        t.request("GET", registry_basic.host, "/v2/")
    assert registry_basic.host in str(info.value)


def test_token_flow(
    registry_token: RegistryServer, token_server: TokenServer, repo_name: str
) -> None:
    scopes = [f"repository:{repo_name}:pull,push"]
    with transport(user(registry_token)) as t:
        digest = push_blob(t, registry_token.host, repo_name, b"token flow", scopes)
        with t.open_blob(
            registry_token.host, f"/v2/{repo_name}/blobs/{digest}", digest_of(b"token flow"), 10
        ) as blob:
            assert blob.read() == b"token flow"
        with pytest.raises(RegistryError) as info:
            t.request("GET", registry_token.host, f"/v2/{repo_name}/manifests/nope", scopes=scopes)
    assert (info.value.code, info.value.status) == ("MANIFEST_UNKNOWN", 404)
    mine = [r for r in token_server.requests if r.actions_for(repo_name)]
    assert mine and all(r.authenticated and r.method == "GET" for r in mine)
    assert len(mine) == 1  # one token served the push, the pull and the miss


def test_pull_token_widened_to_push(
    registry_token: RegistryServer, token_server: TokenServer, repo_name: str
) -> None:
    with transport(user(registry_token)) as t:
        with pytest.raises(RegistryError) as info:
            t.request(
                "GET",
                registry_token.host,
                f"/v2/{repo_name}/tags/list",
                scopes=[f"repository:{repo_name}:pull"],
            )
        assert info.value.code == "NAME_UNKNOWN"
        r = t.request(
            "POST",
            registry_token.host,
            f"/v2/{repo_name}/blobs/uploads/",
            scopes=[f"repository:{repo_name}:push"],
            expect=(202,),
        )
        assert r.location
    mine = [r for r in token_server.requests if r.actions_for(repo_name)]
    assert [sorted(r.actions_for(repo_name)) for r in mine] == [["pull"], ["pull", "push"]]


def test_too_narrow_scope_is_widened_on_401(
    registry_token: RegistryServer, token_server: TokenServer, repo_name: str
) -> None:
    with transport(user(registry_token)) as t:
        # the caller claims pull only; distribution's 401 challenge names push
        r = t.request(
            "POST",
            registry_token.host,
            f"/v2/{repo_name}/blobs/uploads/",
            scopes=[f"repository:{repo_name}:pull"],
            expect=(202,),
        )
        assert r.status == 202
    mine = [r for r in token_server.requests if r.actions_for(repo_name)]
    assert [sorted(r.actions_for(repo_name)) for r in mine] == [["pull"], ["pull", "push"]]


def test_identity_token(
    registry_token: RegistryServer, token_server: TokenServer, repo_name: str
) -> None:
    refresh = token_server.new_refresh_token(registry_token.username or "")
    with transport(Credentials(identity_token=refresh)) as t:
        push_blob(t, registry_token.host, repo_name, b"refresh", [f"repository:{repo_name}:push"])
    mine = [r for r in token_server.requests if r.actions_for(repo_name)]
    assert mine and all(r.grant_type == "refresh_token" and r.authenticated for r in mine)


def test_anonymous_push_is_denied(registry_token: RegistryServer, repo_name: str) -> None:
    with transport() as t, pytest.raises(AuthError, match="anonymously"):
        t.request(
            "POST",
            registry_token.host,
            f"/v2/{repo_name}/blobs/uploads/",
            scopes=[f"repository:{repo_name}:push"],
            expect=(202,),
        )
