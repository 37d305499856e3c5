"""What every part of the registry store shares: the transport, scopes, paths, 404s.

A :class:`Connection` is the small object each noun module (manifests, blobs, uploads, tags,
referrers) takes first: the transport, the upload chunk size, the scope and path helpers and
what the store learnt about each registry's referrers API.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from hoist.errors import (
    BlobNotFound,
    ErrorCode,
    ManifestNotFound,
    NotFound,
    RegistryError,
    Unsupported,
)
from hoist.model.reference import ImageRef, Reference

if TYPE_CHECKING:
    from hoist.transport.http import Transport

__all__ = [
    "BLOB_NOT_FOUND",
    "MANIFEST_NOT_FOUND",
    "Connection",
    "not_found",
    "registry_ref",
]

MANIFEST_NOT_FOUND = frozenset({ErrorCode.MANIFEST_UNKNOWN, ErrorCode.NAME_UNKNOWN})
"""The codes of a 404 that means "no such manifest" (or repository)."""
BLOB_NOT_FOUND = frozenset({ErrorCode.BLOB_UNKNOWN, ErrorCode.NAME_UNKNOWN})
"""The codes of a 404 that means "no such blob" (or repository)."""

_BODYLESS_TEXT: dict[type[NotFound], str] = {
    BlobNotFound: "BLOB_UNKNOWN: blob unknown to registry",
    ManifestNotFound: "MANIFEST_UNKNOWN: manifest unknown",
}
_NAME_UNKNOWN_TEXT = "NAME_UNKNOWN: repository name not known to registry"


def registry_ref(ref: ImageRef) -> Reference:
    """``ref`` as a registry reference (Unsupported for layouts and archives)."""
    if not isinstance(ref, Reference):
        raise Unsupported(f"{ref} is not a registry reference")
    return ref


def not_found(
    exc: RegistryError, codes: frozenset[ErrorCode], cls: type[NotFound], what: str
) -> None:
    """Raise ``cls`` when ``exc`` is a 404 meaning "not there": one of ``codes``, or an answer
    without an error body (HEAD), which gets the spec's code for it in the message."""
    if exc.status != 404:
        return
    if exc.code is None:
        text = _BODYLESS_TEXT.get(cls, _NAME_UNKNOWN_TEXT)
    elif exc.code in codes:
        text = f"{exc.code}: {exc.message or 'not found'}"
    else:
        return
    raise cls(f"{text} ({what})") from None


class Connection:
    """The transport and the helpers the registry store's noun modules share (options: see
    :class:`hoist.store.registry.store.RegistryStore`); thread-safe."""

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
        """Force chunked uploads of at least this many bytes per PATCH (None: one PUT)."""
        self._referrers_api: dict[str, bool] = {}
        self._lock = threading.Lock()

    @staticmethod
    def scope(ref: Reference, actions: str = "pull") -> list[str]:
        """The token scopes for ``actions`` on ``ref``'s repository."""
        return [f"repository:{ref.repository}:{actions}"]

    @staticmethod
    def path(ref: Reference, kind: str, rest: str = "") -> str:
        """``/v2/<repository>/<kind>/<rest>``."""
        return f"/v2/{ref.repository}/{kind}/{rest}"

    def referrers_api(self, api_host: str) -> bool | None:
        """Whether ``api_host`` answered the referrers API (None: not asked yet)."""
        with self._lock:
            return self._referrers_api.get(api_host)

    def remember_referrers_api(self, api_host: str, present: bool) -> None:
        """Record whether ``api_host`` has the referrers API."""
        with self._lock:
            self._referrers_api[api_host] = present

    def close(self) -> None:
        self.transport.close()
