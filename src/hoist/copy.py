"""Copy images between any two stores: blobs first and in parallel, manifests last.

::

    result = image_copy(client.at("ocidir://./oci:v1"), client.at("localhost:5000/app:v1"))
    image_copy(src, dst, CopyOptions(platforms=("linux/amd64", "linux/arm64")))

Blobs stream from source to destination with no temporary file, verified while they pass
(or, into a registry, by the registry: see :mod:`hoist.store.registry.uploads`); a blob the
destination has is skipped after one HEAD, and one on the same registry is mounted with no
HEAD. The destination never holds a manifest whose content is missing.

Requests that do not wait for each other travel together: the destination's HEAD with the
source's GET of the top manifest, the children an index lists, the blobs (up to
``concurrency`` big ones at once, small ones beside them), each blob's GET with the upload
session it goes into, and the child manifests of one level. :func:`repo_copy` copies many
tags that way at once, each shared digest once. Into an OCI layout the writes of one copy are
synced once, at its end (:class:`~hoist.store.base.WriteBatcher`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from hoist.errors import (
    BlobNotFound,
    DigestMismatch,
    HoistError,
    InvalidInput,
    ManifestNotFound,
    NotFound,
    PlatformNotFound,
    Unsupported,
)
from hoist.model import mediatype as mt
from hoist.model.descriptor import Descriptor
from hoist.model.digest import CHUNK, Digest
from hoist.model.manifest import MAX_INDEX_DEPTH, MAX_MANIFESTS, ImageManifest, Index, Manifest
from hoist.model.platform import Platform
from hoist.store.base import BlobMounter, BlobReceiver, PutChecker, WriteBatcher

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.platform import PlatformLike
    from hoist.store.base import BlobReader

__all__ = [
    "CopyOptions",
    "CopyResult",
    "Progress",
    "RepoCopyResult",
    "blob_copy",
    "blobs_needed",
    "image_copy",
    "repo_copy",
    "select_platforms",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_R = TypeVar("_R")


class Progress(Protocol):
    """What a copy reports as it goes; every method may be called from worker threads."""

    def plan(self, blobs: Sequence[Descriptor]) -> None: ...
    def start(self, desc: Descriptor) -> None: ...
    def advance(self, desc: Descriptor, nbytes: int) -> None: ...
    def finish(self, desc: Descriptor, how: str) -> None: ...


@dataclass(frozen=True)
class CopyOptions:
    """How to copy; the defaults copy everything, byte for byte.

    ``platform`` copies one platform's manifest alone; ``platforms`` keeps only those platforms
    in a new valid index. Both take :class:`Platform` values or ``os/arch[/variant]`` strings
    (``CopyOptions(platforms=("linux/amd64", "linux/arm64"))``), stored as Platforms.
    """

    platform: Platform | None = None
    platforms: tuple[Platform, ...] = ()
    referrers: bool = False
    digest_tags: bool = False
    force: bool = False
    concurrency: int = 4
    include_nondistributable: bool = False

    if TYPE_CHECKING:  # what callers may pass; __post_init__ makes the fields' types true

        def __init__(
            self,
            platform: PlatformLike | None = None,
            platforms: Iterable[PlatformLike] | PlatformLike | None = (),
            referrers: bool = False,
            digest_tags: bool = False,
            force: bool = False,
            concurrency: int = 4,
            include_nondistributable: bool = False,
        ) -> None: ...

    def __post_init__(self) -> None:
        from hoist.model.platform import as_platform, as_platforms

        if self.platform is not None:
            object.__setattr__(self, "platform", as_platform(self.platform))
        object.__setattr__(self, "platforms", as_platforms(self.platforms))


@dataclass
class CopyResult:
    """What a copy did: the descriptor at the destination and per-blob outcomes."""

    descriptor: Descriptor
    copied: list[Digest] = field(default_factory=list)
    skipped: list[Digest] = field(default_factory=list)
    mounted: list[Digest] = field(default_factory=list)
    manifests: list[Digest] = field(default_factory=list)
    up_to_date: bool = False
    bytes_copied: int = 0


@dataclass
class _Plan:
    """The graph to copy: blobs (unique), child manifests, the top manifest."""

    top: Manifest
    children: list[Manifest] = field(default_factory=list)
    blobs: dict[Digest, Descriptor] = field(default_factory=dict)


def select_platforms(top: Manifest, platforms: Sequence[Platform]) -> Manifest:
    """What a copy with ``platforms`` writes: a new index holding only those platforms (each
    must match one), or ``top`` as it is when no platforms are asked or it is no index."""
    if not platforms or not isinstance(top, Index):
        return top
    keep = [
        d
        for d in top.manifests
        if d.platform is not None and any(p.matches(d.platform) for p in platforms)
    ]
    missing = [p for p in platforms if not any(d.platform and p.matches(d.platform) for d in keep)]
    if missing:
        raise PlatformNotFound(", ".join(map(str, missing)), [str(p) for p in top.platforms()])
    return Index.build(keep, media_type=top.media_type, annotations=top.annotations or None)


def blobs_needed(
    src: Location, top: Manifest, options: CopyOptions | None = None
) -> list[Descriptor]:
    """The blobs a copy of ``top`` (as read at ``src``) needs at its destination, each once,
    in the order the copy walks them; the same limits on nested indexes as a copy."""
    return list(_plan(src, top, options or CopyOptions()).blobs.values())


def _plan(
    src: Location,
    top: Manifest,
    options: CopyOptions,
    fetch: Callable[[Location, Sequence[Digest]], list[Manifest]] | None = None,
) -> _Plan:
    """Every manifest and blob under ``top``, each distinct digest once: an index listing a
    child many times (or two indexes sharing one) costs one fetch and one push of it. The
    children an index lists are fetched together by ``fetch`` (default: one after another)."""
    fetch = fetch or (lambda where, digests: [where.by_digest(d).manifest_get() for d in digests])
    plan = _Plan(top)
    todo: list[tuple[Manifest, int]] = [(top, 0)]
    fetched: dict[Digest, Manifest] = {top.digest: top}
    while todo:
        m, depth = todo.pop(0)
        if isinstance(m, Index):
            missing: list[Digest] = []
            for d in m.manifests:
                if not mt.is_manifest(d.media_type):
                    raise Unsupported(f"index entry {d.digest} has media type {d.media_type}")
                if d.digest not in fetched and d.digest not in missing:
                    missing.append(d.digest)
            if missing and depth >= MAX_INDEX_DEPTH:
                raise InvalidInput(
                    f"{src}: indexes nested more than {MAX_INDEX_DEPTH} deep (at {m.digest})"
                )
            if len(fetched) + len(missing) > MAX_MANIFESTS:
                raise InvalidInput(f"{src}: more than {MAX_MANIFESTS} manifests under one image")
            for child in fetch(src, missing):
                fetched[child.digest] = child
                todo.append((child, depth + 1))
        elif isinstance(m, ImageManifest):
            for d in m.referenced():
                if mt.is_nondistributable(d.media_type) and not options.include_nondistributable:
                    log.info("skipping non-distributable layer %s", d.digest)
                    continue
                plan.blobs.setdefault(d.digest, d)
        else:
            raise Unsupported(f"cannot copy {m.media_type} manifests (schema1 is deprecated)")
    plan.children = _children_first(top, fetched)
    return plan


def _children_first(top: Manifest, fetched: dict[Digest, Manifest]) -> list[Manifest]:
    """The manifests under ``top`` (not ``top``), each once, every one after all it lists:
    the order they must land in (a depth-first post-order, without recursion)."""
    order: list[Manifest] = []
    placed: set[Digest] = {top.digest}
    stack: list[tuple[Manifest, int]] = [(top, 0)]
    while stack:
        m, i = stack.pop()
        entries = m.manifests if isinstance(m, Index) else ()
        if i < len(entries):
            stack.append((m, i + 1))
            child = fetched[entries[i].digest]
            if child.digest not in placed:
                placed.add(child.digest)
                stack.append((child, 0))
        elif m is not top:
            order.append(m)
    return order


class _Counting:
    """Passes reads through, telling progress how many bytes went by.

    ``verifying`` is the wrapped reader: reads here are exactly its reads, so a destination can
    rely on its digest check (see :func:`hoist.store.verified.self_verifying`) and skip its own.
    """

    def __init__(self, reader: BlobReader, on_bytes: Callable[[int], None]) -> None:
        self._reader = reader
        self._on_bytes = on_bytes
        self.verifying = reader

    def read(self, size: int = -1, /) -> bytes:
        data = self._reader.read(size)
        if data:
            self._on_bytes(len(data))
        return data

    def transfer_to(self, sink: object, limit: int) -> int | None:
        move = getattr(self._reader, "transfer_to", None)
        moved: int | None = move(sink, limit) if move is not None else None
        if moved:
            self._on_bytes(moved)
        return moved

    def __iter__(self) -> Iterator[bytes]:
        while data := self.read(CHUNK):
            yield data

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> _Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Source:
    """``desc``'s blob at ``src`` as a :class:`~hoist.store.base.BlobSource`: :meth:`start`
    sends the GET on ``fetches`` (when given) so it travels while the destination opens its
    upload; :meth:`close` closes a reader nobody took."""

    def __init__(
        self,
        src: Location,
        desc: Descriptor,
        progress: Progress | None,
        fetches: ThreadPoolExecutor | None,
    ) -> None:
        self._src = src
        self._desc = desc
        self._progress = progress
        self._fetches = fetches
        self._future: Future[BlobReader] | None = None
        self._taken = False

    def _open(self) -> BlobReader:
        reader = self._src.blob_get(self._desc.digest, self._desc.size)
        progress, desc = self._progress, self._desc
        if progress is None:
            return reader
        return _Counting(reader, lambda n: progress.advance(desc, n))

    def start(self) -> None:
        if self._future is None and self._fetches is not None:
            self._future = self._fetches.submit(self._open)

    def open(self) -> BlobReader:
        self._taken = True
        if self._future is None:
            return self._open()
        return self._future.result()

    def close(self) -> None:
        future = self._future
        if future is None or self._taken:
            return
        if not future.cancel():
            with contextlib.suppress(Exception):
                future.result().close()


def _same_registry(src: Location, dst: Location) -> bool:
    """Whether ``src`` is another repository of ``dst``'s registry, served by one store (so
    a blob may be mounted rather than moved)."""
    return (
        src.store is dst.store
        and src.host is not None
        and src.host == dst.host
        and not src.same_repository(dst)
    )


def blob_copy(
    src: Location,
    dst: Location,
    desc: Descriptor,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> str:
    """Copy one blob from ``src``'s repository to ``dst``'s; returns ``copied``, ``exists``
    or ``mounted``."""
    return _blob_copy(src, dst, desc, force, progress, None)


def _blob_copy(
    src: Location,
    dst: Location,
    desc: Descriptor,
    force: bool,
    progress: Progress | None,
    fetches: ThreadPoolExecutor | None,
) -> str:
    """:func:`blob_copy`, the source's GET sent on ``fetches`` while the destination gets
    ready for it (a registry destination: see :class:`~hoist.store.base.BlobReceiver`)."""
    source = _Source(src, desc, progress, fetches)
    try:
        receiver = dst.store
        if isinstance(receiver, BlobReceiver):
            return receiver.blob_receive(
                dst.ref,
                desc,
                source,
                mount_from=src.ref if _same_registry(src, dst) else None,
                check=not force,
            )
        if not force:
            try:
                dst.blob_head(desc.digest)
                return "exists"
            except BlobNotFound:
                pass
        mounter = dst.store
        if (
            isinstance(mounter, BlobMounter)
            and _same_registry(src, dst)
            and mounter.blob_mount(dst.ref, src.ref, desc.digest)
        ):
            return "mounted"
        with source.open() as reader:
            dst.blob_put(reader, digest=desc.digest, size=desc.size, media_type=desc.media_type)
        return "copied"
    finally:
        source.close()


REQUESTS = 8
"""Requests a copy keeps in flight together at most (manifests, existence checks, mounts,
small blobs): under the transport's ten pooled connections per registry."""
SMALL_BLOB = 1 << 20
"""Blobs up to this size are copied outside ``concurrency``, which bounds the big transfers:
a small blob costs round trips, not bandwidth."""


class _Engine:
    """The threads of one copy: ``pool`` runs the steps (manifest GETs and PUTs, blob copies),
    ``fetches`` the requests a step sends ahead and waits for (the HEAD of the destination,
    child manifests, a blob's GET), so no pool thread waits on work queued behind it.
    ``transfers`` lets ``concurrency`` blobs bigger than :data:`SMALL_BLOB` move at once."""

    def __init__(self, options: CopyOptions) -> None:
        self.options = options
        self.pool = ThreadPoolExecutor(REQUESTS, thread_name_prefix="hoist-copy")
        self.fetches = ThreadPoolExecutor(REQUESTS, thread_name_prefix="hoist-fetch")
        self.transfers = threading.BoundedSemaphore(max(1, options.concurrency))
        self.cancelled = threading.Event()
        self._manifests: dict[str, Future[Manifest]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> _Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancelled.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.fetches.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
        """``fn`` of every item, in flight together on ``pool``; the first failure cancels
        what has not started and is raised."""
        todo = list(items)
        if len(todo) <= 1:
            return [fn(item) for item in todo]
        futures = [self.pool.submit(fn, item) for item in todo]
        try:
            return [future.result() for future in futures]
        except BaseException:
            self.cancelled.set()
            for future in futures:
                future.cancel()
            raise

    def manifests(self, src: Location, digests: Sequence[Digest]) -> list[Manifest]:
        """The manifests ``digests`` name at ``src``, fetched together, each once per copy."""
        futures = []
        with self._lock:
            for digest in digests:
                where = src.by_digest(digest)
                key = str(where)
                if key not in self._manifests:
                    self._manifests[key] = self.fetches.submit(where.manifest_get)
                futures.append(self._manifests[key])
        return [future.result() for future in futures]


@dataclass
class _Job:
    """One image of a copy: where from, where to, and what resolving and planning found."""

    src: Location
    dst: Location
    top: Manifest | None = None
    target: Location | None = None
    up_to_date: bool = False
    plan: _Plan | None = None
    result: CopyResult | None = None


def _target(src: Location, dst: Location) -> Location:
    """Where the top manifest lands: ``dst``; an untagged layout or archive gets ``src``'s tag
    (else latest)."""
    if dst.digest is None and dst.tag is None:
        return dst.with_tag(src.tag or "latest")
    return dst


def _resolve(engine: _Engine, job: _Job) -> None:
    """The top manifest to copy, and whether the destination has it already: the destination's
    HEAD travels with the source's GET."""
    options = engine.options
    src, dst = job.src, job.dst
    target = _target(src, dst)
    head = None if options.force else engine.fetches.submit(target.manifest_head)
    try:
        top = src.manifest_get()
        if options.platform is not None and isinstance(top, Index):
            desc = top.choose(options.platform)
            top = src.by_digest(desc.digest).manifest_get()
        top = select_platforms(top, options.platforms)
        if dst.digest is not None and dst.digest != top.digest:
            raise DigestMismatch(
                f"{src} is {top.digest}, not {dst.digest}", str(dst.digest), str(top.digest)
            )
        job.top = top
        job.target = target
        if head is not None:
            with contextlib.suppress(NotFound):
                job.up_to_date = head.result().digest == top.digest
    finally:
        if head is not None and not head.done():
            head.cancel()


def _copy_jobs(engine: _Engine, jobs: Sequence[_Job], progress: Progress | None) -> None:
    """Resolve every job together, then copy what is not up to date: the blobs of them all,
    each (destination repository, digest) once, then their manifests, children first."""
    options = engine.options
    engine.map(lambda job: _resolve(engine, job), jobs)
    todo = [job for job in jobs if not job.up_to_date]
    for job in jobs:
        if job.up_to_date:
            assert job.top is not None
            job.result = CopyResult(job.top.descriptor(), up_to_date=True)
    if not todo:
        return

    def plan(job: _Job) -> None:
        assert job.top is not None and job.target is not None
        job.plan = _plan(job.src, job.top, options, engine.manifests)
        store = job.dst.store
        if isinstance(store, PutChecker):  # e.g. a layout's index.json limit: fail before blobs
            store.manifest_put_check(job.target.ref, job.top)
        job.result = CopyResult(job.top.descriptor())

    engine.map(plan, todo)
    with contextlib.ExitStack() as batches:
        for job in todo:
            store = job.dst.store
            if isinstance(store, WriteBatcher):
                batches.enter_context(store.write_batch(job.dst.ref))
        _copy_blobs(engine, todo, progress)
        _put_manifests(engine, todo)


def _key(where: Location, digest: Digest) -> str:
    """A digest at a repository (or layout), as a string unique across stores' locations."""
    return str(where.by_digest(digest))


def _copy_blobs(engine: _Engine, jobs: Sequence[_Job], progress: Progress | None) -> None:
    """Every blob the jobs need, once per destination repository: the largest first, so long
    transfers start early and the pool drains evenly."""
    options = engine.options
    owner: dict[str, tuple[_Job, Descriptor]] = {}
    for job in jobs:
        assert job.plan is not None
        for desc in job.plan.blobs.values():
            owner.setdefault(_key(job.dst, desc.digest), (job, desc))
    unique = sorted(owner.values(), key=lambda item: -item[1].size)
    if progress is not None:
        progress.plan([desc for _, desc in unique])
    outcome: dict[str, str] = {}
    lock = threading.Lock()

    def one(item: tuple[_Job, Descriptor]) -> None:
        job, desc = item
        if engine.cancelled.is_set():
            return
        if progress is not None:
            progress.start(desc)
        limit = engine.transfers if desc.size > SMALL_BLOB else contextlib.nullcontext()
        with limit:
            how = _blob_copy(job.src, job.dst, desc, options.force, progress, engine.fetches)
        with lock:
            outcome[_key(job.dst, desc.digest)] = how
            assert job.result is not None
            if how == "copied":
                job.result.bytes_copied += desc.size
        if progress is not None:
            progress.finish(desc, how)

    engine.map(one, unique)
    for job in jobs:
        assert job.plan is not None and job.result is not None
        lists = {"copied": job.result.copied, "exists": job.result.skipped}
        lists["mounted"] = job.result.mounted
        for desc in job.plan.blobs.values():
            lists[outcome[_key(job.dst, desc.digest)]].append(desc.digest)


def _levels(children_first: Iterable[Manifest]) -> dict[Digest, int]:
    """Each manifest's level: 0 for an image manifest, else one more than the deepest manifest
    the index lists (``children_first`` lists every manifest after all it lists)."""
    levels: dict[Digest, int] = {}
    for m in children_first:
        entries = m.manifests if isinstance(m, Index) else ()
        levels[m.digest] = 1 + max((levels.get(d.digest, 0) for d in entries), default=-1)
    return levels


def _put_manifests(engine: _Engine, jobs: Sequence[_Job]) -> None:
    """The child manifests, each once per destination repository, level by level (a manifest
    after everything it lists), those of one level together; then every job's top."""
    children: dict[str, tuple[_Job, Manifest]] = {}
    for job in jobs:
        assert job.plan is not None
        for child in job.plan.children:
            children.setdefault(_key(job.dst, child.digest), (job, child))
    level_of = _levels(child for job in jobs if job.plan for child in job.plan.children)
    levels: dict[int, list[tuple[_Job, Manifest]]] = {}
    for job, child in children.values():
        levels.setdefault(level_of[child.digest], []).append((job, child))

    def put_child(item: tuple[_Job, Manifest]) -> None:
        job, child = item
        job.dst.by_digest(child.digest).manifest_put(child)

    for level in sorted(levels):
        engine.map(put_child, levels[level])
    for job in jobs:
        assert job.plan is not None and job.result is not None
        job.result.manifests.extend(child.digest for child in job.plan.children)

    def put_top(job: _Job) -> None:
        assert job.target is not None and job.top is not None and job.result is not None
        job.target.manifest_put(job.top)
        job.result.manifests.append(job.top.digest)

    engine.map(put_top, jobs)


def image_copy(
    src: Location,
    dst: Location,
    options: CopyOptions | None = None,
    *,
    progress: Progress | None = None,
) -> CopyResult:
    """Copy the image ``src`` names to ``dst`` and return what was done.

    ``dst`` without a tag (an untagged layout or archive) gets ``src``'s tag, else latest; a
    ``dst`` with a digest must be the digest of what is copied.
    """
    options = options or CopyOptions()
    job = _Job(src, dst)
    with _Engine(options) as engine:
        _copy_jobs(engine, [job], progress)
    assert job.result is not None and job.top is not None
    if options.referrers or options.digest_tags:
        children = job.plan.children if job.plan is not None else []
        _copy_extras(src, dst, [job.top, *children], options, progress)
    return job.result


@dataclass
class RepoCopyResult:
    """What a repository copy did: each tag's descriptor at the destination, the tags that were
    up to date, and the blobs and manifests of all the tags, each digest once."""

    tags: dict[str, Descriptor] = field(default_factory=dict)
    up_to_date: list[str] = field(default_factory=list)
    copied: list[Digest] = field(default_factory=list)
    skipped: list[Digest] = field(default_factory=list)
    mounted: list[Digest] = field(default_factory=list)
    manifests: list[Digest] = field(default_factory=list)
    bytes_copied: int = 0


def repo_copy(
    src: Location,
    dst: Location,
    tags: Iterable[str],
    options: CopyOptions | None = None,
    *,
    progress: Progress | None = None,
) -> RepoCopyResult:
    """Copy ``tags`` of ``src``'s repository to ``dst``'s under the same names.

    Every tag is resolved at once (its manifest from ``src``, and a HEAD at ``dst``), then the
    images not up to date are copied together: a blob or manifest that several tags share is
    copied once, and the requests of all of them are in flight together.
    """
    options = options or CopyOptions()
    names = list(dict.fromkeys(tags))
    jobs = [_Job(src.with_tag(t), dst.with_tag(t)) for t in names]
    with _Engine(options) as engine:
        _copy_jobs(engine, jobs, progress)
    out = RepoCopyResult()
    seen: dict[str, set[Digest]] = {}
    for name, job in zip(names, jobs, strict=True):
        assert job.result is not None
        out.tags[name] = job.result.descriptor
        if job.up_to_date:
            out.up_to_date.append(name)
        for what in ("copied", "skipped", "mounted", "manifests"):
            have = seen.setdefault(what, set())
            mine: list[Digest] = getattr(out, what)
            for digest in getattr(job.result, what):
                if digest not in have:
                    have.add(digest)
                    mine.append(digest)
        out.bytes_copied += job.result.bytes_copied
    if options.referrers or options.digest_tags:
        done: set[Digest] = set()
        for job in jobs:
            assert job.top is not None
            if job.top.digest not in done:
                done.add(job.top.digest)
                children = job.plan.children if job.plan is not None else []
                _copy_extras(job.src, job.dst, [job.top, *children], options, progress)
    return out


_DIGEST_TAG = re.compile(r"^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})(\..+)?$")


def _copy_extras(
    src: Location,
    dst: Location,
    manifests: Iterable[Manifest],
    options: CopyOptions,
    progress: Progress | None,
) -> None:
    """Referrers (recursively) and ``sha256-<hex>.*`` digest tags of ``manifests``."""
    digests = {m.digest for m in manifests}
    inner = CopyOptions(
        referrers=options.referrers,
        digest_tags=options.digest_tags,
        force=options.force,
        concurrency=options.concurrency,
        include_nondistributable=options.include_nondistributable,
    )
    done: set[Digest] = set()
    todo = list(digests)
    while options.referrers and todo:
        subject = todo.pop()
        try:
            found = src.by_digest(subject).referrers_list()
        except (Unsupported, ManifestNotFound) as exc:
            log.info("no referrers for %s: %s", subject, exc)
            continue
        for desc in found:
            if desc.digest in done:
                continue
            done.add(desc.digest)
            image_copy(
                src.by_digest(desc.digest),
                dst.by_digest(desc.digest),
                CopyOptions(
                    force=inner.force,
                    concurrency=inner.concurrency,
                    include_nondistributable=inner.include_nondistributable,
                ),
                progress=progress,
            )
            todo.append(desc.digest)
    if options.digest_tags:
        try:
            tags = src.tag_list()
        except HoistError as exc:
            log.info("no tags listed at %s: %s", src, exc)
            return
        wanted = {f"{d.algorithm}-{d.hex}" for d in digests | done}
        for tag in tags:
            m = _DIGEST_TAG.match(tag)
            if m and f"{m.group(1)}-{m.group(2)}" in wanted:
                image_copy(
                    src.with_tag(tag),
                    dst.with_tag(tag),
                    CopyOptions(force=inner.force, concurrency=inner.concurrency),
                    progress=progress,
                )
