"""TLS for one registry: which CAs to trust and which client certificate to show.

:func:`tls_context` builds an :class:`ssl.SSLContext` from a registry's settings and what the
certs.d directories hold for it (see :mod:`hoist.config.certs`):

- ``ca_file`` (a setting) is trusted *instead of* the system's CAs;
- ``*.crt`` files of certs.d are trusted *on top of* them (as Docker does);
- ``client_cert``/``client_key`` (a setting) win over a certs.d ``NAME.cert``/``NAME.key`` pair;
- ``tls="insecure"`` verifies nothing (but still sends a client certificate).

Contexts are cached by what they were built from: every connection to a registry shares one.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from hoist.config.certs import HostCerts
from hoist.config.settings import RegistrySettings
from hoist.errors import InvalidInput

__all__ = ["TLSContexts", "TLSFiles", "tls_context"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """What a context is made of (the cache key)."""

    verify: bool
    ca_file: str | None
    extra_cas: tuple[str, ...]
    client_cert: str | None
    client_key: str | None

    @classmethod
    def of(cls, settings: RegistrySettings, certs: HostCerts) -> TLSFiles:
        cert, key = settings.client_cert, settings.client_key
        if cert is None:
            cert, key = certs.client_cert, certs.client_key
        return cls(settings.tls != "insecure", settings.ca_file, certs.ca_files, cert, key)


def tls_context(files: TLSFiles) -> ssl.SSLContext:
    """A client context for ``files``; InvalidInput names a file that cannot be used.

    The system's CAs are loaded only where they are trusted: loading them takes 45 ms here,
    wasted on a context that verifies nothing or trusts its own ``ca_file``."""
    if not files.verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    elif files.ca_file is not None:  # Python's defaults, with this file instead of the system's
        ctx = _load(ssl.create_default_context, files.ca_file, "CA file")
    else:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    for extra in files.extra_cas:
        _load(ctx.load_verify_locations, extra, "CA file")
    if files.client_cert is not None:
        try:
            ctx.load_cert_chain(files.client_cert, files.client_key)
        except FileNotFoundError as exc:
            raise InvalidInput(f"client certificate: {exc.filename}: no such file") from None
        except (ssl.SSLError, OSError) as exc:
            where = files.client_cert + (f" / {files.client_key}" if files.client_key else "")
            raise InvalidInput(
                f"client certificate {where}: cannot load it ({_reason(exc)}); want PEM files "
                "of a certificate and its unencrypted key"
            ) from None
    if not files.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _load(load: Callable[..., _T], path: str, what: str) -> _T:
    try:
        return load(cafile=path)
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path}: no such file") from None
    except (ssl.SSLError, OSError) as exc:
        raise InvalidInput(f"{what} {path}: not PEM certificates ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc).lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


class TLSContexts:
    """A thread-safe cache of contexts by :class:`TLSFiles`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contexts: dict[TLSFiles, ssl.SSLContext] = {}
        self._probe: ssl.SSLContext | None = None

    def get(self, files: TLSFiles) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get(files)
            if ctx is None:
                ctx = self._contexts[files] = tls_context(files)
            return ctx

    def probe(self) -> ssl.SSLContext:
        """A context that trusts no CA at all: a handshake with it can only fail, and how it
        fails tells whether the server speaks TLS (a certificate it cannot verify) or not (no
        TLS answer), before any byte of a request is sent and without loading the system's
        CAs. For a loopback registry that may speak plain HTTP (see ``Transport._probing``)."""
        with self._lock:
            if self._probe is None:
                self._probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            return self._probe
