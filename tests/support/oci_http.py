"""Raw OCI distribution-spec HTTP for tests: media types, a small client, error checks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
#: Clients SHOULD send Accept on manifest requests (distribution 2.8 hides OCI types without).
ACCEPT = {"Accept": ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])}
SPEC_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
)

#: What distribution 2.8 (Debian's docker-registry 2.8.2) does differently, by key.


@dataclass
class Resp:
    """Status, headers (case-insensitive) and body of one answer."""

    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def codes(self) -> list[str]:
        """Error codes of a JSON error body."""
        return [e["code"] for e in self.json()["errors"]]


class Http:
    """Raw requests to one registry (no retries, no redirects, no proxies)."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.pool = urllib3.PoolManager(retries=False, timeout=60.0)
        self.auth = auth

    def path_of(self, location: str) -> str:
        """The path and query of a Location (absolute or relative)."""
        parts = urlsplit(location)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Resp:
        hdrs = dict(headers or {})
        if self.auth is not None and "Authorization" not in hdrs:
            hdrs.update(urllib3.make_headers(basic_auth=":".join(self.auth)))
        url = path if path.startswith("http") else self.base_url + path
        r = self.pool.request(
            method, url, body=body, headers=hdrs, redirect=False, preload_content=True, **kwargs
        )
        return Resp(r.status, r.headers, r.data)

    def get(self, path: str, **kw: Any) -> Resp:
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw: Any) -> Resp:
        return self.request("HEAD", path, **kw)


def assert_error(resp: Resp, status: int, code: str) -> None:
    """``resp`` is a spec error answer: ``status``, JSON body, ``code`` among its codes."""
    assert resp.status == status, (resp.status, resp.body[:300])
    codes = resp.codes
    assert code in codes, codes
    assert set(codes) <= SPEC_CODES, codes


def with_query(location: str, query: str) -> str:
    return location + ("&" if "?" in location else "?") + query


def digest(data: bytes, alg: str = "sha256") -> str:
    return f"{alg}:{hashlib.new(alg, data).hexdigest()}"


def desc(media_type: str, data: bytes, alg: str = "sha256", **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest(data, alg), "size": len(data), **extra}


def dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
