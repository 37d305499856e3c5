"""Distribution-spec v1.1 conformance, run against ``hoist serve`` and CNCF distribution 2.8.

Every test takes a ``target``: the in-process hoist registry, or Debian's docker-registry
(fixture ``registry_anon``). Where distribution 2.8 does not do what the spec asks, the
distribution case is marked ``xfail(strict=True)`` with the reason listed in
:data:`DIFFERENCES`, so every difference is deliberate and a fixed one shows up as XPASS.
Tests taking ``alg`` run with sha256 and sha512 content.

The requests are raw HTTP (:class:`Http`, over urllib3), so what is checked is the wire.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.oci_http import (
    ACCEPT,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Http,
    Resp,
    assert_error,
    desc,
    digest,
    dump,
    with_query,
)
from support.registry_fixtures import unique_repo_name

from hoist.server.run import ServerThread

DIFFERENCES: dict[str, str] = {
    "single-post": "distribution 2.8 ignores ?digest= on POST and opens a session (202): "
    "no single-request monolithic push (spec: MAY)",
    "chunk-min": "distribution 2.8 does not advertise OCI-Chunk-Min-Length (spec v1.1)",
    "chunk-order": "distribution 2.8 accepts a PATCH whose Content-Range does not start at "
    "the upload's offset (spec: MUST answer 416)",
    "range-416": "distribution 2.8 answers an unsatisfiable Range with a broken 416 "
    "(Content-Length of the blob, short body)",
    "upload-unknown": "distribution 2.8 answers an upload URL it did not issue with 404 "
    "BLOB_UPLOAD_INVALID (its _state token is checked first), not BLOB_UPLOAD_UNKNOWN",
    "sha512-blob": "distribution 2.8 files sha512 uploads under their sha256 digest: it "
    "answers Docker-Content-Digest sha256 and a mount by sha512 is not readable by sha512",
    "sha512-manifest": "distribution 2.8 refuses manifests pushed by a sha512 digest "
    "(DIGEST_INVALID): it only computes sha256",
    "size-check": "distribution 2.8 accepts a manifest whose descriptor size differs from "
    "the blob's",
    "too-large": "distribution 2.8 refuses a manifest over its limit with 400 MANIFEST_INVALID "
    "('request body too large'); the spec (v1.1) asks for 413",
    "name-invalid": "distribution 2.8 routes only valid names: an invalid one gets a plain-text "
    "'404 page not found', not 400 NAME_INVALID",
    "tags-order": "distribution 2.8 lists tags in storage order, not lexical order (spec: "
    "MUST), so n/last pages are not the sorted ones",
    "n-zero": "distribution 2.8 answers n=0 with a full page instead of an empty list "
    "(spec: MUST be empty, no Link)",
    "tag-delete": "distribution 2.8 cannot delete a tag alone (DELETE /manifests/<tag> is "
    "400 DIGEST_INVALID)",
    "referrers": "distribution 2.8 has no referrers API (GET /v2/<name>/referrers/<digest> "
    "is a 404) and never answers OCI-Subject",
}


def differs(*keys: str, sha512: str | None = None) -> Callable[[Any], Any]:
    """Mark a test distribution 2.8 fails for ``DIFFERENCES[key]``.

    ``keys`` apply to every case; ``sha512`` only to the sha512 case of an ``alg`` test.
    """
    for key in (*keys, *([sha512] if sha512 else [])):
        assert key in DIFFERENCES, key

    def deco(f: Any) -> Any:
        f.distribution_differs = keys
        f.distribution_differs_sha512 = sha512
        return f

    return deco


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``target`` (and ``alg``) with strict xfails for distribution's gaps."""
    if "target" not in metafunc.fixturenames:
        return
    keys = tuple(getattr(metafunc.function, "distribution_differs", ()))
    sha512_key = getattr(metafunc.function, "distribution_differs_sha512", None)
    algs = ("sha256", "sha512") if "alg" in metafunc.fixturenames else (None,)
    params = []
    for target in ("hoist", "distribution"):
        for alg in algs:
            reasons = list(keys)
            if alg == "sha512" and sha512_key:
                reasons.append(sha512_key)
            marks = []
            if target == "distribution" and reasons:
                reason = "; ".join(DIFFERENCES[k] for k in reasons)
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            values = (target, alg) if alg else (target,)
            ident = f"{target}-{alg}" if alg else target
            params.append(pytest.param(*values, id=ident, marks=marks))
    names = ["target", "alg"] if algs != (None,) else ["target"]
    metafunc.parametrize(names, params, indirect=["target"])


# ---------------------------------------------------------------------- HTTP

# ---------------------------------------------------------------------- targets


class Target:
    """A registry under test with helpers for the usual steps."""

    def __init__(self, kind: str, url: str, http: Http) -> None:
        self.kind = kind
        self.url = url
        self.http = http

    def repo(self, hint: str = "conf") -> str:
        return unique_repo_name(hint)

    def push_blob(self, repo: str, data: bytes, alg: str = "sha256") -> str:
        """POST then PUT (the flow every registry supports); the digest."""
        d = digest(data, alg)
        r = self.http.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert r.status == 202, r.body
        location = self.http.path_of(r.headers["Location"])
        r = self.http.request(
            "PUT",
            with_query(location, f"digest={d}"),
            body=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status == 201, r.body
        return d

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str = OCI_MANIFEST) -> Resp:
        return self.http.request(
            "PUT", f"/v2/{repo}/manifests/{ref}", body=raw, headers={"Content-Type": media_type}
        )

    def push_image(
        self,
        repo: str,
        ref: str,
        alg: str = "sha256",
        *,
        extra: dict[str, Any] | None = None,
        config_type: str = OCI_CONFIG,
        config: bytes | None = None,
    ) -> tuple[bytes, str]:
        """A one-layer image with random content at ``ref``; (manifest bytes, digest)."""
        config = config if config is not None else dump({"n": secrets.token_hex(8)})
        layer = secrets.token_bytes(300)
        self.push_blob(repo, config, alg)
        self.push_blob(repo, layer, alg)
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(config_type, config, alg),
            "layers": [desc(OCI_LAYER, layer, alg)],
        }
        manifest.update(extra or {})
        raw = dump(manifest)
        mdigest = digest(raw, alg)
        r = self.put_manifest(repo, ref if ref else mdigest, raw)
        assert r.status == 201, r.body
        return raw, mdigest


@pytest.fixture(scope="module")
def hoist_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(tmp_path_factory.mktemp("hoist-conformance")) as server:
        yield server


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "hoist":
        server = request.getfixturevalue("hoist_server")
        return Target("hoist", server.url, Http(server.url))
    registry = request.getfixturevalue("registry_anon")
    return Target("distribution", registry.url, Http(registry.url))


# ---------------------------------------------------------------------- base


def test_base_endpoint(target: Target) -> None:
    r = target.http.get("/v2/")
    assert r.status == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert r.json() == {}


def test_errors_carry_api_version_and_json(target: Target) -> None:
    r = target.http.get(f"/v2/{target.repo()}/manifests/nope")
    assert_error(r, 404, "MANIFEST_UNKNOWN")
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


# ---------------------------------------------------------------------- push


@differs("single-post")
def test_push_single_post(target: Target, alg: str) -> None:
    repo, data = target.repo(), secrets.token_bytes(5000)
    d = digest(data, alg)
    r = target.http.request(
        "POST",
        f"/v2/{repo}/blobs/uploads/?digest={d}",
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status == 201, r.body
    assert r.headers["Docker-Content-Digest"] == d
    assert target.http.get(target.http.path_of(r.headers["Location"])).body == data


@differs(sha512="sha512-blob")
def test_push_post_then_put(target: Target, alg: str) -> None:
    repo, data = target.repo(), secrets.token_bytes(70_000)
    d = digest(data, alg)
    r = target.http.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert r.status == 202
    assert r.headers["Location"]
    assert r.headers["Docker-Upload-UUID"]
    assert r.headers["Range"] == "0-0"
    r = target.http.request(
        "PUT",
        with_query(target.http.path_of(r.headers["Location"]), f"digest={d}"),
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status == 201, r.body
    assert r.headers["Docker-Content-Digest"] == d
    location = target.http.path_of(r.headers["Location"])
    assert location.endswith(f"/blobs/{d}")
    got = target.http.get(location)
    assert got.status == 200
    assert got.body == data
    assert got.headers["Docker-Content-Digest"] == d


@differs("chunk-min")
def test_post_advertises_chunk_min_length(target: Target) -> None:
    r = target.http.request("POST", f"/v2/{target.repo()}/blobs/uploads/")
    assert r.status == 202
    assert int(r.headers["OCI-Chunk-Min-Length"]) > 0


def test_push_chunked(target: Target, alg: str) -> None:
    repo, data = target.repo(), secrets.token_bytes(3 * 65536 + 123)
    parts = [data[:65536], data[65536 : 2 * 65536], data[2 * 65536 :]]
    d = digest(data, alg)
    r = target.http.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    assert r.status == 202
    location = target.http.path_of(r.headers["Location"])
    offset = 0
    for part in parts[:2]:
        r = target.http.request(
            "PATCH",
            location,
            body=part,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(part) - 1}",
            },
        )
        assert r.status == 202, r.body
        offset += len(part)
        assert r.headers["Range"] == f"0-{offset - 1}"
        location = target.http.path_of(r.headers["Location"])
        status = target.http.get(location)
        assert status.status == 204
        assert status.headers["Range"] == f"0-{offset - 1}"
        location = target.http.path_of(status.headers["Location"])
    last = parts[2]
    r = target.http.request(
        "PUT",
        with_query(location, f"digest={d}"),
        body=last,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(last) - 1}",
        },
    )
    assert r.status == 201, r.body
    assert target.http.get(f"/v2/{repo}/blobs/{d}").body == data


def test_push_streamed(target: Target, alg: str) -> None:
    repo, data = target.repo(), secrets.token_bytes(300_000)
    d = digest(data, alg)
    r = target.http.request("POST", f"/v2/{repo}/blobs/uploads/")
    location = target.http.path_of(r.headers["Location"])
    # a PATCH with Content-Length but no Content-Range ...
    r = target.http.request(
        "PATCH", location, body=data[:100_000], headers={"Content-Type": "application/octet-stream"}
    )
    assert r.status == 202, r.body
    assert r.headers["Range"] == "0-99999"
    location = target.http.path_of(r.headers["Location"])

    # ... then a chunked-transfer PATCH of unknown length
    def gen() -> Iterator[bytes]:
        for i in range(100_000, len(data), 30_000):
            yield data[i : i + 30_000]

    r = target.http.request(
        "PATCH",
        location,
        body=gen(),
        chunked=True,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status == 202, r.body
    assert r.headers["Range"] == f"0-{len(data) - 1}"
    location = target.http.path_of(r.headers["Location"])
    r = target.http.request("PUT", with_query(location, f"digest={d}"))
    assert r.status == 201, r.body
    assert target.http.get(f"/v2/{repo}/blobs/{d}").body == data


@differs("chunk-order")
def test_out_of_order_chunk_is_416(target: Target) -> None:
    repo, data = target.repo(), secrets.token_bytes(2000)
    r = target.http.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    location = target.http.path_of(r.headers["Location"])
    r = target.http.request(
        "PATCH",
        location,
        body=data[1000:],
        headers={"Content-Type": "application/octet-stream", "Content-Range": "1000-1999"},
    )
    assert r.status == 416
    # the session survives: ask where it stands, then send the chunks in order
    status = target.http.get(location)
    assert status.status == 204
    assert status.headers["Range"] == "0-0"
    location = target.http.path_of(status.headers["Location"])
    r = target.http.request(
        "PATCH",
        location,
        body=data[:1000],
        headers={"Content-Type": "application/octet-stream", "Content-Range": "0-999"},
    )
    assert r.status == 202
    location = target.http.path_of(r.headers["Location"])
    r = target.http.request(
        "PUT",
        with_query(location, f"digest={digest(data)}"),
        body=data[1000:],
        headers={"Content-Type": "application/octet-stream", "Content-Range": "1000-1999"},
    )
    assert r.status == 201, r.body


def test_upload_status_and_cancel(target: Target) -> None:
    repo = target.repo()
    r = target.http.request("POST", f"/v2/{repo}/blobs/uploads/")
    location = target.http.path_of(r.headers["Location"])
    r = target.http.request("PATCH", location, body=b"x" * 10)
    location = target.http.path_of(r.headers["Location"])
    status = target.http.get(location)
    assert status.status == 204
    assert status.headers["Range"] == "0-9"
    assert status.headers["Location"]
    r = target.http.request("DELETE", location)
    assert r.status == 204
    assert_error(target.http.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(target.http.request("PATCH", location, body=b"y"), 404, "BLOB_UPLOAD_UNKNOWN")


@differs("upload-unknown")
def test_unknown_upload_is_404(target: Target) -> None:
    repo = target.repo()
    target.push_blob(repo, b"make the repository exist")
    r = target.http.get(f"/v2/{repo}/blobs/uploads/{uuid.uuid4()}")
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")


def test_put_with_wrong_digest_is_digest_invalid(target: Target, alg: str) -> None:
    repo, data = target.repo(), secrets.token_bytes(1000)
    wrong = digest(data + b"!", alg)
    r = target.http.request("POST", f"/v2/{repo}/blobs/uploads/")
    location = target.http.path_of(r.headers["Location"])
    r = target.http.request("PUT", with_query(location, f"digest={wrong}"), body=data)
    assert_error(r, 400, "DIGEST_INVALID")
    assert target.http.head(f"/v2/{repo}/blobs/{wrong}").status == 404


def test_malformed_digest_is_digest_invalid(target: Target) -> None:
    repo = target.repo()
    r = target.http.request("POST", f"/v2/{repo}/blobs/uploads/")
    location = target.http.path_of(r.headers["Location"])
    r = target.http.request("PUT", with_query(location, "digest=sha256:nothex"), body=b"abc")
    assert_error(r, 400, "DIGEST_INVALID")


@differs(sha512="sha512-blob")
def test_mount_from_another_repository(target: Target, alg: str) -> None:
    source, dest = target.repo("src"), target.repo("dst")
    data = secrets.token_bytes(4000)
    d = target.push_blob(source, data, alg)
    assert target.http.head(f"/v2/{dest}/blobs/{d}").status == 404
    r = target.http.request("POST", f"/v2/{dest}/blobs/uploads/?mount={d}&from={source}")
    assert r.status == 201, r.body
    assert r.headers["Docker-Content-Digest"] == d
    assert target.http.path_of(r.headers["Location"]).endswith(f"/v2/{dest}/blobs/{d}")
    assert target.http.get(f"/v2/{dest}/blobs/{d}").body == data


def test_mount_of_absent_blob_opens_a_session(target: Target) -> None:
    source, dest = target.repo("src"), target.repo("dst")
    target.push_blob(source, b"something else")
    absent = digest(secrets.token_bytes(64))
    r = target.http.request("POST", f"/v2/{dest}/blobs/uploads/?mount={absent}&from={source}")
    assert r.status == 202
    assert r.headers["Location"]


def test_blob_is_private_to_its_repository(target: Target) -> None:
    one, other = target.repo("one"), target.repo("other")
    d = target.push_blob(one, secrets.token_bytes(100))
    target.push_blob(other, b"other content")
    assert_error(target.http.get(f"/v2/{other}/blobs/{d}"), 404, "BLOB_UNKNOWN")


# ---------------------------------------------------------------------- pull


@differs(sha512="sha512-blob")
def test_blob_head_and_range(target: Target, alg: str) -> None:
    repo, data = target.repo(), secrets.token_bytes(1000)
    d = target.push_blob(repo, data, alg)
    head = target.http.head(f"/v2/{repo}/blobs/{d}")
    assert head.status == 200
    assert head.body == b""
    assert int(head.headers["Content-Length"]) == len(data)
    assert head.headers["Docker-Content-Digest"] == d
    part = target.http.get(f"/v2/{repo}/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert part.status == 206
    assert part.body == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"


@differs("range-416")
def test_blob_range_not_satisfiable(target: Target) -> None:
    repo, data = target.repo(), secrets.token_bytes(1000)
    d = target.push_blob(repo, data)
    beyond = target.http.get(f"/v2/{repo}/blobs/{d}", headers={"Range": "bytes=5000-"})
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"


@differs(sha512="sha512-manifest")
def test_manifest_push_and_pull(target: Target, alg: str) -> None:
    repo = target.repo()
    raw, d = target.push_image(repo, "v1" if alg == "sha256" else "", alg)
    refs = [d, "v1"] if alg == "sha256" else [d]
    for ref in refs:
        got = target.http.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert got.status == 200
        assert got.body == raw
        assert got.headers["Content-Type"] == OCI_MANIFEST
        assert got.headers["Docker-Content-Digest"] == d
        head = target.http.head(f"/v2/{repo}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert head.status == 200
        assert head.body == b""
        assert int(head.headers["Content-Length"]) == len(raw)
        assert head.headers["Docker-Content-Digest"] == d


def test_manifest_put_answers_location_and_digest(target: Target) -> None:
    repo = target.repo()
    config = dump({"a": 1})
    target.push_blob(repo, config)
    raw = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, config),
            "layers": [],
        }
    )
    r = target.put_manifest(repo, "latest", raw)
    assert r.status == 201
    assert r.headers["Docker-Content-Digest"] == digest(raw)
    assert target.http.get(target.http.path_of(r.headers["Location"]), headers=ACCEPT).body == raw


def test_manifest_with_unknown_blob(target: Target) -> None:
    repo = target.repo()
    config = dump({"a": 2})
    target.push_blob(repo, config)
    raw = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, config),
            "layers": [desc(OCI_LAYER, secrets.token_bytes(10))],
        }
    )
    assert_error(target.put_manifest(repo, "v1", raw), 400, "MANIFEST_BLOB_UNKNOWN")


def test_index_with_unknown_child(target: Target) -> None:
    repo = target.repo()
    target.push_image(repo, "present")
    child = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, b"{}"),
            "layers": [],
        }
    )
    raw = dump(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc(OCI_MANIFEST, child)]}
    )
    assert_error(target.put_manifest(repo, "idx", raw, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN")


def test_index_push_and_pull(target: Target) -> None:
    repo = target.repo()
    raw1, d1 = target.push_image(repo, "")
    raw2, d2 = target.push_image(repo, "")
    index = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": d1,
                    "size": len(raw1),
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": d2,
                    "size": len(raw2),
                    "platform": {"os": "linux", "architecture": "arm64"},
                },
            ],
        }
    )
    r = target.put_manifest(repo, "multi", index, OCI_INDEX)
    assert r.status == 201, r.body
    got = target.http.get(f"/v2/{repo}/manifests/multi", headers={"Accept": OCI_INDEX})
    assert got.body == index
    assert got.headers["Content-Type"] == OCI_INDEX


def test_invalid_manifest(target: Target) -> None:
    repo = target.repo()
    target.push_blob(repo, b"exists")
    r = target.put_manifest(
        repo, "bad", b'{"schemaVersion": 2, "mediaType": "' + OCI_MANIFEST.encode() + b'"'
    )
    assert_error(r, 400, "MANIFEST_INVALID")


def test_manifest_media_type_must_match_content_type(target: Target) -> None:
    repo = target.repo()
    config = dump({"a": 3})
    target.push_blob(repo, config)
    raw = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, config),
            "layers": [],
        }
    )
    assert_error(target.put_manifest(repo, "v1", raw, DOCKER_MANIFEST), 400, "MANIFEST_INVALID")


def test_manifest_put_by_wrong_digest(target: Target) -> None:
    repo = target.repo()
    config = dump({"a": 4})
    target.push_blob(repo, config)
    raw = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, config),
            "layers": [],
        }
    )
    assert_error(target.put_manifest(repo, digest(raw + b" "), raw), 400, "DIGEST_INVALID")


@differs("size-check")
def test_manifest_descriptor_size_must_match(target: Target) -> None:
    repo = target.repo()
    config = dump({"a": 5})
    target.push_blob(repo, config)
    bad = {**desc(OCI_CONFIG, config), "size": len(config) + 1}
    raw = dump({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": bad, "layers": []})
    assert_error(target.put_manifest(repo, "v1", raw), 400, "MANIFEST_INVALID")


@differs("too-large")
def test_manifest_over_4mib_is_413(target: Target) -> None:
    repo = target.repo()
    config = dump({"a": 6})
    target.push_blob(repo, config)
    raw = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": desc(OCI_CONFIG, config),
            "layers": [],
            "annotations": {"padding": "x" * (4 * 1024 * 1024)},
        }
    )
    r = target.put_manifest(repo, "huge", raw)
    assert r.status == 413


def test_unknown_manifest_is_404(target: Target) -> None:
    repo = target.repo()
    target.push_image(repo, "v1")
    assert_error(
        target.http.get(f"/v2/{repo}/manifests/v2", headers=ACCEPT), 404, "MANIFEST_UNKNOWN"
    )
    missing = digest(b"no such manifest")
    assert_error(
        target.http.get(f"/v2/{repo}/manifests/{missing}", headers=ACCEPT), 404, "MANIFEST_UNKNOWN"
    )
    assert target.http.head(f"/v2/{repo}/manifests/{missing}", headers=ACCEPT).status == 404


def test_nested_repository_names(target: Target) -> None:
    # components that look like endpoints must not confuse routing
    repo = f"{target.repo()}/manifests/blobs/tags/referrers/x"
    raw, _d = target.push_image(repo, "v1")
    assert target.http.get(f"/v2/{repo}/manifests/v1", headers=ACCEPT).body == raw
    assert target.http.get(f"/v2/{repo}/tags/list").json() == {"name": repo, "tags": ["v1"]}


@differs("name-invalid")
def test_invalid_repository_name(target: Target) -> None:
    assert_error(target.http.get("/v2/Upper/Case/tags/list"), 400, "NAME_INVALID")


# ---------------------------------------------------------------------- content discovery


def _tag_all(target: Target, repo: str, tags: list[str]) -> None:
    raw, _ = target.push_image(repo, tags[0])
    for tag in tags[1:]:
        assert target.put_manifest(repo, tag, raw).status == 201


@differs("tags-order")
def test_tags_list_and_pagination(target: Target) -> None:
    repo = target.repo()
    tags = ["t3", "t0", "t4", "t1", "t2"]
    _tag_all(target, repo, tags)
    r = target.http.get(f"/v2/{repo}/tags/list")
    assert r.status == 200
    assert r.json() == {"name": repo, "tags": sorted(tags)}
    r = target.http.get(f"/v2/{repo}/tags/list?n=2")
    assert r.json()["tags"] == ["t0", "t1"]
    link = r.headers["Link"]
    assert link.endswith('; rel="next"')
    nxt = link.split(";")[0].strip("<>")
    assert "last=t1" in nxt and "n=2" in nxt
    r = target.http.get(target.http.path_of(nxt))
    assert r.json()["tags"] == ["t2", "t3"]
    r = target.http.get(f"/v2/{repo}/tags/list?n=2&last=t3")
    assert r.json()["tags"] == ["t4"]
    assert "Link" not in r.headers
    r = target.http.get(f"/v2/{repo}/tags/list?last=t2")
    assert r.json()["tags"] == ["t3", "t4"]


@differs("n-zero")
def test_tags_list_n_zero(target: Target) -> None:
    repo = target.repo()
    _tag_all(target, repo, ["a", "b"])
    r = target.http.get(f"/v2/{repo}/tags/list?n=0")
    assert r.status == 200
    assert r.json()["tags"] in ([], None)
    assert "Link" not in r.headers


def test_tags_list_of_unknown_repository(target: Target) -> None:
    assert_error(target.http.get(f"/v2/{target.repo()}/tags/list"), 404, "NAME_UNKNOWN")


def test_catalog_pagination(target: Target) -> None:
    prefix = f"cat{secrets.token_hex(4)}"
    repos = [f"{prefix}/r{i}" for i in range(3)]
    for repo in repos:
        target.push_image(repo, "v1")
    r = target.http.get(f"/v2/_catalog?n=2&last={prefix}")
    assert r.status == 200
    assert r.json()["repositories"] == repos[:2]
    link = r.headers["Link"]
    assert link.endswith('; rel="next"')
    r = target.http.get(target.http.path_of(link.split(";")[0].strip("<>")))
    assert r.json()["repositories"][0] == repos[2]


def _artifact(
    target: Target, repo: str, subject: tuple[bytes, str], artifact_type: str, alg: str
) -> tuple[bytes, str]:
    """A referrer of ``subject``: artifactType, empty config, one layer, annotations."""
    layer = secrets.token_bytes(50)
    target.push_blob(repo, b"{}", alg)
    target.push_blob(repo, layer, alg)
    raw = dump(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": desc(OCI_EMPTY, b"{}", alg),
            "layers": [desc("text/plain", layer, alg)],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject[1], "size": len(subject[0])},
            "annotations": {"org.example.kind": artifact_type},
        }
    )
    return raw, digest(raw, alg)


@differs("referrers", sha512="sha512-manifest")
def test_referrers(target: Target, alg: str) -> None:
    repo = target.repo()
    subject = target.push_image(repo, "v1" if alg == "sha256" else "", alg)
    sbom = _artifact(target, repo, subject, "application/vnd.example.sbom", alg)
    r = target.put_manifest(repo, sbom[1], sbom[0])
    assert r.status == 201, r.body
    assert r.headers["OCI-Subject"] == subject[1]
    # a referrer without artifactType lists its config media type instead
    config = dump({"signed": True})
    sig_raw, sig_digest = target.push_image(
        repo,
        "",
        alg,
        config=config,
        config_type="application/vnd.example.sig.config",
        extra={
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject[1], "size": len(subject[0])}
        },
    )
    r = target.http.get(f"/v2/{repo}/referrers/{subject[1]}")
    assert r.status == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == OCI_INDEX
    found = {m["digest"]: m for m in index["manifests"]}
    assert found[sbom[1]] == {
        "mediaType": OCI_MANIFEST,
        "digest": sbom[1],
        "size": len(sbom[0]),
        "artifactType": "application/vnd.example.sbom",
        "annotations": {"org.example.kind": "application/vnd.example.sbom"},
    }
    assert found[sig_digest]["artifactType"] == "application/vnd.example.sig.config"
    assert found[sig_digest]["size"] == len(sig_raw)
    assert len(found) == 2


@differs("referrers")
def test_referrers_artifact_type_filter(target: Target) -> None:
    repo = target.repo()
    subject = target.push_image(repo, "v1")
    for kind in ("application/vnd.example.a", "application/vnd.example.b"):
        raw, d = _artifact(target, repo, subject, kind, "sha256")
        assert target.put_manifest(repo, d, raw).status == 201
    r = target.http.get(f"/v2/{repo}/referrers/{subject[1]}?artifactType=application/vnd.example.b")
    assert r.status == 200
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["artifactType"] for m in r.json()["manifests"]] == ["application/vnd.example.b"]
    r = target.http.get(f"/v2/{repo}/referrers/{subject[1]}")
    assert "OCI-Filters-Applied" not in r.headers
    assert len(r.json()["manifests"]) == 2


@differs("referrers")
def test_referrers_of_missing_subject(target: Target) -> None:
    repo = target.repo()
    missing = digest(b"nobody pushed this")
    for name in (repo, target.repo("never-pushed")):
        r = target.http.get(f"/v2/{name}/referrers/{missing}")
        assert r.status == 200
        assert r.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


@differs("referrers")
def test_referrers_bad_digest_is_400(target: Target) -> None:
    assert target.http.get(f"/v2/{target.repo()}/referrers/sha256:xyz").status == 400


def test_referrer_accepted_before_its_subject(target: Target) -> None:
    repo = target.repo()
    ghost = (b"{}", digest(b"the subject comes later"))
    raw, d = _artifact(target, repo, ghost, "application/vnd.example.early", "sha256")
    r = target.put_manifest(repo, d, raw)
    assert r.status == 201, r.body
    assert target.http.get(f"/v2/{repo}/manifests/{d}", headers=ACCEPT).body == raw


# ---------------------------------------------------------------------- content management


@differs(sha512="sha512-manifest")
def test_delete_manifest_by_digest(target: Target, alg: str) -> None:
    repo = target.repo()
    _raw, d = target.push_image(repo, "v1" if alg == "sha256" else "", alg)
    r = target.http.request("DELETE", f"/v2/{repo}/manifests/{d}")
    assert r.status == 202, r.body
    assert_error(
        target.http.get(f"/v2/{repo}/manifests/{d}", headers=ACCEPT), 404, "MANIFEST_UNKNOWN"
    )
    if alg == "sha256":
        assert target.http.get(f"/v2/{repo}/manifests/v1", headers=ACCEPT).status == 404
    assert target.http.request("DELETE", f"/v2/{repo}/manifests/{d}").status == 404


@differs("tag-delete")
def test_delete_tag(target: Target) -> None:
    repo = target.repo()
    raw, d = target.push_image(repo, "keep")
    assert target.put_manifest(repo, "drop", raw).status == 201
    r = target.http.request("DELETE", f"/v2/{repo}/manifests/drop")
    assert r.status == 202, r.body
    assert target.http.get(f"/v2/{repo}/manifests/drop", headers=ACCEPT).status == 404
    assert target.http.get(f"/v2/{repo}/manifests/keep", headers=ACCEPT).body == raw
    assert target.http.get(f"/v2/{repo}/manifests/{d}", headers=ACCEPT).body == raw
    assert target.http.get(f"/v2/{repo}/tags/list").json()["tags"] == ["keep"]


def test_delete_blob(target: Target, alg: str) -> None:
    repo = target.repo()
    d = target.push_blob(repo, secrets.token_bytes(100), alg)
    r = target.http.request("DELETE", f"/v2/{repo}/blobs/{d}")
    assert r.status == 202, r.body
    assert_error(target.http.get(f"/v2/{repo}/blobs/{d}"), 404, "BLOB_UNKNOWN")
    assert_error(target.http.request("DELETE", f"/v2/{repo}/blobs/{d}"), 404, "BLOB_UNKNOWN")


@differs("referrers")
def test_deleted_referrer_leaves_the_list(target: Target) -> None:
    repo = target.repo()
    subject = target.push_image(repo, "v1")
    raw, d = _artifact(target, repo, subject, "application/vnd.example.gone", "sha256")
    assert target.put_manifest(repo, d, raw).status == 201
    assert len(target.http.get(f"/v2/{repo}/referrers/{subject[1]}").json()["manifests"]) == 1
    assert target.http.request("DELETE", f"/v2/{repo}/manifests/{d}").status == 202
    assert target.http.get(f"/v2/{repo}/referrers/{subject[1]}").json()["manifests"] == []
