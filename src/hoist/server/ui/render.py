"""Templates of the web view (Jinja2, autoescaped) and the helpers they use: links, sizes, times.

The templates and the stylesheet are package data (``templates/``, ``static/``), loaded once
per application. Every value reaching a page is escaped by Jinja; nothing builds HTML by hand.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import jinja2

from hoist.insight.tree import short_type
from hoist.model.digest import Digest

__all__ = ["Pages", "Urls", "human_size", "short_digest"]

PREFIX = "/ui"


def human_size(n: int | None) -> str:
    """Bytes for people, in powers of 1000 as registries show them: ``1.5 MB``."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def short_digest(digest: Digest | str | None, length: int = 12) -> str:
    """``sha256:0123456789ab``: enough to tell digests apart on a page."""
    if digest is None:
        return ""
    text = str(digest)
    alg, _, hexpart = text.partition(":")
    return f"{alg}:{hexpart[:length]}" if hexpart else text


def short_tag(tag: str) -> str:
    """A digest tag (``sha256-<64 hex>.sig``) shortened to ``sha256-0123456789ab….sig``."""
    alg, dash, rest = tag.partition("-")
    hexpart, dot, suffix = rest.partition(".")
    if not dash or len(hexpart) < 64:
        return tag
    return f"{alg}-{hexpart[:12]}…{dot}{suffix}"


def when(epoch: float | None) -> str:
    """A push time: ``2025-01-31 12:00:05 UTC``."""
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(epoch: float | None, now: float | None = None) -> str:
    """How long ago: ``5 minutes ago``."""
    if not epoch:
        return ""
    seconds = max(0.0, (now if now is not None else time.time()) - epoch)
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            n = int(seconds // length)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def created(text: str | None) -> str:
    """A config's ``created`` (RFC 3339) shortened: ``2024-01-01 00:00:00 UTC``."""
    if not text:
        return ""
    head = text.replace("T", " ")
    if head.endswith("Z"):
        head = head[:-1].split(".", 1)[0] + " UTC"
    return head


def command(argv: tuple[str, ...] | None) -> str:
    """An exec-form Entrypoint/Cmd as JSON, the way a Dockerfile writes it."""
    import json

    if argv is None:
        return ""
    return json.dumps(list(argv))


class Urls:
    """Links between pages (and to the registry API for raw bytes)."""

    def __init__(self, prefix: str = PREFIX) -> None:
        self.prefix = prefix

    def _repo(self, name: str) -> str:
        return f"{self.prefix}/r/{quote(name, safe='/')}"

    @staticmethod
    def _query(params: dict[str, Any]) -> str:
        kept = {k: v for k, v in params.items() if v is not None and v != ""}
        return "?" + urlencode(kept, safe=":") if kept else ""

    def repositories(self, page: int | None = None) -> str:
        return f"{self.prefix}/" + self._query({"page": page if page and page > 1 else None})

    def repository(self, name: str, **query: Any) -> str:
        return self._repo(name) + self._query(query)

    def image(self, name: str, digest: Digest | str, child: Digest | str | None = None) -> str:
        return f"{self._repo(name)}/-/image/{digest}" + self._query({"manifest": child})

    def tag(self, name: str, tag: str) -> str:
        return f"{self._repo(name)}/-/tag/{quote(tag, safe='')}"

    def layer(self, name: str, digest: Digest | str, image: Digest | str | None = None) -> str:
        return f"{self._repo(name)}/-/layer/{digest}" + self._query({"image": image})

    def json(self, name: str, digest: Digest | str) -> str:
        return f"{self._repo(name)}/-/json/{digest}"

    def picture(self, name: str, digest: Digest | str) -> str:
        return f"{self._repo(name)}/-/tree/{digest}.svg"

    def raw(self, name: str, digest: Digest | str, kind: str) -> str:
        """The registry API's URL of the exact bytes (``kind``: ``manifest`` or ``blob``)."""
        endpoint = "manifests" if kind == "manifest" else "blobs"
        return f"/v2/{quote(name, safe='/')}/{endpoint}/{digest}"

    def static(self, path: str) -> str:
        return f"{self.prefix}/static/{path}"


class Pages:
    """The templates, compiled once, and :meth:`render`."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("hoist.server.ui", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.filters.update(
            size=human_size,
            short=short_digest,
            short_tag=short_tag,
            when=when,
            ago=ago,
            created=created,
            kind=short_type,
            argv=command,
        )
        self.env.globals["urls"] = Urls()

    def render(self, template: str, **context: Any) -> str:
        context.setdefault("now", time.time())
        return self.env.get_template(template).render(**context)


def stylesheet() -> bytes:
    """The web view's CSS (package data)."""
    return resources.files("hoist.server.ui").joinpath("static", "hoist.css").read_bytes()
