"""Every error hoist raises, in one tree.

::

    HoistError
     ├── InvalidInput (also ValueError)        input that does not parse or validate
     │    ├── InvalidReference
     │    ├── InvalidDigest
     │    ├── InvalidPlatform
     │    ├── InvalidManifest                  bad JSON, missing fields, over 4 MiB
     │    ├── InvalidConfig
     │    ├── InvalidLayer                     corrupt compression or tar data in a layer
     │    └── InvalidDockerfile                with the line; also what hoist cannot build (RUN)
     ├── UnsupportedMediaType (also ValueError) e.g. schema1 for writing
     ├── DigestMismatch                        content is not what its descriptor says
     ├── UnsafeLayer                           a layer that would escape its root (``..``,
     │    │                                    absolute paths, links pointing out, link loops)
     │    └── LayerTooLarge                    more uncompressed bytes than the limit (a bomb)
     ├── NotFound
     │    ├── ManifestNotFound
     │    ├── BlobNotFound
     │    └── PlatformNotFound                 lists the platforms present
     ├── Unsupported                           a store cannot do this (an OCI layout cannot mount)
     ├── AuthError                             401/403 after every credential was tried
     ├── RegistryError                         an error body from a registry (code, message, detail)
     └── TransportError                        connection failed, timed out, retries exhausted

The CLI prints ``error: <str(exc)>`` and exits 1 for any HoistError (2 for usage errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "AuthError",
    "BlobNotFound",
    "DigestMismatch",
    "HoistError",
    "InvalidConfig",
    "InvalidDigest",
    "InvalidDockerfile",
    "InvalidInput",
    "InvalidLayer",
    "InvalidManifest",
    "InvalidPlatform",
    "InvalidReference",
    "LayerTooLarge",
    "ManifestNotFound",
    "NotFound",
    "PlatformNotFound",
    "RegistryError",
    "TransportError",
    "UnsafeLayer",
    "Unsupported",
    "UnsupportedMediaType",
]


class HoistError(Exception):
    """Base of every error hoist raises on purpose."""


class InvalidInput(HoistError, ValueError):
    """Input that does not parse or validate."""


class InvalidReference(InvalidInput):
    """A reference that does not follow the grammar."""


class InvalidDigest(InvalidInput):
    """A digest string that is not ``algorithm:hex`` with a known algorithm."""


class InvalidPlatform(InvalidInput):
    """A platform string that is not ``os/arch[/variant]``."""


class InvalidManifest(InvalidInput):
    """A manifest or index that is not valid JSON or misses required fields."""


class InvalidConfig(InvalidInput):
    """An image config that is not valid."""


class InvalidLayer(InvalidInput):
    """A layer whose compressed or tar data is corrupt or truncated."""


class InvalidDockerfile(InvalidInput):
    """A Dockerfile that does not parse or asks for what hoist cannot do (RUN), with its line.

    ``str()`` reads ``Dockerfile:12: RUN needs a container; hoist builds without one``;
    ``line`` is 0 when the problem is not on one line.
    """

    def __init__(self, message: str, line: int = 0, name: str = "Dockerfile") -> None:
        super().__init__(f"{name}:{line}: {message}" if line else f"{name}: {message}")
        self.reason = message
        self.line = line
        self.name = name


class UnsupportedMediaType(HoistError, ValueError):
    """A media type hoist recognises but cannot handle for this operation."""

    def __init__(self, message: str, media_type: str = "") -> None:
        super().__init__(message)
        self.media_type = media_type


class DigestMismatch(HoistError):
    """Content whose digest or size differs from what was expected."""

    def __init__(self, message: str, expected: str = "", actual: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class UnsafeLayer(HoistError):
    """A layer entry that would land outside the root it is unpacked or resolved in."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class LayerTooLarge(UnsafeLayer):
    """A layer that decompresses to more bytes than allowed (a decompression bomb)."""

    def __init__(self, message: str, limit: int = 0) -> None:
        super().__init__(message)
        self.limit = limit


class NotFound(HoistError):
    """Something asked for is not there."""


class ManifestNotFound(NotFound):
    """No manifest for that tag or digest."""


class BlobNotFound(NotFound):
    """No blob with that digest."""


class PlatformNotFound(NotFound):
    """No manifest in an index matches the platform asked for."""

    def __init__(self, wanted: str, present: Sequence[str]) -> None:
        listed = ", ".join(present) if present else "none"
        super().__init__(f"no manifest for platform {wanted}; platforms present: {listed}")
        self.wanted = wanted
        self.present = tuple(present)


class Unsupported(HoistError):
    """The store or media type cannot do what was asked."""


class AuthError(HoistError):
    """Authentication or authorisation failed."""


class RegistryError(HoistError):
    """An error answered by a registry, with the spec's code, message and detail."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 0,
        detail: Any = None,
        where: str = "",
    ) -> None:
        text = f"{code}: {message}" if message else code
        if where:
            text += f" ({where})"
        super().__init__(text)
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail
        self.where = where


class TransportError(HoistError):
    """The connection failed, timed out, or retries ran out."""
