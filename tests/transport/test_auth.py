"""WWW-Authenticate parsing, bearer tokens (cache, expiry, widening), auth through a Transport."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.fake_http import FakeServer, Request

from hoist.config.credentials import Credentials
from hoist.config.settings import RegistrySettings
from hoist.errors import AuthError, HoistError
from hoist.transport.auth import Authenticator, Challenge, merge_scopes, parse_www_authenticate
from hoist.transport.http import Transport

# -- WWW-Authenticate ----------------------------------------------------------------------------

P = tuple[tuple[str, str], ...]

CASES: list[tuple[str, list[Challenge]]] = [
    ('Basic realm="r"', [Challenge("basic", (("realm", "r"),))]),
    ("basic realm=r", [Challenge("basic", (("realm", "r"),))]),
    (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"',
        [
            Challenge(
                "bearer",
                (
                    ("realm", "https://auth.docker.io/token"),
                    ("service", "registry.docker.io"),
                    ("scope", "repository:library/alpine:pull"),
                ),
            )
        ],
    ),
    (
        'Bearer realm="a,b", scope="repository:x:pull,push", error="insufficient_scope"',
        [
            Challenge(
                "bearer",
                (
                    ("realm", "a,b"),
                    ("scope", "repository:x:pull,push"),
                    ("error", "insufficient_scope"),
                ),
            )
        ],
    ),
    (
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
        [
            Challenge("newauth", (("realm", "apps"), ("type", "1"), ("title", 'Login to "apps"'))),
            Challenge("basic", (("realm", "simple"),)),
        ],
    ),
    (
        'Basic realm="x", Bearer realm="https://t/token",service="s"',
        [
            Challenge("basic", (("realm", "x"),)),
            Challenge("bearer", (("realm", "https://t/token"), ("service", "s"))),
        ],
    ),
    ("Negotiate abc+/def==", [Challenge("negotiate", (), "abc+/def==")]),
    (
        "Negotiate abc==, Basic realm=r",
        [Challenge("negotiate", (), "abc=="), Challenge("basic", (("realm", "r"),))],
    ),
    ("Negotiate", [Challenge("negotiate")]),
    ("Negotiate, NTLM", [Challenge("negotiate"), Challenge("ntlm")]),
    (
        'Bearer realm = "spaced" , service = svc',
        [Challenge("bearer", (("realm", "spaced"), ("service", "svc")))],
    ),
    (
        'Bearer realm="r" service="s"',  # no comma: lenient
        [Challenge("bearer", (("realm", "r"), ("service", "s")))],
    ),
    ('Bearer REALM="upper"', [Challenge("bearer", (("realm", "upper"),))]),
    ('Bearer realm="first", realm="second"', [Challenge("bearer", (("realm", "first"),))]),
    ('Bearer realm="back\\\\slash"', [Challenge("bearer", (("realm", "back\\slash"),))]),
    ('Bearer realm="unterminated', [Challenge("bearer", (("realm", "unterminated"),))]),
    ('Bearer realm=""', [Challenge("bearer", (("realm", ""),))]),
    (", ,Basic realm=r,,", [Challenge("basic", (("realm", "r"),))]),
    ("", []),
    ("   ", []),
]


@pytest.mark.parametrize(("header", "expected"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_parse_www_authenticate(header: str, expected: list[Challenge]) -> None:
    assert parse_www_authenticate(header) == expected


_TOKENS = st.from_regex(r"[a-z][a-z0-9._-]{0,8}", fullmatch=True)
_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
_CHALLENGES = st.builds(
    lambda scheme, params: Challenge(scheme, tuple(params)),
    _TOKENS,
    st.lists(st.tuples(_TOKENS, _VALUES), max_size=4, unique_by=lambda p: p[0]),
)


def _format(c: Challenge) -> str:
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for _, v in c.params)
    params = ", ".join(f'{k}="{v}"' for (k, _), v in zip(c.params, quoted, strict=True))
    return f"{c.scheme} {params}".rstrip()


@given(st.lists(_CHALLENGES, max_size=4))
def test_parse_www_authenticate_round_trip(challenges: list[Challenge]) -> None:
    assert parse_www_authenticate(", ".join(map(_format, challenges))) == challenges


@given(st.text(max_size=60))
def test_parse_www_authenticate_never_raises(text: str) -> None:
    parse_www_authenticate(text)


def test_challenge_get() -> None:
    [c] = parse_www_authenticate('Bearer Realm="r", Service="s"')
    assert c.get("REALM") == "r" and c.get("service") == "s" and c.get("scope") is None


def test_merge_scopes() -> None:
    assert merge_scopes(["repository:a:pull", "repository:a:push", "repository:b:pull"]) == [
        "repository:a:pull,push",
        "repository:b:pull",
    ]
    assert merge_scopes(["repository:reg:5000/a:push,pull", "registry:catalog:*"]) == [
        "registry:catalog:*",
        "repository:reg:5000/a:pull,push",
    ]
    assert merge_scopes(["odd"]) == ["odd"]


# -- Authenticator with a stub token endpoint ----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenStub:
    """A fetch function answering token requests; records them."""

    def __init__(self, status: int = 200, answer: dict[str, Any] | None = None) -> None:
        self.status = status
        self.answer = answer
        self.calls: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        self.calls.append((method, url, dict(headers), body))
        answer = self.answer or {"token": f"t{len(self.calls)}", "expires_in": 300}
        return self.status, {}, json.dumps(answer).encode()

    def scopes(self, i: int) -> list[str]:
        method, url, _, body = self.calls[i]
        pairs = parse_qsl(urlsplit(url).query if method == "GET" else (body or b"").decode())
        return [v for k, v in pairs if k == "scope"]


class Creds:
    def __init__(self, creds: Credentials | None) -> None:
        self.creds = creds

    def get(self, host: str) -> Credentials | None:
        return self.creds


BEARER = 'Bearer realm="https://auth.example/token",service="reg"'


def authenticator(
    stub: TokenStub, creds: Credentials | None = None, clock: Clock | None = None
) -> Authenticator:
    auth = Authenticator(stub, Creds(creds), clock=clock or Clock())
    auth.record("reg", BEARER)
    return auth


def test_anonymous_token_get() -> None:
    stub = TokenStub()
    auth = authenticator(stub)
    assert auth.authorization("reg", ["repository:a:pull", "repository:b:pull"]) == "Bearer t1"
    method, url, headers, _ = stub.calls[0]
    assert method == "GET" and url.startswith("https://auth.example/token?service=reg&")
    assert stub.scopes(0) == ["repository:a:pull", "repository:b:pull"]
    assert "Authorization" not in headers


def test_token_get_with_basic_credentials() -> None:
    stub = TokenStub()
    authenticator(stub, Credentials("alice", "pw")).authorization("reg", ["repository:a:pull"])
    expected = "Basic " + base64.b64encode(b"alice:pw").decode()
    assert stub.calls[0][2]["Authorization"] == expected


def test_identity_token_uses_oauth_post() -> None:
    stub = TokenStub(answer={"access_token": "acc", "expires_in": 300})
    auth = authenticator(stub, Credentials(identity_token="refresh-me"))
    assert auth.authorization("reg", ["repository:a:pull", "repository:a:push"]) == "Bearer acc"
    method, url, headers, body = stub.calls[0]
    assert method == "POST" and url == "https://auth.example/token"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl((body or b"").decode()))
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-me",
        "service": "reg",
        "client_id": "hoist",
        "scope": "repository:a:pull,push",
    }


def test_token_cache_and_expiry() -> None:
    stub, clock = TokenStub(answer={"token": "tok", "expires_in": 100}), Clock()
    auth = authenticator(stub, clock=clock)
    for _ in range(3):
        auth.authorization("reg", ["repository:a:pull"])
    assert len(stub.calls) == 1
    clock.now += 85  # 100 s minus the 10 s margin not reached yet
    auth.authorization("reg", ["repository:a:pull"])
    assert len(stub.calls) == 1
    clock.now += 10
    auth.authorization("reg", ["repository:a:pull"])
    assert len(stub.calls) == 2


@pytest.mark.parametrize(
    ("answer", "valid"),
    [
        ({"token": "t"}, 50),  # 60 s by default, less the margin
        ({"token": "t", "expires_in": 5}, 50),  # at least 60 s, as docker does
        ({"token": "t", "expires_in": 600, "issued_at": "2999-01-01T00:00:00+00:00"}, 590),
        ({"token": "t", "expires_in": 600, "issued_at": "2000-01-01T00:00:00Z"}, 290),  # skew
    ],
)
def test_token_lifetime(answer: dict[str, Any], valid: int) -> None:
    stub, clock = TokenStub(answer=answer), Clock()
    auth = authenticator(stub, clock=clock)
    auth.authorization("reg", ["repository:a:pull"])
    clock.now += valid - 1
    auth.authorization("reg", ["repository:a:pull"])
    assert len(stub.calls) == 1
    clock.now += 2
    auth.authorization("reg", ["repository:a:pull"])
    assert len(stub.calls) == 2


def test_scope_widening_push_after_pull() -> None:
    stub = TokenStub()
    auth = authenticator(stub)
    assert auth.authorization("reg", ["repository:a:pull"]) == "Bearer t1"
    assert auth.authorization("reg", ["repository:a:push"]) == "Bearer t2"
    assert stub.scopes(1) == ["repository:a:pull,push"]
    # the wide token serves pulls from now on; other repositories are not widened
    assert auth.authorization("reg", ["repository:a:pull"]) == "Bearer t2"
    assert auth.authorization("reg", ["repository:b:pull"]) == "Bearer t3"
    assert stub.scopes(2) == ["repository:b:pull"]
    assert len(stub.calls) == 3


def test_mount_scopes_in_one_token() -> None:
    stub = TokenStub()
    auth = authenticator(stub)
    auth.authorization("reg", ["repository:dst:pull,push", "repository:src:pull"])
    assert stub.scopes(0) == ["repository:dst:pull,push", "repository:src:pull"]


def test_challenged_insufficient_scope() -> None:
    stub = TokenStub()
    auth = authenticator(stub)
    sent = auth.authorization("reg", ["repository:a:pull"])
    header = BEARER + ',scope="repository:src:pull",error="insufficient_scope"'
    wider = auth.challenged("reg", ["repository:a:pull"], header, sent)
    assert wider == ["repository:a:pull", "repository:src:pull"]
    assert auth.authorization("reg", wider) == "Bearer t2"
    # the refused token is forgotten
    assert auth.authorization("reg", ["repository:a:pull"]) == "Bearer t3"


def test_challenged_after_token_without_scope_param() -> None:
    stub = TokenStub()
    auth = authenticator(stub)
    sent = auth.authorization("reg", ["repository:a:pull"])
    assert auth.challenged("reg", ["repository:a:pull"], BEARER, sent) == ["repository:a:pull"]
    assert auth.authorization("reg", ["repository:a:pull"]) == "Bearer t2"


def test_challenged_basic() -> None:
    auth = Authenticator(TokenStub(), Creds(Credentials("u", "p")))
    assert not auth.known("h")
    assert auth.challenged("h", [], 'Basic realm="r"', None) == []
    assert auth.known("h")
    sent = auth.authorization("h", [])
    assert sent is not None and sent.startswith("Basic ")
    assert auth.challenged("h", [], 'Basic realm="r"', sent) is None
    assert auth.challenged("h", [], "Negotiate", sent) is None


def test_no_challenge_no_header() -> None:
    auth = Authenticator(TokenStub(), Creds(Credentials("u", "p")))
    auth.record("h", None)
    assert auth.known("h") and auth.authorization("h", ["repository:a:pull"]) is None


@pytest.mark.parametrize(
    ("stub", "match"),
    [
        (TokenStub(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad pw"}]}), "bad pw"),
        (TokenStub(200, {"nothing": 1}), "no token"),
    ],
)
def test_token_errors(stub: TokenStub, match: str) -> None:
    with pytest.raises(AuthError, match=match):
        authenticator(stub, Credentials("alice", "pw")).authorization("reg", ["repository:a:pull"])


def test_token_fetch_once_under_concurrency() -> None:
    stub = TokenStub()
    auth = authenticator(stub)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        auth.authorization("reg", ["repository:a:pull"])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stub.calls) == 1


# -- bearer auth through a Transport, against a fake registry with its own token endpoint -------


class TokenRegistry:
    """Registry + token endpoint in one fake server. Tokens are ``tok:<json scopes>``."""

    def __init__(self, grant: set[str] | None = None) -> None:
        self.grant = grant  # actions the token endpoint gives; all when None
        self.token_requests: list[list[str]] = []
        self.server = FakeServer(self.handle, ping=False)
        self.host = self.server.host

    def challenge(self, scope: str = "", error: str = "") -> str:
        value = f'Bearer realm="http://{self.host}/token",service="fake"'
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return value

    def handle(self, r: Request) -> None:
        if r.path == "/token":
            scopes = [v for k, v in r.seen.query if k == "scope"]
            self.token_requests.append(scopes)
            granted = []
            for s in scopes:
                kind, name, actions = s.split(":")
                keep = [a for a in actions.split(",") if self.grant is None or a in self.grant]
                granted.append(f"{kind}:{name}:{','.join(keep)}")
            r.reply(200, {"token": "tok:" + json.dumps(granted), "expires_in": 300})
            return
        if r.path == "/v2/":
            if (r.header("Authorization") or "").startswith("Bearer tok:"):
                r.reply(200, {})
            else:
                r.error(
                    401, "UNAUTHORIZED", "auth required", **{"WWW-Authenticate": self.challenge()}
                )
            return
        repo = r.path.split("/")[2]
        action = "pull" if r.method in ("GET", "HEAD") else "push"
        need = f"repository:{repo}:{action}"
        token = (r.header("Authorization") or "").removeprefix("Bearer tok:")
        have: set[str] = set()
        for s in json.loads(token) if token else []:
            kind, name, actions = s.split(":")
            have.update(f"{kind}:{name}:{a}" for a in actions.split(","))
        if need not in have:
            r.error(
                401,
                "UNAUTHORIZED",
                "authentication required",
                **{
                    "WWW-Authenticate": self.challenge(
                        f"repository:{repo}:pull,{action}", "insufficient_scope"
                    )
                },
            )
        elif r.method == "POST":
            r.reply(202, headers={"Location": f"/v2/{repo}/blobs/uploads/u1"})
        else:
            r.reply(200, b"content")


@pytest.fixture
def registry() -> Iterator[TokenRegistry]:
    reg = TokenRegistry()
    yield reg
    reg.server.close()


def transport() -> Transport:
    return Transport(settings=lambda _h: RegistrySettings(tls="disabled"), backoff=0.01)


def test_bearer_push_after_pull(registry: TokenRegistry) -> None:
    with transport() as t:
        t.request("GET", registry.host, "/v2/app/tags/list", scopes=["repository:app:pull"])
        r = t.request(
            "POST",
            registry.host,
            "/v2/app/blobs/uploads/",
            scopes=["repository:app:pull", "repository:app:push"],
            expect=(202,),
        )
        assert r.location == f"http://{registry.host}/v2/app/blobs/uploads/u1"
        t.request("GET", registry.host, "/v2/app/tags/list", scopes=["repository:app:pull"])
    assert registry.token_requests == [["repository:app:pull"], ["repository:app:pull,push"]]
    # no /v2/ ping: the first GET went out unauthenticated and its 401 told the realm; one 401
    assert [s.path for s in registry.server.seen if s.path != "/token"] == [
        "/v2/app/tags/list",
        "/v2/app/tags/list",
        "/v2/app/blobs/uploads/",
        "/v2/app/tags/list",
    ]
    assert registry.server.seen[0].header("Authorization") is None
    assert len(registry.server.requests("/v2/app/blobs/uploads/")) == 1


def test_bearer_401_widens_once(registry: TokenRegistry) -> None:
    with transport() as t:
        # the caller asked for too little; the registry's challenge says what is needed
        t.request(
            "POST",
            registry.host,
            "/v2/app/blobs/uploads/",
            scopes=["repository:app:pull"],
            expect=(202,),
        )
    assert registry.token_requests == [["repository:app:pull"], ["repository:app:pull,push"]]
    assert len(registry.server.requests("/v2/app/blobs/uploads/")) == 2


def test_bearer_denied_after_one_retry() -> None:
    reg = TokenRegistry(grant={"pull"})
    try:
        with transport() as t, pytest.raises(AuthError, match="UNAUTHORIZED") as info:
            t.request(
                "POST",
                reg.host,
                "/v2/app/blobs/uploads/",
                scopes=["repository:app:push"],
                expect=(202,),
            )
        assert "anonymously" in str(info.value)
        assert len(reg.server.requests("/v2/app/blobs/uploads/")) == 2
    finally:
        reg.server.close()


class HostCreds:
    """Credentials for some hosts only."""

    def __init__(self, logins: dict[str, Credentials]) -> None:
        self.logins = logins

    def get(self, host: str) -> Credentials | None:
        return self.logins.get(host)


def test_token_confusion_second_registry_naming_first_realm_gets_no_token() -> None:
    """A registry that names another one's realm and service is never handed that registry's
    token: tokens are kept per registry host, and a host without credentials of its own
    only gets the anonymous token it fetched itself."""
    stub = TokenStub()
    auth = Authenticator(stub, HostCreds({"good.example": Credentials("alice", "pw")}))
    auth.record("good.example", BEARER)
    auth.record("evil.example", BEARER)  # the same realm and service
    scopes = ["repository:app:pull,push"]
    assert auth.authorization("good.example", scopes) == "Bearer t1"
    assert "Authorization" in stub.calls[0][2]
    assert auth.authorization("evil.example", scopes) == "Bearer t2"
    assert len(stub.calls) == 2
    assert "Authorization" not in stub.calls[1][2]  # fetched anonymously, for itself
    # and a 401 on the second host drops only its own token
    auth.challenged("evil.example", scopes, BEARER, "Bearer t2")
    assert auth.authorization("good.example", scopes) == "Bearer t1"
    assert len(stub.calls) == 2


class RawTokenStub(TokenStub):
    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        self.calls.append((method, url, dict(headers), body))
        return 200, {}, self.body


@pytest.mark.parametrize(
    ("attack", "body"),
    [
        ("deeply-nested-token-reply", b"[" * 100_000 + b"]" * 100_000),
        (
            "token-reply-with-a-5000-digit-number",
            b'{"token": "t", "expires_in": ' + b"9" * 5000 + b"}",
        ),
        ("endless-token-reply", b'{"token": "' + b"a" * (2 << 20) + b'"}'),
    ],
)
def test_hostile_token_reply_is_one_auth_error(attack: str, body: bytes) -> None:
    with pytest.raises(AuthError, match="token response"):
        authenticator(RawTokenStub(body)).authorization("reg", ["repository:a:pull"])


def test_token_lifetime_of_infinity_does_not_crash() -> None:
    auth = authenticator(RawTokenStub(b'{"token": "t", "expires_in": 1e999}'))
    assert auth.authorization("reg", ["repository:a:pull"]) == "Bearer t"


_HEADERISH = st.text(
    st.sampled_from(list('Bearer Basic realm= service="scope",\\ \t;:/[]?&%x0')), max_size=120
)


@settings(max_examples=200, deadline=None)
@given(_HEADERISH | st.text(max_size=120))
def test_fuzz_www_authenticate_reaches_only_hoist_errors(header: str) -> None:
    """A challenge of any text, recorded and then used for a token: a header value, or one
    HoistError (a realm that is no URL included), never another exception."""
    parse_www_authenticate(header)
    auth = Authenticator(TokenStub(), Creds(None), clock=Clock())
    auth.record("reg", header)
    try:
        value = auth.authorization("reg", ["repository:a:pull"])
        assert value is None or isinstance(value, str)
        auth.challenged("reg", ["repository:a:pull"], header, value)
    except HoistError:
        pass
