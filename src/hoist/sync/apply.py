"""Carrying out a sync plan: images in parallel, within quotas, resumably.

::

    result = sync_apply(client, config)                  # plans, then applies
    result = sync_apply(client, config, plan, jobs=8, events=NDJSONWriter(sys.stdout))
    if not result.ok:
        print(result.failed)

- Each digest is copied once per target repository, however many tags name it: the first tag
  gets a copy, the others one manifest PUT each. Blobs shared between repositories cross once
  per registry (see :mod:`hoist.sync.memory`).
- ``jobs`` images at once; a registry with ``jobs`` set under ``registries:`` gets no more than
  that many at once (the per-registry throttle).
- The rate-limit floor: before an image is read from a registry that reports a pull limit
  (Docker Hub's ``ratelimit-remaining``, learnt with a HEAD, which is free), the remaining count
  is compared with ``ratelimit.min``; under it, the run waits (``action: wait``) or copies nothing
  more from that registry (``stop``). A 429 from a registry stops that registry too.
- A failed image is reported and the run goes on; the result (and the CLI's exit code) says so.
- The journal records each image as it lands; an apply killed halfway and run again with the
  same config (or the same plan) skips what is done without a request (:mod:`hoist.sync.journal`).
- A plan from a file, or resumed, is checked image by image before anything is written: a target
  tag that moved since the plan was made is not overwritten (an error), one that already holds the
  result counts as done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hoist.errors import ErrorCode, HoistError, NotFound, RegistryError, TransportError
from hoist.store.base import RateLimited
from hoist.sync.events import (
    BlobProgress,
    EventSink,
    ImageDone,
    ImageFailed,
    RateLimitWait,
    RunStarted,
    RunSummary,
)
from hoist.sync.memory import RunMemory, repository_key

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.copy import CopyResult, Progress
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest
    from hoist.model.reference import ImageRef
    from hoist.sync.config import RateLimitFloor, SyncConfig
    from hoist.sync.journal import Journal, JournalState
    from hoist.sync.plan import Plan, PlanImage

__all__ = ["ApplyResult", "Failure", "sync_apply"]

log = logging.getLogger(__name__)

BLOB_EVENT_BYTES = 4 << 20
BLOB_EVENT_SECONDS = 0.5
"""A blob's progress is reported every 4 MiB or half second, whichever comes later."""


class PlanMismatch(HoistError):
    """The target moved since the plan was made, or a copy wrote another digest than planned."""


@dataclass(frozen=True)
class Failure:
    """An image that was not done, and why."""

    source: str
    target: str
    error: str


@dataclass
class ApplyResult:
    """What an apply did. ``ok`` when nothing failed and nothing was left undone."""

    plan: Plan
    copied: int = 0
    """Images (tags or digests) written by a copy or a tag."""
    up_to_date: int = 0
    journal: int = 0
    """Images the journal of an earlier, unfinished run had done."""
    skipped: int = 0
    """Images left undone because the run stopped (rate limit)."""
    failed: list[Failure] = field(default_factory=list)
    bytes: int = 0
    mounted: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    resumed: bool = False
    journal_path: Path | None = None
    copies: list[CopyResult] = field(default_factory=list)
    """What each copy did, blob by blob."""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped and self.stopped is None

    def to_dict(self) -> dict[str, object]:
        return {
            "plan": self.plan.id,
            "copied": self.copied,
            "up_to_date": self.up_to_date,
            "journal": self.journal,
            "skipped": self.skipped,
            "failed": [f.__dict__ for f in self.failed],
            "bytes": self.bytes,
            "mounted": self.mounted,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
            "resumed": self.resumed,
            "ok": self.ok,
        }


@dataclass
class _Unit:
    """One copy: a source digest to one target repository, under one or more names."""

    images: list[PlanImage]

    @property
    def first(self) -> PlanImage:
        return self.images[0]

    def label(self) -> str:
        return repository_key(self.first.target_ref)


def sync_apply(
    client: Client,
    config: SyncConfig,
    plan: Plan | None = None,
    *,
    jobs: int | None = None,
    events: EventSink | None = None,
    progress: Progress | None = None,
    journal: Path | Literal[False] | None = None,
    fresh: bool = False,
    memory: RunMemory | None = None,
    stop: threading.Event | None = None,
) -> ApplyResult:
    """Apply ``plan`` (made now from ``config`` when None) and return what was done.

    ``journal``: the journal file (None: the config's ``journal``, else one per config file
    under ``$XDG_STATE_HOME``; False: none). ``fresh`` ignores an unfinished journal.
    ``progress`` also gets every blob's progress (a terminal's bars). ``stop``, once set, starts
    no further image.
    """
    from hoist.sync.journal import Journal, default_journal_path, read_journal
    from hoist.sync.plan import Plan, sync_plan

    started = time.monotonic()
    memory = memory or RunMemory()
    emit: EventSink = events or (lambda event: None)
    path: Path | None
    if journal is False:
        path = None
    elif journal is not None:
        path = journal
    elif config.journal is not None:
        path = config.journal
    elif config.path is not None:
        path = default_journal_path(config.path)
    else:
        path = None
    state: JournalState | None = None if path is None or fresh else read_journal(path)
    resumable = (
        state is not None
        and not state.finished
        and state.config_digest == config.digest
        and time.time() - state.started <= config.resume_within.total_seconds()
    )
    checked = plan is not None
    if plan is None:
        if resumable and state is not None and state.plan is not None:
            plan = Plan.from_dict(state.plan, f"{path} (journal)")
            checked = True
        else:
            plan = sync_plan(client, config, memory=memory)
    resumed = bool(resumable and state is not None and state.plan_id == plan.id)
    done_before = state if resumed else None
    writer: Journal | None = None
    if path is not None:
        writer = Journal.resume(path) if resumed else Journal.start(path, plan, config.digest)
    result = ApplyResult(plan, resumed=resumed, journal_path=path)
    memory.copying = True
    try:
        _Run(
            client,
            config,
            plan,
            memory,
            emit,
            progress,
            writer,
            done_before,
            checked,
            stop,
            jobs or config.jobs,
            result,
        ).run()
    finally:
        memory.copying = False
        result.seconds = time.monotonic() - started
        result.mounted = memory.mounted
        if writer is not None:
            writer.finish(result.ok)
            writer.close()
    emit(
        RunSummary(
            copied=result.copied,
            up_to_date=result.up_to_date,
            skipped=result.skipped + result.journal,
            failed=len(result.failed),
            bytes=result.bytes,
            seconds=round(result.seconds, 3),
            stopped=result.stopped,
        )
    )
    return result


class _Run:
    def __init__(
        self,
        client: Client,
        config: SyncConfig,
        plan: Plan,
        memory: RunMemory,
        emit: EventSink,
        progress: Progress | None,
        journal: Journal | None,
        state: JournalState | None,
        checked: bool,
        stop: threading.Event | None,
        jobs: int,
        result: ApplyResult,
    ) -> None:
        self.client = client
        self.config = config
        self.plan = plan
        self.memory = memory
        self.emit = emit
        self.progress = progress
        self.journal = journal
        self.state = state
        self.checked = checked
        self.stop = stop or threading.Event()
        self.jobs = max(1, jobs)
        self.result = result
        self.lock = threading.Lock()
        self.floor = _Floor(config.ratelimit, emit, self.stop)
        self.throttle = _Throttle(config)

    def at(self, ref: ImageRef) -> Location:
        return self.memory.location(self.client, ref)

    def run(self) -> None:
        plan = self.plan
        pending = [i for i in plan.images if i.pending]
        units = self._units(pending)
        summary = plan.summary
        state = self.state
        self.emit(
            RunStarted(
                plan=plan.id,
                images=summary.images,
                copies=len(units),
                bytes=summary.bytes,
                resumed=sum(1 for i in pending if state is not None and state.is_done(i)),
            )
        )
        for error in plan.errors:
            self.result.failed.append(Failure(error.source, "", error.error))
            self.emit(ImageFailed(error.source, "", error.error))
        self.result.up_to_date += len(plan.images) - len(pending)
        # Images first, then what refers to them (digest tags, referrers).
        first = [u for u in units if u.first.kind in ("tag", "digest")]
        later = [u for u in units if u.first.kind not in ("tag", "digest")]
        for phase in (first, later):
            self._phase(phase)

    def _units(self, pending: Sequence[PlanImage]) -> list[_Unit]:
        groups: dict[tuple[str, str, str, tuple[str, ...] | None], _Unit] = {}
        for image in pending:
            key = (
                repository_key(image.source_ref),
                str(image.digest),
                repository_key(image.target_ref),
                image.platforms,
            )
            if key in groups:
                groups[key].images.append(image)
            else:
                groups[key] = _Unit([image])
        return list(groups.values())

    def _phase(self, units: list[_Unit]) -> None:
        if not units:
            return
        workers = min(self.jobs, len(units))
        if workers == 1:
            for unit in units:
                self._unit(unit)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hoist-sync") as pool:
            for future in [pool.submit(self._unit, u) for u in units]:
                future.result()

    # -- one copy -------------------------------------------------------------------------------

    def _unit(self, unit: _Unit) -> None:
        todo = []
        for image in unit.images:
            if self.state is not None and self.state.is_done(image):
                with self.lock:
                    self.result.journal += 1
                continue
            todo.append(image)
        if not todo:
            first = unit.first
            self.emit(
                ImageDone(
                    first.source, unit.label(), _names(unit.images), str(first.result), "journal"
                )
            )
            return
        reason = "stopped" if self.stop.is_set() else None
        first = todo[0]
        src = self.at(first.source_ref)
        if reason is None:
            reason = self.floor.check(src)
        if reason is not None:
            with self.lock:
                self.result.skipped += len(todo)
                self.result.stopped = self.result.stopped or reason
            return
        started = time.monotonic()
        try:
            with self.throttle.hold(src.host, first.target_ref.host):
                started = time.monotonic()  # the wait for the throttle is not the copy's time
                how, moved, names = self._copy(src, todo)
        except HoistError as exc:
            if _rate_limited(exc) and src.host is not None:
                self.floor.stop_host(src.host, f"{src.host}: rate limited ({exc})")
            message = str(exc)
            log.warning("%s -> %s: %s", first.source, first.target, message)
            with self.lock:
                for image in todo:
                    self.result.failed.append(Failure(image.source, image.target, message))
            for image in todo:
                if self.journal is not None:
                    self.journal.failed(image, message)
            self.emit(ImageFailed(first.source, unit.label(), message))
            return
        self.emit(
            ImageDone(
                first.source,
                unit.label(),
                names,
                str(first.result),
                how,
                bytes=moved,
                seconds=round(time.monotonic() - started, 3),
            )
        )

    def _copy(self, src: Location, todo: list[PlanImage]) -> tuple[str, int, tuple[str, ...]]:
        from hoist.copy import CopyOptions, image_copy

        targets = [(image, self.at(image.target_ref)) for image in todo]
        if self.checked:
            targets = self._check(targets)
            if not targets:
                return "up-to-date", 0, ()
        for image, dst in targets:
            if image.backup and image.current is not None:
                self._backup(image, dst)
        first, dst = targets[0]
        options = CopyOptions(platforms=first.platforms or (), concurrency=self.config.concurrency)
        reporter = _BlobEvents(first.target, self.emit, self.progress)
        copied = image_copy(src, dst, options, progress=reporter)
        if copied.descriptor.digest != first.result:
            raise PlanMismatch(
                f"{first.target}: the copy wrote {copied.descriptor.digest}, the plan said "
                f"{first.result}"
            )
        with self.lock:
            self.result.copies.append(copied)
        self._landed(first, copied.bytes_copied)
        how = "up-to-date" if copied.up_to_date else "copied"
        if len(targets) > 1:
            top = dst.by_digest(first.result).manifest_get()  # remembered: no request
            for image, other in targets[1:]:
                other.manifest_put(top)
                self._landed(image, 0)
            how = "copied" if how == "copied" else "tagged"
        names = _names([image for image, _ in targets])
        return how, copied.bytes_copied, names

    def _landed(self, image: PlanImage, moved: int) -> None:
        if self.journal is not None:
            self.journal.done(image)
        with self.lock:
            self.result.copied += 1
            self.result.bytes += moved

    def _check(self, targets: list[tuple[PlanImage, Location]]) -> list[tuple[PlanImage, Location]]:
        """Leave out targets that hold the result already; refuse those that moved since the
        plan was made."""
        keep = []
        for image, dst in targets:
            try:
                now: Digest | None = dst.manifest_head().digest
            except NotFound:
                now = None
            if now == image.result:
                if self.journal is not None:
                    self.journal.done(image)
                with self.lock:
                    self.result.up_to_date += 1
                continue
            if now != image.current:
                raise PlanMismatch(
                    f"{image.target} moved since the plan was made: it holds {now or 'nothing'}, "
                    f"the plan saw {image.current or 'nothing'}; plan again"
                )
            keep.append((image, dst))
        return keep

    def _backup(self, image: PlanImage, dst: Location) -> None:
        """Keep what ``dst`` holds now under the image's backup tag (same repository: only the
        manifest moves)."""
        assert image.current is not None and image.backup is not None
        old = dst.by_digest(image.current).manifest_get()
        dst.with_tag(image.backup).manifest_put(old)
        log.info("kept %s as %s", dst, image.backup)


def _names(images: Sequence[PlanImage]) -> tuple[str, ...]:
    out = []
    for image in images:
        ref = image.target_ref
        out.append(ref.tag if ref.tag is not None and ref.digest is None else str(ref.digest or ""))
    return tuple(out)


def _rate_limited(exc: BaseException) -> bool:
    if isinstance(exc, RegistryError):
        return exc.status == 429 or exc.code == ErrorCode.TOOMANYREQUESTS
    return isinstance(exc, TransportError) and ": 429 " in str(exc)


# -- the floor and the throttle -------------------------------------------------------------------


def _remaining(value: str | None) -> int | None:
    """``76;w=21600`` -> 76."""
    if value is None:
        return None
    head = value.split(";", 1)[0].strip()
    return int(head) if head.isdigit() else None


class _Floor:
    """The rate-limit floor, per registry host."""

    def __init__(self, floor: RateLimitFloor, emit: EventSink, stop: threading.Event) -> None:
        self.floor = floor
        self.emit = emit
        self.stop = stop
        self._lock = threading.Lock()
        self._hosts: dict[str, threading.Lock] = {}
        self._unlimited: set[str] = set()
        self._stopped: dict[str, str] = {}

    def stop_host(self, host: str, reason: str) -> None:
        with self._lock:
            self._stopped.setdefault(host, reason)

    def check(self, src: Location) -> str | None:
        """None to go on; else why nothing more is read from ``src``'s registry."""
        host = src.host
        if self.floor.min <= 0 or host is None:
            return None
        with self._lock:
            if host in self._stopped:
                return self._stopped[host]
            if host in self._unlimited:
                return None
            lock = self._hosts.setdefault(host, threading.Lock())
        with lock:
            waited = 0.0
            while True:
                with self._lock:
                    if host in self._stopped:
                        return self._stopped[host]
                store = src.store
                info = store.ratelimit(src.ref) if isinstance(store, RateLimited) else {}
                remaining = _remaining(info.get("remaining"))
                if remaining is None:
                    with self._lock:
                        self._unlimited.add(host)
                    return None
                if remaining >= self.floor.min:
                    return None
                max_wait = self.floor.max_wait.total_seconds()
                if self.floor.action == "stop" or waited >= max_wait or self.stop.is_set():
                    reason = f"{host}: {remaining} pulls left, under the floor of {self.floor.min}"
                    self.emit(RateLimitWait(host, remaining, "stop", round(waited, 3)))
                    self.stop_host(host, reason)
                    return reason
                pause = min(self.floor.poll.total_seconds(), max_wait - waited)
                self.emit(RateLimitWait(host, remaining, "wait", round(pause, 3)))
                log.warning(
                    "%s: %d pulls left (floor %d); waiting %.1f s",
                    host,
                    remaining,
                    self.floor.min,
                    pause,
                )
                if self.stop.wait(pause):
                    continue
                waited += pause


class _Throttle:
    """At most ``jobs`` images at once per registry that sets it under ``registries:``."""

    def __init__(self, config: SyncConfig) -> None:
        self._limits = {
            host: threading.BoundedSemaphore(rule.jobs)
            for host, rule in config.registries.items()
            if rule.jobs is not None
        }

    def hold(self, *hosts: str | None) -> ExitStack:
        from hoist.config.settings import normalize_host

        stack = ExitStack()
        for host in sorted({normalize_host(h) for h in hosts if h is not None}):
            limit = self._limits.get(host)
            if limit is None and host in ("registry-1.docker.io", "index.docker.io"):
                limit = self._limits.get("docker.io")
            if limit is not None:
                limit.acquire()
                stack.callback(limit.release)
        return stack


# -- blob progress ---------------------------------------------------------------------------


class _BlobEvents:
    """A copy's Progress as ``blob`` events (and a terminal's bars, when given)."""

    def __init__(self, image: str, emit: EventSink, people: Progress | None) -> None:
        self.image = image
        self.emit = emit
        self.people = people
        self._lock = threading.Lock()
        self._done: dict[Digest, tuple[int, int, float]] = {}

    def plan(self, blobs: Sequence[Descriptor]) -> None:
        if self.people is not None:
            self.people.plan(blobs)

    def start(self, desc: Descriptor) -> None:
        with self._lock:
            self._done[desc.digest] = (0, 0, time.monotonic())
        self.emit(BlobProgress(self.image, str(desc.digest), desc.size, 0))
        if self.people is not None:
            self.people.start(desc)

    def advance(self, desc: Descriptor, nbytes: int) -> None:
        now = time.monotonic()
        report = None
        with self._lock:
            done, told, when = self._done.get(desc.digest, (0, 0, now))
            done += nbytes
            if done - told >= BLOB_EVENT_BYTES and now - when >= BLOB_EVENT_SECONDS:
                report, told, when = done, done, now
            self._done[desc.digest] = (done, told, when)
        if report is not None:
            self.emit(BlobProgress(self.image, str(desc.digest), desc.size, report))
        if self.people is not None:
            self.people.advance(desc, nbytes)

    def finish(self, desc: Descriptor, how: str) -> None:
        with self._lock:
            self._done.pop(desc.digest, None)
        self.emit(BlobProgress(self.image, str(desc.digest), desc.size, desc.size, how))
        if self.people is not None:
            self.people.finish(desc, how)
