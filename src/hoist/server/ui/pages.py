"""What each page of the web view shows, as typed values: built by
:class:`~hoist.server.ui.views.Views`, laid out by the templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hoist.model import mediatype as mt
from hoist.model.config import ImageConfig
from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest, Index, Manifest
from hoist.server.ui.sorting import Page

__all__ = [
    "ChildRow",
    "Command",
    "Entry",
    "HistoryRow",
    "ImagePage",
    "JsonLink",
    "JsonPage",
    "LayerInfo",
    "LayerPage",
    "Listing",
    "ReferrerNode",
    "RepoRow",
    "RepositoriesPage",
    "RepositoryPage",
    "SubjectReferrers",
    "Summary",
    "TagRow",
    "User",
]


@dataclass(frozen=True, slots=True)
class Summary:
    """One manifest at a glance: what the repository page shows for a tag."""

    digest: Digest
    media_type: str
    kind: str
    """``index``, ``image``, ``artifact``, ``schema1``, ``missing`` or ``invalid``."""
    manifest_size: int = 0
    size: int = 0
    """The manifest and every blob and manifest it references, each counted once."""
    platforms: tuple[str, ...] = ()
    created: str | None = None
    artifact_type: str | None = None
    subject: Digest | None = None
    layers: Mapping[Digest, tuple[str, ...]] = field(default_factory=dict)
    """Each layer (by blob digest) and the platforms of the manifests using it."""
    blobs: Mapping[Digest, int] = field(default_factory=dict)
    """Every blob referenced (configs, layers) and its size."""
    children: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RepoRow:
    name: str
    tags: int
    manifests: int
    blobs: int
    size: int
    """Bytes of the manifests and blobs the repository links, each counted once."""
    last_push: float | None


@dataclass(frozen=True, slots=True)
class RepositoriesPage:
    rows: list[RepoRow]
    page: Page
    sum_of_sizes: int
    """What the rows' sizes add up to: shared blobs counted once per repository."""
    stored: int
    """The blob store on disk: every blob once, however many repositories link it."""
    stored_blobs: int


@dataclass(frozen=True, slots=True)
class TagRow:
    tag: str
    digest: Digest
    pushed: float
    summary: Summary
    referrers: int
    digest_tag_of: Digest | None = None
    """For a ``sha256-<hex>.sig``-style tag: the digest it is attached to."""


@dataclass(frozen=True, slots=True)
class ReferrerNode:
    """A referrer (or a digest tag) of a manifest, with its own referrers."""

    digest: Digest
    media_type: str
    size: int
    artifact_type: str | None
    annotations: Mapping[str, str]
    tag: str | None = None
    """Set for a digest tag (``sha256-<hex>.sig``) rather than a referrers-API entry."""
    children: tuple[ReferrerNode, ...] = ()


@dataclass(frozen=True, slots=True)
class SubjectReferrers:
    subject: Digest
    tags: tuple[str, ...]
    referrers: tuple[ReferrerNode, ...]


@dataclass(frozen=True, slots=True)
class RepositoryPage:
    name: str
    rows: list[TagRow]
    page: Page
    sort: str
    order: str
    per_page: int
    stats: RepoRow
    subjects: list[SubjectReferrers]
    more_subjects: bool


@dataclass(frozen=True, slots=True)
class User:
    """An image that uses a layer: ``repository:tag`` (at ``digest``), on ``platforms``."""

    repository: str
    tag: str
    digest: Digest
    platforms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChildRow:
    """A manifest an index lists."""

    descriptor: Descriptor
    platform: str | None
    selected: bool
    present: bool


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """A history step beside the layer it made (``layer`` None: a config-only step)."""

    step: int | None
    created_by: str | None
    created: str | None
    empty_layer: bool
    layer: LayerInfo | None


@dataclass(frozen=True, slots=True)
class LayerInfo:
    position: int
    descriptor: Descriptor
    diff_id: Digest | None
    users: tuple[User, ...]
    more_users: bool


@dataclass(frozen=True, slots=True)
class Command:
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class JsonLink:
    label: str
    digest: Digest
    media_type: str
    kind: str
    """``manifest`` or ``blob``: which registry endpoint serves the raw bytes."""


@dataclass(frozen=True, slots=True)
class ImagePage:
    name: str
    host: str
    top: Manifest
    tags: tuple[str, ...]
    index: Index | None
    children: list[ChildRow]
    manifest: ImageManifest | None
    config: ImageConfig | None
    config_error: str | None
    history: list[HistoryRow]
    layers: list[LayerInfo]
    referrers: list[ReferrerNode]
    subject: Descriptor | None
    subject_present: bool
    subject_tags: tuple[str, ...]
    picture: bool
    """Whether the shared-layer picture can be drawn (Graphviz's ``dot`` is installed)."""
    commands: list[Command]
    json_links: list[JsonLink]

    @property
    def is_artifact(self) -> bool:
        m = self.manifest
        return m is not None and (
            m.artifact_type is not None or not mt.is_config(m.config.media_type)
        )

    @property
    def title(self) -> str:
        ref = f"{self.name}:{self.tags[0]}" if self.tags else f"{self.name}@{self.top.digest}"
        kind = "index" if self.index is not None else "artifact" if self.is_artifact else "image"
        return f"{kind} {ref}"


@dataclass(frozen=True, slots=True)
class Entry:
    mode: str
    path: str
    size: int
    target: str


@dataclass(frozen=True, slots=True)
class Listing:
    entries: tuple[Entry, ...]
    total: int
    diff_id: Digest
    uncompressed: int
    compression: str


@dataclass(frozen=True, slots=True)
class LayerPage:
    name: str
    host: str
    digest: Digest
    size: int
    media_type: str | None
    image: Digest | None
    """The manifest the page was reached from (for its position, diff_id and steps)."""
    image_tags: tuple[str, ...]
    position: int | None
    diff_id: Digest | None
    steps: tuple[str, ...]
    users: tuple[User, ...]
    more_users: bool
    listing: Listing | None
    listing_note: str | None
    commands: list[Command]


@dataclass(frozen=True, slots=True)
class JsonPage:
    name: str
    digest: Digest
    kind: str
    """``manifest`` or ``blob``."""
    media_type: str
    size: int
    parts: list[tuple[str, str | None]]
    """The pretty JSON cut at digests: ``(text, None)`` or ``(digest, role)`` with role
    ``manifest``, ``config`` or ``layer`` (what the page links it to)."""
