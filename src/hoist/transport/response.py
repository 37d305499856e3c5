"""The HTTP response a Transport returns, and the errors an unexpected answer turns into."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from urllib3 import exceptions as u3

from hoist.errors import AuthError, HoistError, InvalidInput, RegistryError, TransportError
from hoist.model.digest import CHUNK
from hoist.model.jsonvalue import parse_json
from hoist.transport.zerocopy import SPLICE_MIN, Pipe, SourceLost, plain_socket, splice_available

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse

__all__ = [
    "MAX_BODY",
    "MAX_ERROR_BODY",
    "Response",
    "error_summary",
    "exception_reason",
    "parse_errors",
    "release",
    "status_error",
]

MAX_ERROR_BODY = 64 * 1024
"""How much of an error body is read to find the registry's error (the rest is never read)."""
MAX_BODY = 4 * 1024 * 1024
"""The largest body read whole by default (``stream=False``): upload and other short replies."""


class Response:
    """A response: status, headers (case-insensitive), final url, and the body.

    Bodies are streamed: ``read(n)`` or ``stream()``, then ``close()`` (or use ``with``). A response
    made with ``stream=False`` was read whole (at most :data:`MAX_BODY` bytes, see
    :meth:`read_capped`) and released already; ``read()`` returns it. A body read into memory is
    always read through :meth:`read_capped`.
    """

    def __init__(self, raw: BaseHTTPResponse, url: str, *, preload: bool = False) -> None:
        self._raw = raw
        self.status: int = raw.status
        self.reason: str = raw.reason or ""
        self.headers: Mapping[str, str] = raw.headers
        self.url = url
        self._data: bytes | None = None
        self._pos = 0
        self._pipe: Pipe | None = None
        self._left: int | None = None
        """Body bytes not yet moved by :meth:`transfer_to` (None: it moved nothing)."""
        self._buffered = True
        if preload:
            try:
                # Not by Content-Length: a HEAD's is the size of what it describes.
                self._data = self._read_at_most(MAX_BODY, "reply", InvalidInput)
            finally:
                self.close()

    def read_capped(
        self, limit: int, *, what: str = "body", error: type[InvalidInput] = InvalidInput
    ) -> bytes:
        """The rest of the body, when it is at most ``limit`` bytes; else ``error`` (an
        InvalidInput) naming ``what``, raised without reading more than ``limit + 1`` bytes.
        A declared ``Content-Length`` over ``limit`` is refused before reading anything (call
        this for a GET, never for a HEAD)."""
        declared = self.content_length if self._data is None else None
        if declared is not None and declared > limit:
            self.close()
            where = urlsplit(self.url).netloc
            raise error(
                f"{what} of {declared} bytes from {where} is over the {_size_text(limit)} limit"
            )
        return self._read_at_most(limit, what, error)

    def _read_at_most(self, limit: int, what: str, error: type[InvalidInput]) -> bytes:
        where = urlsplit(self.url).netloc
        parts: list[bytes] = []
        total = 0
        while data := self.read(min(CHUNK, limit + 1 - total)):
            parts.append(data)
            total += len(data)
            if total > limit:
                self.close()
                raise error(f"{what} from {where} is over the {_size_text(limit)} limit")
        return b"".join(parts)

    def read(self, n: int = -1, /) -> bytes:
        """Up to ``n`` bytes (all when ``n`` < 0); ``b""`` at the end."""
        if self._data is not None:
            end = len(self._data) if n < 0 else min(len(self._data), self._pos + n)
            data, self._pos = self._data[self._pos : end], end
            return data
        if n == 0:
            return b""
        if self._left is not None:  # the body goes on where transfer_to left it, not here
            if self._left:
                raise TransportError(f"{self.url}: body read after it was spliced")
            return b""
        try:
            return self._raw.read(None if n < 0 else n, decode_content=False)
        except (u3.HTTPError, OSError) as exc:
            self.close()
            where = urlsplit(self.url)
            raise TransportError(
                f"{where.netloc}: connection lost reading {where.path}: {exception_reason(exc)}"
            ) from exc

    def transfer_to(self, sink: object, limit: int) -> int | None:
        """Move up to ``limit`` bytes of the rest of the body into the socket ``sink`` without
        them passing through Python (see :mod:`hoist.transport.zerocopy`): how many, 0 at the
        end. None when this body or ``sink`` cannot be spliced (TLS, chunked, no
        Content-Length, under :data:`~hoist.transport.zerocopy.SPLICE_MIN`, not Linux): read it
        instead. Once bytes moved, the body is only moved (``read`` returns nothing more).

        The last byte is read through http.client, so that it sees its body end and the
        connection goes back to the pool as after a read; a body closed before its end closes
        its connection. A body that ends before its Content-Length is a TransportError, as for
        :meth:`read`.
        """
        dst = plain_socket(sink)
        src = plain_socket(getattr(self._raw.connection, "sock", None))
        if dst is None or src is None:
            return None
        reader = self._raw._fp  # type: ignore[attr-defined]
        if self._left is None:
            if not self._spliceable():
                return None
            self._left = int(reader.length)
        if self._left <= 0 or limit <= 0:
            return 0
        count = min(limit, self._left - 1)
        try:
            if count == 0:  # the last byte
                head = _read_last(reader)
                dst.sendall(head)
                moved = len(head)
            elif self._buffered:  # what http.client's reader holds already goes first
                head, self._buffered = _take_buffered(reader.fp, count)
                dst.sendall(head)
                moved = len(head)
            else:
                if self._pipe is None:
                    self._pipe = Pipe()
                moved = self._pipe.move(src, dst, count)
        except SourceLost as exc:
            self.close()
            raise self._lost(exc) from exc
        if moved == 0:
            self.close()
            raise self._lost(None)
        self._left -= moved
        return moved

    def _spliceable(self) -> bool:
        """Whether nothing but the socket's bytes stand between here and the body's end."""
        fp = getattr(self._raw, "_fp", None)
        return (
            self._data is None
            and splice_available()
            and fp is not None
            and getattr(fp, "chunked", True) is False
            and isinstance(getattr(fp, "length", None), int)
            and fp.length >= SPLICE_MIN
            and getattr(fp, "fp", None) is not None
            and len(getattr(self._raw, "_decoded_buffer", b"")) == 0
        )

    def _lost(self, exc: BaseException | None) -> TransportError:
        where = urlsplit(self.url)
        reason = exception_reason(exc) if exc else "connection closed before the end of the body"
        return TransportError(f"{where.netloc}: connection lost reading {where.path}: {reason}")

    def stream(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The body in chunks of at most ``chunk_size`` bytes."""
        while data := self.read(chunk_size):
            yield data

    @property
    def location(self) -> str | None:
        """The ``Location`` header made absolute against this response's url (None when it is
        missing or no URL at all)."""
        loc = self.headers.get("Location")
        if not loc:
            return None
        try:
            return urljoin(self.url, loc)
        except ValueError:  # "http://[x": not a URL
            return None

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def close(self) -> None:
        """Release the connection: back to the pool when the body was read, else closed."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._left:  # spliced part-way: http.client has not seen where the body stands
            self._raw.close()
        release(self._raw)

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.url}>"


def _read_last(reader: Any) -> bytes:
    """The last byte of a body through http.client's reader (told one byte is left), which
    then closes its side as at any body's end."""
    reader.length = 1
    try:
        data: bytes = reader.read(1)
    except OSError as exc:
        raise SourceLost.of(exc) from exc
    return data


def _take_buffered(reader: Any, count: int) -> tuple[bytes, bool]:
    """Up to ``count`` of the bytes a buffered reader holds (one read of its socket when it holds
    none), and whether it holds more."""
    try:
        held = len(reader.peek())
        head: bytes = reader.read(min(count, held))
    except OSError as exc:
        raise SourceLost.of(exc) from exc
    return head, len(head) < held


def release(raw: BaseHTTPResponse) -> None:
    """Let go of a raw response: its connection goes back to the pool when the rest of the body is
    small enough to drain, else it is closed."""
    if not raw.closed:
        remaining = getattr(raw, "length_remaining", None)
        if remaining is not None and remaining <= MAX_ERROR_BODY:
            raw.drain_conn()
        else:
            raw.close()
    raw.release_conn()


def _size_text(n: int) -> str:
    """``4 MiB``, ``64 KiB`` or ``1000 bytes``."""
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}"
    return f"{n} bytes"


def _json_or_none(body: bytes) -> Any:
    """``body`` parsed by the bounded parser; None when it is not JSON within its bounds."""
    try:
        return parse_json(body, what="error body", max_size=MAX_ERROR_BODY)
    except InvalidInput:
        return None


def parse_errors(body: bytes) -> list[tuple[str, str, Any]]:
    """``(code, message, detail)`` for each entry of a registry error body ``{"errors": [...]}``;
    empty when the body is not one (hostile bodies included: deep, huge numbers, not UTF-8)."""
    data = _json_or_none(body)
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return []
    return [
        (str(e.get("code") or "UNKNOWN"), str(e.get("message") or ""), e.get("detail"))
        for e in errors
        if isinstance(e, dict)
    ]


def error_summary(body: bytes) -> str:
    """One line from an error body: ``CODE: message``, an OAuth error, or the start of its text."""
    errors = parse_errors(body)
    if errors:
        code, message, _ = errors[0]
        return f"{code}: {message}" if message else code
    data = _json_or_none(body)
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        description = data.get("error_description")
        return f"{data['error']}: {description}" if description else data["error"]
    lines = body[:200].decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else ""


def status_error(response: Response, method: str, *, auth: str | None) -> HoistError:
    """The error for an unexpected status; reads at most MAX_ERROR_BODY bytes of the body.

    ``auth`` describes how the request was authenticated at its registry (``as alice``); a 401 or
    403 then is an AuthError. Anything else is a RegistryError carrying the registry's ``code``
    (an :class:`~hoist.errors.ErrorCode`; None when the body has none) and ``status``.
    """
    try:
        body = b"" if method == "HEAD" else response.read(MAX_ERROR_BODY)
    except TransportError:
        body = b""
    finally:
        response.close()
    where = urlsplit(response.url)
    target = f"{method} {where.netloc}{where.path}"
    status = response.status
    if auth is not None and status in (401, 403):
        summary = error_summary(body) or response.reason
        verb = "denied" if status == 403 else "unauthorized"
        return AuthError(
            f"{where.netloc}: {verb} ({status} {summary}) for {method} {where.path} {auth}"
        )
    errors = parse_errors(body)
    if errors:
        code, message, detail = errors[0]
        if len(errors) > 1:
            message += "; " + "; ".join(f"{c}: {m}" for c, m, _ in errors[1:])
        return RegistryError(code, message, status=status, detail=detail, where=target)
    text = error_summary(body) or response.reason
    return RegistryError(None, text, status=status, where=target)


def exception_reason(exc: BaseException) -> str:
    """A short one-line reason for a connection-level exception (``connection refused``, ...)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {e.verify_message or e.reason}"
        if isinstance(e, ssl.SSLError):
            return f"TLS: {e.reason or e}"
        if isinstance(e, u3.NameResolutionError):
            return "cannot resolve host name"
        if isinstance(e, (u3.ReadTimeoutError, u3.ConnectTimeoutError, TimeoutError)) and not (
            isinstance(e, u3.NewConnectionError)
        ):
            return "timed out"
        if isinstance(e, (u3.IncompleteRead, http.client.IncompleteRead)):
            return "connection closed before the end of the body"
        if isinstance(e, http.client.RemoteDisconnected):
            return "server closed the connection without answering"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror[0].lower() + e.strerror[1:]
        todo.extend(a for a in e.args if isinstance(a, BaseException))
        todo.extend(c for c in (e.__cause__, e.__context__) if c is not None)
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__
