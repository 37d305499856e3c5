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
     ├── RegistryError                         an error answer from a registry (code, message,
     │                                         detail); ``code`` is an ErrorCode, or None when
     │                                         the answer carried no error body (a HEAD)
     └── TransportError                        connection failed, timed out, retries exhausted

The CLI prints ``error: <str(exc)>`` and exits 1 for any HoistError (2 for usage errors).
:class:`ErrorCode` holds the distribution spec's error codes, shared by the registry client
and ``hoist serve``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

__all__ = [
    "AuthError",
    "BlobNotFound",
    "DigestMismatch",
    "ErrorCode",
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


class ErrorCode(StrEnum):
    """The error codes of the OCI distribution spec (v1.1), the only ones a JSON error body
    may carry. A member equals its name as a string: ``ErrorCode.BLOB_UNKNOWN == "BLOB_UNKNOWN"``.
    """

    BLOB_UNKNOWN = "BLOB_UNKNOWN"
    BLOB_UPLOAD_INVALID = "BLOB_UPLOAD_INVALID"
    BLOB_UPLOAD_UNKNOWN = "BLOB_UPLOAD_UNKNOWN"
    DIGEST_INVALID = "DIGEST_INVALID"
    MANIFEST_BLOB_UNKNOWN = "MANIFEST_BLOB_UNKNOWN"
    MANIFEST_INVALID = "MANIFEST_INVALID"
    MANIFEST_UNKNOWN = "MANIFEST_UNKNOWN"
    NAME_INVALID = "NAME_INVALID"
    NAME_UNKNOWN = "NAME_UNKNOWN"
    SIZE_INVALID = "SIZE_INVALID"
    UNAUTHORIZED = "UNAUTHORIZED"
    DENIED = "DENIED"
    UNSUPPORTED = "UNSUPPORTED"
    TOOMANYREQUESTS = "TOOMANYREQUESTS"

    @classmethod
    def parse(cls, text: str) -> ErrorCode | str:
        """The member named ``text``, else ``text`` itself (a code only one registry uses)."""
        try:
            return cls(text)
        except ValueError:
            return text


class RegistryError(HoistError):
    """An error answered by a registry, with the spec's code, message and detail.

    ``code`` is an :class:`ErrorCode` for a spec code, the registry's own string for a code the
    spec lacks, and None for an answer that had only a status (``HTTP 404`` in the message).
    """

    def __init__(
        self,
        code: ErrorCode | str | None,
        message: str,
        *,
        status: int = 0,
        detail: Any = None,
        where: str = "",
    ) -> None:
        if code is not None:
            code = ErrorCode.parse(code)
        label = code if code is not None else f"HTTP {status}"
        text = f"{label}: {message}" if message else label
        if where:
            text += f" ({where})"
        super().__init__(text)
        self.code: ErrorCode | str | None = code
        self.message = message
        self.status = status
        self.detail = detail
        self.where = where


class TransportError(HoistError):
    """The connection failed, timed out, or retries ran out."""
