"""The referrers of a manifest: list them, pick one, walk them as a tree.

::

    app = client.at("reg/app:v1")
    artifact_list(app)                                   # every referrer, sorted
    artifact_list(app, platform="linux/arm64")           # those of one platform's manifest
    newest = ReferrerFilter(artifact_type="application/spdx+json", latest=True)
    sbom = artifact_select(app, newest)                  # one descriptor, or an error
    artifact_get(app.by_digest(sbom.digest), Path("out"))
    artifact_tree(app)                                   # platforms, referrers of referrers

Referrers come from the store: the referrers API, the ``sha256-<hex>`` fallback tag of
registries without one, or an OCI layout's index.json. A referrer's descriptor carries its
manifest's annotations; where a store leaves them out, a filter that needs them reads the
manifest (one request per such referrer).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hoist.errors import InvalidInput, NotFound, Unsupported
from hoist.model import mediatype as mt
from hoist.model.descriptor import Annotations, Descriptor
from hoist.model.manifest import Index
from hoist.model.platform import Platform

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.digest import Digest

__all__ = [
    "ANNOTATION_CREATED",
    "ReferrerFilter",
    "ReferrerNode",
    "artifact_list",
    "artifact_select",
    "artifact_tree",
    "subject_at",
]

log = logging.getLogger(__name__)

ANNOTATION_CREATED = "org.opencontainers.image.created"
"""The manifest annotation ``latest`` orders by (an RFC 3339 time)."""


def _created(value: str | None) -> datetime | None:
    """An RFC 3339 time as an aware datetime (UTC when it names no zone); None if it is not one."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ReferrerFilter:
    """Which referrers to keep, and in what order.

    ``artifact_type``: only referrers of this artifact type. ``annotations``: each key must be
    set on the referrer and, unless its value here is ``""``, equal to that value (regclient's
    rule). Order: ``latest`` puts the newest first by ``org.opencontainers.image.created``
    (compared as times); ``sort_annotation`` orders by that annotation's value as text,
    ``reverse`` descending. Referrers without the annotation come last; with neither, the order
    is by artifact type, then digest.
    """

    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=Annotations)
    latest: bool = False
    sort_annotation: str | None = None
    reverse: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", Annotations(self.annotations))
        if self.latest and self.sort_annotation is not None:
            raise InvalidInput(
                f"latest orders by {ANNOTATION_CREATED}: give it or a sort annotation, not both"
            )
        if self.reverse and self.sort_annotation is None:
            raise InvalidInput("reverse needs a sort annotation to reverse")
        if self.sort_annotation == "":
            raise InvalidInput("the sort annotation must be a key, not empty")

    @property
    def sort_key(self) -> str | None:
        """The annotation the order comes from, if any."""
        return ANNOTATION_CREATED if self.latest else self.sort_annotation

    @property
    def needs_annotations(self) -> bool:
        """Whether matching or ordering reads the referrers' annotations."""
        return bool(self.annotations) or self.sort_key is not None

    def matches(self, desc: Descriptor) -> bool:
        """Whether ``desc`` passes the artifact type and annotation conditions."""
        if self.artifact_type is not None and desc.artifact_type != self.artifact_type:
            return False
        for key, value in self.annotations.items():
            if key not in desc.annotations or (value and desc.annotations[key] != value):
                return False
        return True

    def apply(self, found: Sequence[Descriptor]) -> list[Descriptor]:
        """The descriptors of ``found`` that match, once each, in this filter's order."""
        kept = sorted(
            {d for d in found if self.matches(d)},
            key=lambda d: (d.artifact_type or "", str(d.digest)),
        )
        key = self.sort_key
        if key is None:
            return kept
        if self.latest:
            dated = [(t, d) for d in kept if (t := _created(d.annotations.get(key)))]
            dated.sort(key=lambda pair: pair[0], reverse=True)  # stable: ties keep kept's order
            undated = [d for d in kept if _created(d.annotations.get(key)) is None]
            return [d for _, d in dated] + undated
        having = [d for d in kept if key in d.annotations]
        having.sort(key=lambda d: d.annotations[key], reverse=self.reverse)
        return having + [d for d in kept if key not in d.annotations]

    def describe(self) -> str:
        """The conditions in words, for messages."""
        parts = []
        if self.artifact_type is not None:
            parts.append(f"artifact type {self.artifact_type}")
        parts.extend(f"{k}={v}" if v else f"{k} set" for k, v in self.annotations.items())
        return ", ".join(parts)


def _merged(artifact_type: str | None, match: ReferrerFilter | None) -> ReferrerFilter:
    if match is None:
        return ReferrerFilter(artifact_type=artifact_type)
    if artifact_type is not None and match.artifact_type not in (None, artifact_type):
        raise InvalidInput(
            f"two artifact types asked for: {artifact_type} and {match.artifact_type}"
        )
    if artifact_type is not None and match.artifact_type is None:
        return ReferrerFilter(
            artifact_type,
            match.annotations,
            match.latest,
            match.sort_annotation,
            match.reverse,
        )
    return match


def subject_at(
    subject: Location, platform: Platform | str | None = None
) -> tuple[Location, Descriptor]:
    """``subject`` pinned to its digest, and its descriptor.

    With ``platform``, ``subject`` must be an index: the result is the manifest it holds for
    that platform (its descriptor carries the platform).
    """
    if platform is None:
        head = subject.manifest_head()
        return subject.with_digest(head.digest), Descriptor(head.media_type, head.digest, head.size)
    wanted = Platform.parse(platform) if isinstance(platform, str) else platform
    top = subject.manifest_get()
    if not isinstance(top, Index):
        raise InvalidInput(
            f"{subject} is a single {top.media_type}, not an index: a platform picks a "
            "manifest from an index"
        )
    child = top.choose(wanted)
    return subject.by_digest(child.digest), child


def _annotated(where: Location, desc: Descriptor) -> Descriptor:
    """``desc`` with its manifest's annotations when the store left them out."""
    if desc.annotations:
        return desc
    manifest = where.by_digest(desc.digest).manifest_get()
    annotations = getattr(manifest, "annotations", None)
    return desc.replace(annotations=annotations) if annotations else desc


def artifact_list(
    subject: Location,
    *,
    artifact_type: str | None = None,
    match: ReferrerFilter | None = None,
    platform: Platform | str | None = None,
) -> list[Descriptor]:
    """The referrers of ``subject`` that ``match`` keeps, in its order (default: by artifact
    type, then digest).

    ``artifact_type`` is short for ``ReferrerFilter(artifact_type=...)``. With ``platform``,
    the referrers are those of the manifest an index holds for that platform.
    """
    match = _merged(artifact_type, match)
    pinned, _ = subject_at(subject, platform)
    found = pinned.referrers_list(artifact_type=match.artifact_type)
    if match.needs_annotations:
        found = [_annotated(pinned, d) for d in found]
    return match.apply(found)


def artifact_select(
    subject: Location,
    match: ReferrerFilter,
    *,
    platform: Platform | str | None = None,
) -> Descriptor:
    """The one referrer of ``subject`` that ``match`` picks.

    Without an order exactly one referrer may match; with one (``latest``, a sort
    annotation) the first wins, and it must carry the annotation ordered by. Raises NotFound
    when none matches, InvalidInput when the choice is ambiguous.
    """
    found = artifact_list(subject, match=match, platform=platform)
    where = f"{subject}" + (f" ({platform})" if platform is not None else "")
    conditions = match.describe()
    with_ = f" with {conditions}" if conditions else ""
    if not found:
        raise NotFound(f"no referrer of {where}{with_}")
    key = match.sort_key
    if len(found) > 1:
        if key is None:
            listed = ", ".join(f"{d.digest} ({d.artifact_type or '-'})" for d in found[:5])
            raise InvalidInput(
                f"{len(found)} referrers of {where}{with_}: {listed}; narrow the filter, or "
                "order them (latest, or a sort annotation) to take the first"
            )
        if key not in found[0].annotations or (
            match.latest and _created(found[0].annotations[key]) is None
        ):
            raise InvalidInput(
                f"{len(found)} referrers of {where}{with_}, and none has a "
                f"{'valid ' if match.latest else ''}{key} annotation to order them by"
            )
    return found[0]


@dataclass
class ReferrerNode:
    """A manifest, the manifests it holds (an index: one per platform), and recursively the
    manifests that refer to each."""

    descriptor: Descriptor
    referrers: list[ReferrerNode] = field(default_factory=list)
    manifests: list[ReferrerNode] | None = None
    """An index's manifests (their descriptors carry the platform); None for other nodes."""

    def to_dict(self) -> dict[str, Any]:
        """The descriptor's JSON object with a ``referrers`` list of the same shape, and a
        ``manifests`` list for an index."""
        out = self.descriptor.to_dict()
        if self.manifests is not None:
            out["manifests"] = [m.to_dict() for m in self.manifests]
        out["referrers"] = [r.to_dict() for r in self.referrers]
        return out

    @property
    def children(self) -> list[ReferrerNode]:
        """An index's manifests, then the referrers."""
        return [*(self.manifests or ()), *self.referrers]

    def walk(self, depth: int = 0) -> Iterator[tuple[int, ReferrerNode]]:
        """Every node, depth first, with its depth (the root is 0)."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


def artifact_tree(
    subject: Location, *, artifact_type: str | None = None, platforms: bool = True
) -> ReferrerNode:
    """``subject`` and its referrers, recursively; each manifest appears once (cycle-safe).

    When a node is an index and ``platforms`` is true, its manifests are nodes too, each with
    its own referrers (a signature or SBOM of one platform's image). ``artifact_type`` filters
    the referrers at every level.
    """
    pinned, desc = subject_at(subject)
    root = ReferrerNode(desc)
    seen: set[Digest] = {desc.digest}
    todo = [root]
    while todo:
        node = todo.pop()
        here = pinned.by_digest(node.descriptor.digest)
        if platforms and mt.is_index(node.descriptor.media_type):
            index = here.manifest_get()
            if isinstance(index, Index):
                node.manifests = []
                for child_desc in index.manifests:
                    if child_desc.digest in seen:
                        continue
                    seen.add(child_desc.digest)
                    child = ReferrerNode(child_desc)
                    node.manifests.append(child)
                    todo.append(child)
        try:
            found = here.referrers_list(artifact_type=artifact_type)
        except Unsupported as exc:
            log.info("no referrers of %s: %s", node.descriptor.digest, exc)
            continue
        for d in ReferrerFilter(artifact_type).apply(found):
            if d.digest in seen:
                continue
            seen.add(d.digest)
            child = ReferrerNode(d)
            node.referrers.append(child)
            todo.append(child)
    return root
