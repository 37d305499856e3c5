"""Routes of the web view, mounted on the registry's own aiohttp application.

======================================  ==============================================
``/``                                   302 to ``/ui/``
``/ui/``                                repositories (``?page=``)
``/ui/r/<name>``                        a repository: tags (``?sort=&order=&page=&n=``)
                                        and referrers
``/ui/r/<name>/-/tag/<tag>``            302 to the image the tag points to
``/ui/r/<name>/-/image/<digest>``       an index or manifest (``?manifest=<child>``)
``/ui/r/<name>/-/layer/<digest>``       a layer (``?image=<manifest>``)
``/ui/r/<name>/-/json/<digest>``        a manifest or config as JSON, digests linked
``/ui/r/<name>/-/tree/<digest>.svg``    the shared-layer picture (``image tree`` as SVG)
``/ui/static/hoist.css``                the stylesheet
======================================  ==============================================

Repository names contain slashes; ``/-/`` cannot appear in one (path components start with
a letter or digit), so it separates the name from the rest. Requests pass the registry's own
middlewares first: the same htpasswd users, anonymous reads when the server allows them, the
same request log. Only GET and HEAD are routed: the web view never writes. Error answers on
these paths (a 401 asking for a login, a 404) are pages rather than the registry's JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hoist.errors import InvalidDigest, InvalidReference, Unsupported
from hoist.model.digest import Digest
from hoist.server.auth import USER_KEY
from hoist.server.context import REGISTRY, registry
from hoist.server.storage import check_name, check_tag
from hoist.server.ui.render import PREFIX, Pages, Urls, stylesheet
from hoist.server.ui.views import NotHere, Views

__all__ = ["UI", "WebView", "html_errors", "mount"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
SVG_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


@dataclass(eq=False)
class WebView:
    """The state of the web view of one application: its pages and what they cached."""

    views: Views
    pages: Pages
    css: bytes

    def page(self, code: int, template: str, **context: Any) -> web.Response:
        html = self.pages.render(template, **context)
        return web.Response(
            status=code, text=html, content_type="text/html", charset="utf-8", headers=HEADERS
        )


UI = web.AppKey("hoist.ui", WebView)


def _web(request: web.Request) -> WebView:
    return request.app[UI]


def _context(request: web.Request) -> dict[str, Any]:
    reg = registry(request)
    return {
        "user": request.get(USER_KEY),
        "auth": reg.auth is not None,
        "anonymous": reg.auth is not None and reg.anonymous_read,
        "read_only": reg.read_only,
        "host": request.host,
    }


def _is_ui(path: str) -> bool:
    return path in ("/", PREFIX) or path.startswith(PREFIX + "/")


# ---------------------------------------------------------------------- pages


async def _root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PREFIX + "/")


async def _repositories(request: web.Request) -> web.StreamResponse:
    ui = _web(request)
    page = await asyncio.to_thread(ui.views.repositories, _int(request, "page", 1))
    return ui.page(200, "repositories.html", page=page, **_context(request))


async def _static(request: web.Request) -> web.StreamResponse:
    return web.Response(
        body=_web(request).css,
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def _int(request: web.Request, key: str, default: int) -> int:
    text = request.rel_url.query.get(key, "")
    return int(text) if text.isdigit() and len(text) < 10 else default


def _digest(text: str | None) -> Digest:
    if not text:
        raise NotHere("a digest is needed")
    try:
        return Digest.parse(text)
    except InvalidDigest as exc:
        raise NotHere(str(exc)) from None


async def _repository_tail(request: web.Request) -> web.StreamResponse:
    """``/ui/r/<name>[/-/<what>/<arg>]``."""
    tail = request.match_info["tail"]
    name, sep, rest = tail.partition("/-/")
    name = name.rstrip("/")
    ui = _web(request)
    try:
        check_name(name)
    except InvalidReference:
        return _not_found(request, f"{name!r} is not a repository name")
    try:
        if not sep:
            return await _repository(request, ui, name)
        what, _, arg = rest.partition("/")
        if what == "image":
            return await _image(request, ui, name, _digest(arg))
        if what == "tag":
            return await _tag(request, ui, name, arg)
        if what == "layer":
            return await _layer(request, ui, name, _digest(arg))
        if what == "json":
            return await _json(request, ui, name, _digest(arg))
        if what == "tree" and arg.endswith(".svg"):
            return await _picture(request, ui, name, _digest(arg.removesuffix(".svg")))
    except NotHere as exc:
        return _not_found(request, str(exc))
    return _not_found(request, f"no such page: {request.path}")


async def _repository(request: web.Request, ui: WebView, name: str) -> web.StreamResponse:
    query = request.rel_url.query
    page = await asyncio.to_thread(
        ui.views.repository,
        name,
        sort=query.get("sort", "name"),
        order=query.get("order"),
        page=_int(request, "page", 1),
        per_page=_int(request, "n", 50),
    )
    return ui.page(200, "repository.html", page=page, **_context(request))


async def _tag(request: web.Request, ui: WebView, name: str, tag: str) -> web.StreamResponse:
    try:
        check_tag(tag)
    except InvalidReference as exc:
        raise NotHere(str(exc)) from None
    digest = await asyncio.to_thread(ui.views.storage.resolve, name, tag)
    if digest is None:
        raise NotHere(f"no tag {tag} in {name}")
    raise web.HTTPFound(Urls().image(name, digest))


async def _image(
    request: web.Request, ui: WebView, name: str, digest: Digest
) -> web.StreamResponse:
    child_text = request.rel_url.query.get("manifest")
    child = _digest(child_text) if child_text else None
    page = await asyncio.to_thread(ui.views.image, request.host, name, digest, child=child)
    return ui.page(200, "image.html", page=page, **_context(request))


async def _layer(
    request: web.Request, ui: WebView, name: str, digest: Digest
) -> web.StreamResponse:
    image_text = request.rel_url.query.get("image")
    image = _digest(image_text) if image_text else None
    page = await asyncio.to_thread(ui.views.layer, request.host, name, digest, image=image)
    return ui.page(200, "layer.html", page=page, **_context(request))


async def _json(request: web.Request, ui: WebView, name: str, digest: Digest) -> web.StreamResponse:
    page = await asyncio.to_thread(ui.views.json, name, digest)
    return ui.page(200, "json.html", page=page, **_context(request))


async def _picture(
    request: web.Request, ui: WebView, name: str, digest: Digest
) -> web.StreamResponse:
    try:
        svg = await asyncio.to_thread(ui.views.picture, request.host, name, digest)
    except Unsupported as exc:  # no Graphviz: the image page shows no picture
        raise NotHere(str(exc)) from None
    return web.Response(body=svg, content_type="image/svg+xml", headers=SVG_HEADERS)


# ---------------------------------------------------------------------- errors


def _not_found(request: web.Request, message: str) -> web.Response:
    return _web(request).page(404, "error.html", status=404, message=message, **_context(request))


@web.middleware
async def html_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The registry's JSON error answers on the web view's paths, as pages (same status and
    headers: a 401 keeps its ``WWW-Authenticate``, so the browser asks for a login)."""
    response = await handler(request)
    if (
        not _is_ui(request.path)
        or response.status < 400
        or not isinstance(response, web.Response)
        or response.content_type != "application/json"
    ):
        return response
    message = response.reason or ""
    try:
        body = response.body
        errors = json.loads(body if isinstance(body, bytes) else b"{}").get("errors") or []
        message = str(errors[0].get("message", message))
    except (ValueError, AttributeError, IndexError, TypeError):
        pass
    page = _web(request).page(
        response.status, "error.html", status=response.status, message=message, **_context(request)
    )
    for header in ("WWW-Authenticate", "Allow", "Retry-After"):
        if header in response.headers:
            page.headers[header] = response.headers[header]
    return page


def mount(app: web.Application) -> None:
    """Add the web view's routes to the registry application ``app`` (before it starts)."""
    state = app[REGISTRY]
    app[UI] = WebView(Views(state.storage), Pages(), stylesheet())
    app.router.add_get("/", _root)
    app.router.add_get(PREFIX, _root)
    app.router.add_get(PREFIX + "/", _repositories)
    app.router.add_get(PREFIX + "/static/hoist.css", _static)
    app.router.add_get(PREFIX + "/r/{tail:.+}", _repository_tail)
    app.middlewares.insert(0, html_errors)
    log.debug("web view mounted at %s/", PREFIX)
