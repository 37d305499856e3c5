"""The registry as an aiohttp application: routing, error answers, headers, house-keeping.

``make_app(root)`` returns an :class:`aiohttp.web.Application` serving the OCI
distribution-spec v1.1 API from the storage under ``root``. Run it with
:class:`hoist.server.run.ServerThread`, ``hoist serve``, or any aiohttp runner.

Routing is done here rather than by aiohttp's router because repository names contain
slashes: the name is everything before the last ``/manifests/``, ``/blobs/``, ``/tags/`` or
``/referrers/``, and is checked against the spec's grammar before it touches the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from hoist.errors import ErrorCode, InvalidDigest, InvalidReference
from hoist.server import blobs, manifests
from hoist.server.apierror import ApiError
from hoist.server.auth import Auth, Htpasswd, RequestLog, load_htpasswd, policy
from hoist.server.context import REGISTRY, BodyTimeout, Registry
from hoist.server.settings import CHUNK_MIN_LENGTH, ServerSettings
from hoist.server.storage import Storage
from hoist.server.uploads import Uploads

__all__ = ["API_VERSION", "CHUNK_MIN_LENGTH", "make_app"]

log = logging.getLogger(__name__)

API_VERSION = "registry/2.0"

Handler = Callable[..., Awaitable[web.StreamResponse]]


async def _base(request: web.Request) -> web.StreamResponse:
    """``GET /v2/``: this is a registry (200 ``{}``)."""
    return web.json_response({})


_NAME = r"(?P<name>.+)"
ROUTES: tuple[tuple[re.Pattern[str], Mapping[str, Handler]], ...] = tuple(
    (re.compile(pattern), methods)
    for pattern, methods in (
        (r"", {"GET": _base, "HEAD": _base}),
        (r"_catalog", {"GET": manifests.catalog, "HEAD": manifests.catalog}),
        (_NAME + r"/tags/list", {"GET": manifests.tags_list, "HEAD": manifests.tags_list}),
        (
            _NAME + r"/manifests/(?P<reference>[^/]+)",
            {
                "GET": manifests.manifest_get,
                "HEAD": manifests.manifest_get,
                "PUT": manifests.manifest_put,
                "DELETE": manifests.manifest_delete,
            },
        ),
        (_NAME + r"/blobs/uploads/?", {"POST": blobs.upload_post}),
        (
            _NAME + r"/blobs/uploads/(?P<upload_id>[^/]+)",
            {
                "GET": blobs.upload_get,
                "PATCH": blobs.upload_patch,
                "PUT": blobs.upload_put,
                "DELETE": blobs.upload_delete,
            },
        ),
        (
            _NAME + r"/blobs/(?P<digest>[^/]+)",
            {"GET": blobs.blob_get, "HEAD": blobs.blob_get, "DELETE": blobs.blob_delete},
        ),
        (
            _NAME + r"/referrers/(?P<digest>[^/]+)",
            {"GET": manifests.referrers, "HEAD": manifests.referrers},
        ),
    )
)
"""Path patterns below ``/v2/`` (tried in order) and their handlers by method."""


async def _dispatch(request: web.Request) -> web.StreamResponse:
    tail = request.match_info.get("tail", "")
    for pattern, methods in ROUTES:
        match = pattern.fullmatch(tail)
        if match is None:
            continue
        handler = methods.get(request.method)
        if handler is None:
            raise ApiError(
                ErrorCode.UNSUPPORTED,
                f"{request.method} is not supported on {request.path}",
                headers={"Allow": ", ".join(methods)},
            )
        return await handler(request, **match.groupdict())
    raise ApiError(ErrorCode.UNSUPPORTED, f"no such endpoint: {request.path}", status=404)


def _answer(exc: ApiError) -> web.Response:
    headers = dict(exc.headers)
    headers["Content-Type"] = "application/json; charset=utf-8"
    return web.Response(status=exc.status, body=exc.body(), headers=headers)


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure into the spec's JSON error answer."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _answer(exc)
    except InvalidReference as exc:
        return _answer(ApiError(ErrorCode.NAME_INVALID, str(exc)))
    except InvalidDigest as exc:
        return _answer(ApiError(ErrorCode.DIGEST_INVALID, str(exc)))
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            return _answer(ApiError(ErrorCode.UNSUPPORTED, exc.reason, status=exc.status))
        raise
    except asyncio.CancelledError:
        raise
    except ConnectionError as exc:  # the client went away: one line, no answer it could read
        log.warning("%s %s: client went away: %s", request.method, request.path, _brief(exc))
        return _answer(ApiError(ErrorCode.BLOB_UPLOAD_INVALID, "client went away"))
    except BodyTimeout as exc:
        log.warning("%s %s: client stalled: %s; dropped", request.method, request.path, exc)
        if request.transport is not None:
            request.transport.close()
        return _answer(ApiError(ErrorCode.BLOB_UPLOAD_INVALID, str(exc), status=408))
    except RequestPayloadError as exc:
        return _answer(ApiError(ErrorCode.BLOB_UPLOAD_INVALID, f"request body failed: {exc}"))
    except OSError as exc:
        log.exception("%s %s failed", request.method, request.path)
        return web.Response(status=500, text=f"storage error: {exc.strerror or exc}\n")
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return web.Response(status=500, text="internal server error\n")


def _brief(exc: BaseException) -> str:
    """``exc`` on one line of at most 200 characters."""
    text = getattr(exc, "message", "") or str(exc) or type(exc).__name__
    text = " ".join(str(text).split())
    return text if len(text) <= 200 else text[:197] + "..."


class _OneLine(logging.Filter):
    """aiohttp's connection logger: a malformed request (header too long, not HTTP) or a
    client that went away is one warning line, not an error with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError | ConnectionError):
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {_brief(exc)}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
        return True


CONNECTION_LOG = logging.getLogger("hoist.server.connection")
CONNECTION_LOG.addFilter(_OneLine())


async def _api_version(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Docker-Distribution-API-Version"] = API_VERSION


def make_app(
    root: str | os.PathLike[str], settings: ServerSettings | None = None, **options: Any
) -> web.Application:
    """The registry application serving the storage under ``root`` (created if missing).

    ``settings``, or the keyword ``options`` they are made of (``htpasswd``,
    ``anonymous_read``, ``read_only``, ``max_uploads``, ``body_timeout``, ...): see
    :class:`~hoist.server.settings.ServerSettings`, which checks them.
    """
    settings = ServerSettings.of(settings, options)
    storage = Storage(root, fsync=settings.fsync)
    auth = None
    if settings.htpasswd is not None:
        htpasswd = settings.htpasswd
        users = htpasswd if isinstance(htpasswd, Htpasswd) else load_htpasswd(htpasswd)
        auth = Auth(users, settings.realm)
    state = Registry(
        storage=storage,
        uploads=Uploads(storage, ttl=settings.upload_ttl, max_sessions=settings.max_sessions),
        auth=auth,
        anonymous_read=settings.anonymous_read,
        read_only=settings.read_only,
        chunk_min_length=settings.chunk_min_length,
        max_uploads=settings.max_uploads,
        body_timeout=settings.body_timeout,
        max_manifest_size=settings.max_manifest_size,
    )
    handler_args: dict[str, Any] = {
        "access_log_class": RequestLog,
        "access_log": logging.getLogger("hoist.server.access"),
        "logger": CONNECTION_LOG,
        "auto_decompress": False,
        "read_bufsize": 1 << 20,
        "keepalive_timeout": settings.idle_timeout,
        "max_line_size": settings.max_header_size,
        "max_field_size": settings.max_header_size,
        "lingering_time": min(10.0, settings.body_timeout),
    }
    app = web.Application(middlewares=[_errors, policy], handler_args=handler_args)
    app[REGISTRY] = state
    app.router.add_route("*", "/v2", _dispatch)
    app.router.add_route("*", "/v2/{tail:.*}", _dispatch)
    app.on_response_prepare.append(_api_version)
    if settings.ui:
        from hoist.server.ui.app import mount

        mount(app)
    app.cleanup_ctx.append(_housekeeping)
    if auth is not None:
        app.on_cleanup.append(_closer(auth))
    log.debug(
        "registry app on %s (auth=%s, read_only=%s)", storage.root, bool(auth), settings.read_only
    )
    return app


def _closer(auth: Auth) -> Callable[[web.Application], Awaitable[None]]:
    async def close(app: web.Application) -> None:
        auth.close()

    return close


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    """Purge idle upload sessions at start and then periodically."""
    uploads = app[REGISTRY].uploads
    interval = max(1.0, min(uploads.ttl / 4, 600.0))

    async def loop() -> None:
        while True:
            try:
                await uploads.purge()
            except OSError as exc:
                log.warning("purging upload sessions failed: %s", exc)
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
