"""What ``hoist serve`` can be told: access, storage, and the limits that bound its memory.

:class:`ServerSettings` is one frozen value, checked when it is made, so a bad option fails
where it is given (``ServerThread(root, max_uploads=-1)`` raises at once, not when the
thread starts). :func:`hoist.server.app.make_app`, :class:`hoist.server.run.ServerThread` and
``hoist serve`` take the same keyword options and build one.

The limits and what they bound (defaults in brackets):

* ``max_uploads`` [64]: requests streaming a blob body at once. Beyond it, a new upload takes
  the slot of one that has sent nothing for 5 s (that client is dropped; what it sent is kept,
  so it can resume), else it is answered 429 TOOMANYREQUESTS with ``Retry-After``, so stalled
  clients cannot hold every slot. A stalled upload holds none of its body in memory (what
  arrived is written out after half a second without new bytes); a busy one at most 1 MiB
  gathered for the disk plus aiohttp's read buffer (2 x 1 MiB), so blob bodies hold at most
  about ``max_uploads x 3 MiB``, and in practice far less.
* ``max_sessions`` [10,000]: upload sessions open at once (started and not yet finished,
  cancelled or purged). Beyond it, sessions idle for ``upload_ttl`` are purged; if none is, a
  new upload is answered 429 TOOMANYREQUESTS, so POSTs that never send a body cannot fill the
  disk with sessions.
* ``idle_timeout`` [60 s]: a connection without a request in progress (one that has not sent
  a whole request head yet, or is idle between requests) is closed after this long.
* ``body_timeout`` [60 s]: a request body (blob or manifest) that delivers no byte for this
  long is abandoned and its connection closed; what arrived of a blob chunk is kept.
* ``max_header_size`` [8190]: the longest request line and header field, in bytes (400 beyond).
* ``max_manifest_size`` [4 MiB]: the largest manifest body (413 MANIFEST_INVALID beyond).

This module does not import aiohttp.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoist.model.manifest import MAX_MANIFEST_SIZE
from hoist.server.uploads import DEFAULT_MAX_SESSIONS, DEFAULT_TTL

if TYPE_CHECKING:
    from hoist.server.auth import Htpasswd

__all__ = [
    "CHUNK_MIN_LENGTH",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_HEADER_SIZE",
    "DEFAULT_MAX_UPLOADS",
    "ServerSettings",
]

CHUNK_MIN_LENGTH = 1 << 20
"""Advertised in ``OCI-Chunk-Min-Length``: advice for chunked pushes, not enforced."""
DEFAULT_MAX_UPLOADS = 64
DEFAULT_IDLE_TIMEOUT = 60.0
DEFAULT_BODY_TIMEOUT = 60.0
DEFAULT_MAX_HEADER_SIZE = 8190
MIN_HEADER_SIZE = 1024
MAX_HEADER_SIZE = 1 << 20


def _int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"from {low} to {high}"
        raise ValueError(f"{name} must be {bounds}, not {value}")


def _seconds(name: str, value: Any) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value}")


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    """Every option of the registry application, checked at construction.

    ``htpasswd`` (a path or a loaded :class:`~hoist.server.auth.Htpasswd`) turns on basic
    auth; ``anonymous_read`` then lets GET/HEAD of content through without credentials.
    ``read_only`` refuses every write with 405 UNSUPPORTED. Upload sessions idle for
    ``upload_ttl`` seconds are purged. ``fsync=False`` trades durability for speed. ``ui``
    adds the read-only web view under ``/ui/`` (:mod:`hoist.server.ui`). The limits are
    described in the module docstring.
    """

    htpasswd: str | os.PathLike[str] | Htpasswd | None = None
    anonymous_read: bool = False
    read_only: bool = False
    realm: str = "hoist"
    upload_ttl: float = DEFAULT_TTL
    chunk_min_length: int = CHUNK_MIN_LENGTH
    fsync: bool = True
    ui: bool = False
    max_uploads: int = DEFAULT_MAX_UPLOADS
    max_sessions: int = DEFAULT_MAX_SESSIONS
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_manifest_size: int = MAX_MANIFEST_SIZE

    def __post_init__(self) -> None:
        if self.htpasswd is not None and not isinstance(self.htpasswd, str | os.PathLike):
            from hoist.server.auth import Htpasswd

            if not isinstance(self.htpasswd, Htpasswd):
                raise TypeError(
                    f"htpasswd must be a path or an Htpasswd, not {type(self.htpasswd).__name__}"
                )
        for flag in ("anonymous_read", "read_only", "fsync", "ui"):
            _flag(flag, getattr(self, flag))
        if not isinstance(self.realm, str) or not self.realm or '"' in self.realm:
            raise ValueError(f"realm must be a non-empty string without quotes: {self.realm!r}")
        _seconds("upload_ttl", self.upload_ttl)
        _int("chunk_min_length", self.chunk_min_length, 0)
        _int("max_uploads", self.max_uploads, 0)
        _int("max_sessions", self.max_sessions, 1)
        _seconds("idle_timeout", self.idle_timeout)
        _seconds("body_timeout", self.body_timeout)
        _int("max_header_size", self.max_header_size, MIN_HEADER_SIZE, MAX_HEADER_SIZE)
        _int("max_manifest_size", self.max_manifest_size, 1, MAX_MANIFEST_SIZE)

    @classmethod
    def of(cls, settings: ServerSettings | None, options: dict[str, Any]) -> ServerSettings:
        """``settings``, or settings made of keyword ``options`` (not both)."""
        if settings is None:
            return cls(**options)
        if options:
            raise TypeError(f"give settings or options, not both: {', '.join(sorted(options))}")
        if not isinstance(settings, ServerSettings):
            raise TypeError(f"settings must be ServerSettings, not {type(settings).__name__}")
        return settings
