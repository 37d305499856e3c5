"""Copy images between any two stores: blobs first and in parallel, manifests last.

::

    result = image_copy(client.at("ocidir://./oci:v1"), client.at("localhost:5000/app:v1"))
    image_copy(src, dst, CopyOptions(platforms=("linux/amd64", "linux/arm64")))

Blobs stream from source to destination with no temporary file, verified while they pass;
a blob the destination has is skipped after one HEAD, and one on the same registry is mounted.
The destination never holds a manifest whose content is missing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from hoist.errors import (
    BlobNotFound,
    DigestMismatch,
    HoistError,
    ManifestNotFound,
    NotFound,
    PlatformNotFound,
    Unsupported,
)
from hoist.model import mediatype as mt
from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest, Index, Manifest
from hoist.model.platform import Platform
from hoist.store.base import BlobMounter, PutChecker

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.platform import PlatformLike
    from hoist.store.base import BlobReader

__all__ = ["CopyOptions", "CopyResult", "Progress", "blob_copy", "image_copy"]

log = logging.getLogger(__name__)


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
    with src.blob_get(desc.digest, desc.size) as reader:
        source = (
            reader if progress is None else _Counting(reader, lambda n: progress.advance(desc, n))
        )
        dst.blob_put(source, digest=desc.digest, size=desc.size, media_type=desc.media_type)
    return "copied"


@dataclass
class _Plan:
    """The graph to copy: blobs (unique), child manifests, the top manifest."""

    top: Manifest
    children: list[Manifest] = field(default_factory=list)
    blobs: dict[Digest, Descriptor] = field(default_factory=dict)


def _select(top: Manifest, options: CopyOptions) -> Manifest:
    """With ``--platforms``, a new index holding only those platforms."""
    if not options.platforms or not isinstance(top, Index):
        return top
    keep = [
        d
        for d in top.manifests
        if d.platform is not None and any(p.matches(d.platform) for p in options.platforms)
    ]
    missing = [
        p for p in options.platforms if not any(d.platform and p.matches(d.platform) for d in keep)
    ]
    if missing:
        raise PlatformNotFound(", ".join(map(str, missing)), [str(p) for p in top.platforms()])
    return Index.build(keep, media_type=top.media_type, annotations=top.annotations or None)


def _plan(src: Location, top: Manifest, options: CopyOptions) -> _Plan:
    """Every manifest and blob under ``top``, each distinct digest once: an index listing a
    child many times (or two indexes sharing one) costs one fetch and one push of it."""
    plan = _Plan(top)
    todo: list[Manifest] = [top]
    fetched: dict[Digest, Manifest] = {top.digest: top}
    while todo:
        m = todo.pop(0)
        if isinstance(m, Index):
            for d in m.manifests:
                if not mt.is_manifest(d.media_type):
                    raise Unsupported(f"index entry {d.digest} has media type {d.media_type}")
                if d.digest not in fetched:
                    child = src.by_digest(d.digest).manifest_get()
                    fetched[d.digest] = child
                    todo.append(child)
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
    top = src.manifest_get()
    if options.platform is not None and isinstance(top, Index):
        desc = top.choose(options.platform)
        top = src.by_digest(desc.digest).manifest_get()
    top = _select(top, options)
    if dst.digest is not None:
        target = dst.by_digest(top.digest)
    elif dst.tag is None:  # an untagged layout or archive: keep the source's tag
        target = dst.with_tag(src.tag or "latest")
    else:
        target = dst
    if dst.digest is not None and dst.digest != top.digest:
        raise DigestMismatch(
            f"{src} is {top.digest}, not {dst.digest}", str(dst.digest), str(top.digest)
        )
    if not options.force:
        try:
            if target.manifest_head().digest == top.digest:
                result = CopyResult(top.descriptor(), up_to_date=True)
                if options.referrers or options.digest_tags:
                    _copy_extras(src, dst, [top], options, progress)
                return result
        except NotFound:
            pass
    plan = _plan(src, top, options)
    if isinstance(dst.store, PutChecker):  # e.g. a layout's index.json limit: fail before blobs
        dst.store.manifest_put_check(target.ref, top)
    result = CopyResult(top.descriptor())
    blobs = list(plan.blobs.values())
    _copy_blobs(src, dst, blobs, options, progress, result)
    for child in plan.children:
        dst.by_digest(child.digest).manifest_put(child)
        result.manifests.append(child.digest)
    target.manifest_put(top)
    result.manifests.append(top.digest)
    if options.referrers or options.digest_tags:
        _copy_extras(src, dst, [top, *plan.children], options, progress)
    return result


def _copy_blobs(
    src: Location,
    dst: Location,
    blobs: list[Descriptor],
    options: CopyOptions,
    progress: Progress | None,
    result: CopyResult,
) -> None:
    if progress is not None:
        progress.plan(blobs)
    lock = threading.Lock()
    cancelled = threading.Event()

    def one(desc: Descriptor) -> None:
        if cancelled.is_set():
            return
        if progress is not None:
            progress.start(desc)
        how = blob_copy(src, dst, desc, force=options.force, progress=progress)
        with lock:
            {"copied": result.copied, "exists": result.skipped, "mounted": result.mounted}[
                how
            ].append(desc.digest)
            if how == "copied":
                result.bytes_copied += desc.size
        if progress is not None:
            progress.finish(desc, how)

    # Largest first: the long transfers start early and the pool drains evenly.
    ordered = sorted(blobs, key=lambda d: -d.size)
    workers = max(1, min(options.concurrency, len(ordered)))
    if workers == 1:
        for desc in ordered:
            one(desc)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hoist-copy") as pool:
        futures = [pool.submit(one, d) for d in ordered]
        try:
            for future in futures:
                future.result()
        except BaseException:
            cancelled.set()
            for future in futures:
                future.cancel()
            raise


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
