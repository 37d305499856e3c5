"""A ``hoist serve`` with its web view and sample content, pushed with hoist's own library.

``populate(host)`` pushes (over HTTP, like any client):

* ``demo/base:v1``: the sample two-platform base (index: linux/amd64, linux/arm64/v8),
* ``demo/app:v1`` and ``demo/app:stable``: the sample app on it (shares the base layer),
  with an SBOM referrer, a signature of that SBOM (a referrer of a referrer) and a
  cosign-style ``sha256-<hex>.sig`` digest tag,
* ``mirror/base:v1``: the base again in another repository (its blobs stored once),
* ``many/tags``: 250 tags on 250 distinct images (semver tags, ``latest``, ``main``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hoist.config.credentials import Credentials
from hoist.config.settings import RegistrySettings
from hoist.model.config import History
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
from hoist.model.manifest import ImageManifest, Index
from hoist.model.platform import Platform
from hoist.model.reference import Reference
from hoist.store.registry import RegistryStore
from hoist.testing.sample import (
    SampleImage,
    app_image,
    base_image,
    build_image,
    make_layer,
    write_image,
)

SBOM_TYPE = "application/spdx+json"
SIGNATURE_TYPE = "application/vnd.example.signature"
MANY = "many/tags"
MANY_COUNT = 250


def many_tags() -> list[str]:
    """250 tag names: semver-ish versions, pre-releases and plain names."""
    tags = [f"{i // 50}.{(i // 10) % 5}.{i % 10}" for i in range(244)]
    return [*tags, "latest", "main", "5.0.0-rc.1", "5.0.0-rc.2", "v0.10.0", "5.0.0"]


@dataclass
class Pushed:
    """What :func:`populate` pushed: the manifests, for checking pages against them."""

    host: str
    base: Index
    base_children: list[ImageManifest]
    app: ImageManifest
    sbom: ImageManifest
    signature: ImageManifest
    cosign: ImageManifest
    blobs: dict[str, bytes] = field(default_factory=dict)
    """Every blob pushed (configs and layers), by digest text."""
    many: dict[str, ImageManifest] = field(default_factory=dict)

    @property
    def cosign_tag(self) -> str:
        return f"sha256-{self.app.digest.hex}.sig"


def store_for(host: str, username: str | None = None, password: str | None = None) -> RegistryStore:
    """A registry store reaching ``host`` over plain HTTP, logged in when a user is given."""
    creds = None
    if username is not None:
        creds = _Static(Credentials(username=username, password=password or ""))
    return RegistryStore(credentials=creds, settings={host: RegistrySettings(tls="disabled")})


class _Static:
    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def get(self, host: str) -> Credentials | None:
        return self.credentials


def _artifact(
    store: RegistryStore, ref: Reference, artifact_type: str, content: bytes, subject: Descriptor
) -> ImageManifest:
    store.blob_put(ref, b"{}")
    blob = Descriptor.of(artifact_type, content)
    store.blob_put(ref, content)
    manifest = ImageManifest.build(
        EMPTY_DESCRIPTOR, [blob], artifact_type=artifact_type, subject=subject
    )
    store.manifest_put(ref.by_digest(manifest.digest), manifest)
    return manifest


def populate(host: str, *, many: bool = True, store: RegistryStore | None = None) -> Pushed:
    """Push the sample content to the registry at ``host`` (see the module docstring)."""
    store = store or store_for(host)
    base = base_image([Platform("linux", "amd64"), Platform("linux", "arm64", "v8")])
    app = app_image(base, Platform("linux", "amd64"))
    write_image(store, Reference(host, "demo/base", "v1"), base)
    app_ref = Reference(host, "demo/app", "v1")
    app_desc = write_image(store, app_ref, app)
    store.manifest_put(app_ref.with_tag("stable"), app.top)
    write_image(store, Reference(host, "mirror/base", "v1"), base)
    sbom = _artifact(store, app_ref, SBOM_TYPE, b'{"spdxVersion":"SPDX-2.3"}', app_desc)
    signature = _artifact(store, app_ref, SIGNATURE_TYPE, b"signed: sbom", sbom.descriptor())
    store.blob_put(app_ref, b"cosign signature")
    cosign = ImageManifest.build(
        EMPTY_DESCRIPTOR,
        [Descriptor.of("application/vnd.dev.cosign.simplesigning.v1+json", b"cosign signature")],
    )
    store.manifest_put(app_ref.with_tag(f"sha256-{app_desc.digest.hex}.sig"), cosign)
    assert isinstance(base.top, Index) and isinstance(app.top, ImageManifest)
    pushed = Pushed(host, base.top, list(base.children), app.top, sbom, signature, cosign)
    pushed.blobs.update({str(d): b for d, b in base.blobs.items()})
    pushed.blobs.update({str(d): b for d, b in app.blobs.items()})
    if many:
        shared = make_layer({"srv/": None, "srv/data": b"the layer every version shares\n"})
        amd64 = Platform("linux", "amd64")
        for n, tag in enumerate(many_tags()):
            own = make_layer({"srv/VERSION": f"{tag}\n".encode()})
            manifest, blobs = build_image(
                [shared, own],
                [History(created_by="COPY data /srv/"), History(created_by=f"RUN echo {tag}")],
                platform=amd64,
                config={"Labels": {"version": tag, "n": str(n)}},
            )
            write_image(store, Reference(host, MANY, tag), SampleImage(blobs, [], manifest))
            pushed.many[tag] = manifest
    return pushed
