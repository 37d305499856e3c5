"""Small images for the sync tests: many tags quickly, shared layers, chosen created times,
and the registries' own access logs to count requests by."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hoist.client import Client
from hoist.config.settings import RegistrySettings
from hoist.model import mediatype as mt
from hoist.model.config import History, ImageConfig
from hoist.model.descriptor import Descriptor
from hoist.model.manifest import ImageManifest
from hoist.model.reference import Reference
from hoist.store.base import Store
from hoist.testing.sample import Layer, SampleImage, make_layer, write_image
from support.registry_fixtures import RegistryServer, StaticCredentials

CREATED = "2024-01-01T00:00:00Z"
SHARED = make_layer({"base/": None, "base/os-release": b"NAME=sync-test\n"})
"""A layer every image made here shares (unless told otherwise)."""


def image(
    n: int | str,
    *,
    created: str = CREATED,
    shared: Sequence[Layer] = (SHARED,),
    size: int = 0,
) -> SampleImage:
    """A one-platform image: the shared layers, then one of its own (``size`` extra random
    bytes make it bigger), a config with ``created``."""
    import random

    extra = random.Random(str(n)).randbytes(size) if size else b""
    own = make_layer({"app/": None, f"app/{n}": f"image {n}\n".encode() + extra})
    layers = [*shared, own]
    config = ImageConfig.build(
        architecture="amd64",
        os="linux",
        diff_ids=[layer.diff_id for layer in layers],
        history=[History(created=created, created_by=f"layer {i}") for i in range(len(layers))],
        config={"Labels": {"n": str(n)}},
        created=created,
    )
    config_desc = Descriptor.of(mt.OCI_CONFIG, config.raw)
    manifest = ImageManifest.build(config_desc, [layer.descriptor for layer in layers])
    blobs = {config_desc.digest: config.raw}
    blobs.update({layer.descriptor.digest: layer.blob for layer in layers})
    return SampleImage(blobs, [], manifest)


def registry_client(*servers: Any, **options: Any) -> Client:
    """A client for the test registries: plain HTTP, their logins, quick retries."""
    logins = {s.host: (s.username, s.password) for s in servers if getattr(s, "username", None)}
    settings = {s.host: RegistrySettings(tls="disabled") for s in servers}
    return Client(
        credentials=StaticCredentials(logins),
        settings=settings,
        backoff=0.01,
        retry_time=10.0,
        **options,
    )


def push(store: Store, host: str, repository: str, images: Mapping[str, SampleImage]) -> None:
    """Tag each image under its tag in ``host/repository``."""
    for tag, sample in images.items():
        write_image(store, Reference(host, repository, tag), sample)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    agent: str


_LINE = re.compile(
    r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"'
)


class AccessLog:
    """The requests a test registry logged (its access log), from a mark on."""

    def __init__(self, server: RegistryServer) -> None:
        self.path: Path = server.log_path
        self.offset = 0
        self.mark()

    def mark(self) -> None:
        """Count from here on."""
        time.sleep(0.05)
        self.offset = self.path.stat().st_size

    def requests(self, under: str | None = None) -> list[Request]:
        """Requests since the mark (those whose path starts with ``/v2/<under>/`` when given)."""
        time.sleep(0.05)  # the registry writes its log line after the answer
        with self.path.open("rb") as f:
            f.seek(self.offset)
            text = f.read().decode(errors="replace")
        out = []
        for m in _LINE.finditer(text):
            path = m.group(2)
            if under is not None and not path.startswith(f"/v2/{under}/"):
                continue
            out.append(Request(m.group(1), path, int(m.group(3)), m.group(4)))
        return out


def count(requests: Iterable[Request], method: str, kind: str | None = None) -> int:
    """How many of ``requests`` were ``method`` (on ``manifests``, ``blobs``, ``tags``)."""
    return sum(
        1 for r in requests if r.method == method and (kind is None or f"/{kind}/" in r.path)
    )
