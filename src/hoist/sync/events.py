"""What a sync reports as it goes: typed events, and a writer of them as NDJSON.

::

    with open("events.ndjson", "w") as out:
        sync_apply(client, config, plan, events=NDJSONWriter(out))

One JSON object per line, ``event`` naming its kind:

=============  ==================================================================================
``start``      the run begins: ``plan`` (its id), ``images``, ``copies``, ``bytes``, ``resumed``
``blob``       a blob of an image moves: ``image``, ``digest``, ``size``, ``done`` (bytes so far),
               ``how`` on the last one (``copied``, ``exists``, ``mounted``)
``image``      an image is done: ``source``, ``target``, ``tags``, ``digest``, ``how``
               (``copied``, ``tagged``, ``up-to-date``, ``journal``), ``bytes``, ``seconds``
``error``      an image failed (the run goes on): ``source``, ``target``, ``error``
``ratelimit``  a registry's remaining pulls fell under the floor: ``host``, ``remaining``,
               ``action`` (``wait`` or ``stop``), ``seconds`` waited
``summary``    the run ends: ``copied``, ``up_to_date``, ``skipped``, ``failed``, ``bytes``,
               ``seconds``, ``stopped`` (why it stopped early, or null)
``next``       (``sync serve``) the next run starts ``at``, by ``schedule``
``reload``     (``sync serve``) the config was read again: ``ok``, ``error``
=============  ==================================================================================

Every event has ``time`` (seconds since the epoch). Sinks are called from worker threads.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO, Any, ClassVar

__all__ = [
    "BlobProgress",
    "ConfigReloaded",
    "Event",
    "EventSink",
    "Fanout",
    "ImageDone",
    "ImageFailed",
    "NDJSONWriter",
    "NextRun",
    "RateLimitWait",
    "RunStarted",
    "RunSummary",
    "event_dict",
]


def _now() -> float:
    return round(time.time(), 3)


@dataclass(frozen=True)
class RunStarted:
    kind: ClassVar[str] = "start"
    plan: str
    images: int
    copies: int
    bytes: int
    resumed: int = 0
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class BlobProgress:
    kind: ClassVar[str] = "blob"
    image: str
    digest: str
    size: int
    done: int
    how: str | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ImageDone:
    kind: ClassVar[str] = "image"
    source: str
    target: str
    tags: tuple[str, ...]
    digest: str
    how: str
    bytes: int = 0
    seconds: float = 0.0
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ImageFailed:
    kind: ClassVar[str] = "error"
    source: str
    target: str
    error: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RateLimitWait:
    kind: ClassVar[str] = "ratelimit"
    host: str
    remaining: int
    action: str
    seconds: float = 0.0
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RunSummary:
    kind: ClassVar[str] = "summary"
    copied: int
    up_to_date: int
    skipped: int
    failed: int
    bytes: int
    seconds: float
    stopped: str | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class NextRun:
    """``sync serve``: when the next run starts (``at``, seconds since the epoch)."""

    kind: ClassVar[str] = "next"
    at: float
    schedule: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ConfigReloaded:
    """``sync serve``: the config was read again (``error``: it did not load, the old one
    stays)."""

    kind: ClassVar[str] = "reload"
    ok: bool
    error: str | None = None
    time: float = field(default_factory=_now)


Event = (
    RunStarted
    | BlobProgress
    | ImageDone
    | ImageFailed
    | RateLimitWait
    | RunSummary
    | NextRun
    | ConfigReloaded
)
EventSink = Callable[[Event], None]
"""Where events go: any callable taking one (called from worker threads)."""


def event_dict(event: Event) -> dict[str, Any]:
    """``event`` as the JSON object NDJSON lines hold: ``{"event": kind, ...fields}``."""
    data = asdict(event)
    if "tags" in data:
        data["tags"] = list(data["tags"])
    return {"event": event.kind, **data}


class NDJSONWriter:
    """An event sink writing one JSON object per line to a text stream, flushed per line."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = json.dumps(event_dict(event), separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class Fanout:
    """Several sinks as one."""

    def __init__(self, *sinks: EventSink | None) -> None:
        self._sinks = [s for s in sinks if s is not None]

    def __call__(self, event: Event) -> None:
        for sink in self._sinks:
            sink(event)
