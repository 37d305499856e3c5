"""A hostile fake registry for client tests: an in-memory registry that lies on request.

It speaks enough of the distribution API for hoist's registry store (manifests and blobs by
GET/HEAD/PUT, uploads, mounts, tags, the catalog, referrers) over :class:`FakeServer`, and
holds one small image in repository ``app`` (tag ``v1``; ``many`` is an index listing that
image's manifest :attr:`Attacks.index_repeats` times). :class:`Attacks` turns on the lies::

    with HostileRegistry(Attacks(endless={"tags"})) as reg:
        with pytest.raises(InvalidInput):
            reg.store.tag_list(reg.ref())
        assert reg.sent["tags"] < 70 << 20

Every attack is a behaviour a real registry could show: digests and sizes that lie, 401 for
ever, bodies that never end (streamed in chunks until the client hangs up), tag pages whose
``Link`` never ends, and any body swapped for given bytes (JSON bombs). ``sent`` counts the
bytes each endless body got out; ``server.requests()`` lists what the client asked.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

from hoist.config.settings import RegistrySettings
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.digest import digest_of
from hoist.model.manifest import Index, Manifest
from hoist.model.platform import Platform
from hoist.model.reference import Reference
from hoist.store.registry import RegistryStore
from hoist.testing.sample import base_image
from support.fake_http import FakeServer, Request

__all__ = ["ENDLESS_LIMIT", "Attacks", "HostileRegistry"]

ENDLESS_LIMIT = 256 << 20
"""An endless body stops after this many bytes (so a client without a cap still ends)."""
_CHUNK = 64 * 1024

KINDS = frozenset({"manifest", "blob", "tags", "catalog", "referrers", "upload", "error"})
"""What an attack can aim at: manifest and blob GETs, tag and catalog pages, the referrers
list, upload replies (POST, PATCH, PUT) and error answers."""


@dataclass(frozen=True)
class Attacks:
    """The lies a :class:`HostileRegistry` tells; the default tells none."""

    manifest_digest_lie: bool = False
    """Answer manifests with a ``Docker-Content-Digest`` of other bytes."""
    blob_digest_lie: bool = False
    """Serve blobs with one byte changed (size kept)."""
    blob_size_lie: int = 0
    """Serve blobs with this many bytes more than their descriptors say."""
    unauthorized: bool = False
    """Answer every request 401 with a bearer challenge, also once a token is sent."""
    endless: frozenset[str] | set[str] = frozenset()
    """Kinds (see :data:`KINDS`) whose bodies never end."""
    endless_pages: int = 0
    """With n > 0, every tags page holds one tag of n characters and a ``Link`` to another."""
    bodies: Mapping[str, bytes] = field(default_factory=dict)
    """Kinds whose bodies are these bytes instead (error: every error answer's body)."""
    index_repeats: int = 3
    """How many times index ``many`` lists the image's manifest."""

    def __post_init__(self) -> None:
        unknown = (set(self.endless) | set(self.bodies)) - KINDS
        assert not unknown, f"unknown kinds {unknown}"


_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_UPLOAD = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<id>[^/]*)$")
_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_REFERRERS = re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$")


class HostileRegistry:
    """The fake registry on 127.0.0.1, with ``store`` (a RegistryStore reaching it over plain
    http) and ``ref``/``at`` for references and locations in it. Use it with ``with``."""

    def __init__(self, attacks: Attacks | None = None) -> None:
        self.attacks = attacks or Attacks()
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, dict[str, tuple[str, bytes]]] = {}
        self.uploads: dict[str, bytearray] = {}
        self.sent: Counter[str] = Counter()
        self._lock = threading.Lock()
        image = base_image([Platform("linux", "amd64")])
        for digest, blob in image.blobs.items():
            self.blobs[str(digest)] = blob
        child = image.children[0] if image.children else image.top
        self.image = child
        many = Index.build([child.descriptor()] * self.attacks.index_repeats)
        self.index = many
        self.add(child, "v1")
        self.add(many, "many")
        self.server = FakeServer(self._handle, ping=False)
        self.host = self.server.host
        self.store = RegistryStore(
            credentials=None,
            settings={self.host: RegistrySettings("disabled")},
            backoff=0.01,
            retries=1,
        )

    # -- for tests ---------------------------------------------------------------------------

    def ref(self, tag: str | None = "v1", repository: str = "app") -> Reference:
        return Reference(self.host, repository, tag)

    def at(self, tag: str | None = "v1", repository: str = "app") -> Location:
        return Location(self.store, self.ref(tag, repository))

    def add(self, manifest: Manifest, tag: str | None = None, repository: str = "app") -> None:
        """Serve ``manifest`` (by digest, and by ``tag``) in ``repository``."""
        for ref in (str(manifest.digest), tag):
            if ref is not None:
                self._put_manifest(repository, ref, manifest.media_type, manifest.raw)

    def count(self, method: str, path: str) -> int:
        """Requests received for ``method path`` (pings excluded)."""
        return sum(1 for s in self.server.requests(path) if s.method == method)

    def close(self) -> None:
        self.store.close()
        self.server.close()

    def __enter__(self) -> HostileRegistry:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- answering ---------------------------------------------------------------------------

    def _put_manifest(self, repo: str, ref: str, media_type: str, raw: bytes) -> None:
        with self._lock:
            self.manifests.setdefault(repo, {})[ref] = (media_type, raw)

    def _handle(self, req: Request) -> None:
        a = self.attacks
        if req.path == "/token":
            req.reply(200, {"token": "t", "expires_in": 300})
            return
        if a.unauthorized:
            challenge = f'Bearer realm="http://{self.host}/token",service="hostile"'
            self._error(req, 401, "UNAUTHORIZED", "authentication required", challenge)
            return
        if req.path == "/v2/":
            req.reply(200, {})
            return
        if req.path == "/v2/_catalog":
            self._json(req, "catalog", {"repositories": sorted(self.manifests)})
            return
        for pattern, answer in (
            (_TAGS, self._tags),
            (_REFERRERS, self._referrers),
            (_MANIFEST, self._manifest),
            (_UPLOAD, self._upload),
            (_BLOB, self._blob),
        ):
            m = pattern.match(req.path)
            if m:
                answer(req, **m.groupdict())
                return
        self._error(req, 404, "UNSUPPORTED", "no such route")

    def _error(
        self, req: Request, status: int, code: str, message: str, challenge: str | None = None
    ) -> None:
        headers = {"WWW-Authenticate": challenge} if challenge else {}
        if "error" in self.attacks.endless:
            self._endless(req, "error", status, headers)
        elif "error" in self.attacks.bodies:
            req.reply(status, self.attacks.bodies["error"], headers)
        else:
            req.error(status, code, message, **headers)

    def _json(
        self,
        req: Request,
        kind: str,
        body: object,
        headers: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> None:
        headers = {"Content-Type": "application/json", **(headers or {})}
        if kind in self.attacks.endless:
            self._endless(req, kind, status, headers)
        elif kind in self.attacks.bodies:
            req.reply(status, self.attacks.bodies[kind], headers)
        else:
            req.reply(status, json.dumps(body).encode(), headers)

    def _endless(
        self, req: Request, kind: str, status: int, headers: Mapping[str, str] | None = None
    ) -> None:
        """A chunked body that goes on until the client hangs up (or ENDLESS_LIMIT)."""
        if req.method == "HEAD":
            req.reply(status, b"", headers)
            return
        h = req.handler
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"%x\r\n" % _CHUNK + b'["' * (_CHUNK // 2) + b"\r\n"
        try:
            while self.sent[kind] < ENDLESS_LIMIT:
                h.wfile.write(chunk)
                with self._lock:
                    self.sent[kind] += _CHUNK
        except OSError:
            pass
        h.close_connection = True

    def _tags(self, req: Request, name: str) -> None:
        n = self.attacks.endless_pages
        if n:
            page = int(dict(req.seen.query).get("page", "0"))
            link = f'</v2/{name}/tags/list?page={page + 1}>; rel="next"'
            self._json(req, "tags", {"name": name, "tags": [f"{page}-" + "t" * n]}, {"Link": link})
            return
        with self._lock:
            tags = sorted(r for r in self.manifests.get(name, {}) if ":" not in r)
        self._json(req, "tags", {"name": name, "tags": tags})

    def _referrers(self, req: Request, name: str, digest: str) -> None:
        kind = "referrers"
        if kind in self.attacks.endless or kind in self.attacks.bodies:
            self._json(req, kind, {}, {"Content-Type": mt.OCI_INDEX})
            return
        self._error(req, 404, "UNSUPPORTED", "no referrers API")

    def _manifest(self, req: Request, name: str, ref: str) -> None:
        if req.method == "PUT":
            raw = req.seen.body
            digest = str(digest_of(raw))
            media_type = req.header("Content-Type") or mt.OCI_MANIFEST
            with self._lock:
                known = set(self.manifests.get(name, {}))
            children = {str(c.get("digest")) for c in json.loads(raw).get("manifests") or []}
            if children - known:  # as distribution: an index's children must be there first
                self._error(req, 400, "MANIFEST_BLOB_UNKNOWN", "an index child is missing")
                return
            self._put_manifest(name, digest, media_type, raw)
            if ref != digest:
                self._put_manifest(name, ref, media_type, raw)
            self._reply_upload(req, 201, {"Docker-Content-Digest": digest})
            return
        with self._lock:
            found = self.manifests.get(name, {}).get(ref)
        if found is None:
            self._error(req, 404, "MANIFEST_UNKNOWN", "manifest unknown")
            return
        media_type, raw = found
        served = digest_of(b"a lie" if self.attacks.manifest_digest_lie else raw)
        headers = {"Content-Type": media_type, "Docker-Content-Digest": str(served)}
        if req.method == "GET" and "manifest" in self.attacks.endless:
            self._endless(req, "manifest", 200, headers)
            return
        req.reply(200, raw, headers)

    def _blob(self, req: Request, name: str, digest: str) -> None:
        with self._lock:
            data = self.blobs.get(digest)
        if data is None:
            self._error(req, 404, "BLOB_UNKNOWN", "blob unknown")
            return
        if req.method == "GET" and "blob" in self.attacks.endless:
            self._endless(req, "blob", 200)
            return
        if self.attacks.blob_digest_lie and req.method == "GET":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        data += b"\0" * self.attacks.blob_size_lie
        req.reply(200, data, {"Docker-Content-Digest": digest})

    def _upload(self, req: Request, name: str, id: str) -> None:
        query = dict(req.seen.query)
        if req.method == "POST":
            mount = query.get("mount")
            if mount is not None:
                with self._lock:
                    present = mount in self.blobs
                if present:
                    self._reply_upload(req, 201, {"Docker-Content-Digest": mount})
                    return
            session = uuid.uuid4().hex
            with self._lock:
                self.uploads[session] = bytearray()
            self._reply_upload(req, 202, {"Location": f"/v2/{name}/blobs/uploads/{session}"})
            return
        with self._lock:
            buffer = self.uploads.get(id)
        if buffer is None:
            self._error(req, 404, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
            return
        if req.method == "DELETE":
            with self._lock:
                self.uploads.pop(id, None)
            req.reply(204)
            return
        buffer.extend(req.seen.body)
        location = {"Location": f"/v2/{name}/blobs/uploads/{id}"}
        if req.method == "PATCH":
            self._reply_upload(req, 202, {**location, "Range": f"0-{max(len(buffer) - 1, 0)}"})
            return
        digest = query.get("digest", "")
        if digest != str(digest_of(bytes(buffer))):
            self._error(req, 400, "DIGEST_INVALID", "digest does not match")
            return
        with self._lock:
            self.blobs[digest] = bytes(buffer)
            self.uploads.pop(id, None)
        self._reply_upload(req, 201, {"Docker-Content-Digest": digest})

    def _reply_upload(self, req: Request, status: int, headers: Mapping[str, str]) -> None:
        if "upload" in self.attacks.endless:
            self._endless(req, "upload", status, headers)
        elif "upload" in self.attacks.bodies:
            req.reply(status, self.attacks.bodies["upload"], headers)
        else:
            req.reply(status, b"", headers)
