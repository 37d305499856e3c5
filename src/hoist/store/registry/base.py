"""What every part of the registry store shares: the transport, scopes, paths, 404s."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from hoist.errors import BlobNotFound, ManifestNotFound, NotFound, RegistryError, Unsupported
from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest
from hoist.model.reference import ImageRef, Reference

if TYPE_CHECKING:
    from hoist.transport.http import Transport

__all__ = ["RegistryBase", "registry_ref"]

MANIFEST_NOT_FOUND = {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "HTTP 404"}
BLOB_NOT_FOUND = {"BLOB_UNKNOWN", "NAME_UNKNOWN", "HTTP 404"}


def registry_ref(ref: ImageRef) -> Reference:
    """``ref`` as a registry reference (Unsupported for layouts and archives)."""
    if not isinstance(ref, Reference):
        raise Unsupported(f"{ref} is not a registry reference")
    return ref


class RegistryBase:
    """The transport and the helpers the registry store's parts share (options: see
    :class:`hoist.store.registry.store.RegistryStore`)."""

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        chunk_size: int | None = None,
        **transport_options: Any,
    ) -> None:
        if transport is None:
            from hoist.transport.http import Transport

            if "credentials" not in transport_options:
                from hoist.config.credentials import CredentialStore

                transport_options["credentials"] = CredentialStore()
            if "settings" not in transport_options:
                from hoist.config.settings import load_config

                transport_options["settings"] = load_config().registry
            transport = Transport(**transport_options)
        self.transport = transport
        self.chunk_size = chunk_size
        self._referrers_api: dict[str, bool] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _scope(ref: Reference, actions: str = "pull") -> list[str]:
        return [f"repository:{ref.repository}:{actions}"]

    def _path(self, ref: Reference, kind: str, rest: str = "") -> str:
        return f"/v2/{ref.repository}/{kind}/{rest}"

    @staticmethod
    def _not_found(exc: RegistryError, codes: set[str], cls: type[NotFound], what: str) -> None:
        """Raise ``cls`` for a 404; a body-less answer (HEAD) gets the spec's code for it."""
        if exc.status != 404 or not (exc.code in codes or exc.code.startswith("HTTP")):
            return
        if exc.code.startswith("HTTP"):
            text = {
                BlobNotFound: "BLOB_UNKNOWN: blob unknown to registry",
                ManifestNotFound: "MANIFEST_UNKNOWN: manifest unknown",
            }.get(cls, "NAME_UNKNOWN: repository name not known to registry")
        else:
            text = f"{exc.code}: {exc.message or 'not found'}"
        raise cls(f"{text} ({what})") from None

    def blob_head(self, ref: ImageRef, digest: Digest) -> Descriptor:
        r = registry_ref(ref)
        try:
            response = self.transport.request(
                "HEAD", r.api_host, self._path(r, "blobs", str(digest)), scopes=self._scope(r)
            )
        except RegistryError as exc:
            self._not_found(exc, BLOB_NOT_FOUND, BlobNotFound, f"{r.name}@{digest}")
            raise
        size = response.content_length
        if size is None:
            raise RegistryError("HTTP 200", "blob HEAD without Content-Length", status=200)
        return Descriptor("application/octet-stream", digest, size)
