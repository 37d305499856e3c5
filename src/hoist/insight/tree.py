"""Image trees: index -> platform manifests -> config and layers, with referrers.

Given several locations, every blob or manifest that more than one parent points to is
marked ``shared``: the layers images have in common, stored (and pulled) once::

    trees = image_tree([client.at("ocidir://oci:base"), client.at("ocidir://oci:app")])
    print(render_text(trees))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hoist.errors import NotFound, Unsupported
from hoist.insight._format import human_size, short_digest
from hoist.model import mediatype as mt
from hoist.model.manifest import ImageManifest, Index, Manifest

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest
    from hoist.model.platform import Platform

__all__ = ["ImageTree", "TreeNode", "image_tree", "mark_shared", "render_text", "short_type"]

MAX_REFERRER_DEPTH = 4

_SHORT_TYPES = {
    mt.OCI_INDEX: "oci index",
    mt.OCI_MANIFEST: "oci manifest",
    mt.OCI_CONFIG: "oci config",
    mt.DOCKER_MANIFEST_LIST: "docker manifest list",
    mt.DOCKER_MANIFEST: "docker manifest",
    mt.DOCKER_CONFIG: "docker config",
    mt.OCI_LAYER: "oci tar",
    mt.OCI_LAYER_GZIP: "oci tar+gzip",
    mt.OCI_LAYER_ZSTD: "oci tar+zstd",
    mt.DOCKER_LAYER: "docker tar.gzip",
    mt.OCI_EMPTY: "oci empty",
}


def short_type(media_type: str) -> str:
    """A media type for people: ``oci tar+gzip``, ``docker manifest``."""
    return _SHORT_TYPES.get(media_type, media_type)


@dataclass
class TreeNode:
    """One manifest, config, layer, referrer or digest tag in an image tree."""

    kind: str
    """``index``, ``manifest``, ``config``, ``layer``, ``blob``, ``referrer`` or ``tag``."""
    digest: Digest
    media_type: str
    size: int
    platform: str | None = None
    label: str = ""
    """The tag of a ``tag`` node."""
    position: int | None = None
    """A layer's index in its manifest."""
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    children: list[TreeNode] = field(default_factory=list)
    users: int = 1
    """How many distinct parents (manifests, references) point at this node's digest."""
    error: str | None = None

    @property
    def shared(self) -> bool:
        return self.users > 1

    def walk(self) -> Iterator[TreeNode]:
        yield self
        for child in self.children:
            yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        for key, value in (
            ("platform", self.platform),
            ("tag", self.label),
            ("index", self.position),
            ("artifactType", self.artifact_type),
            ("annotations", self.annotations),
            ("error", self.error),
        ):
            if value or (key == "index" and value is not None):
                out[key] = value
        if self.kind not in ("referrer", "tag"):
            out["shared"] = self.shared
            if self.shared:
                out["users"] = self.users
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out


@dataclass
class ImageTree:
    """The tree under one location (``ref`` is its text)."""

    ref: str
    root: TreeNode

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, **self.root.to_dict()}


class _Builder:
    def __init__(self, location: Location, platform: Platform | None, referrers: bool) -> None:
        self.location = location
        self.platform = platform
        self.referrers = referrers
        self._tags: list[str] | None = None

    def tags(self) -> list[str]:
        if self._tags is None:
            try:
                self._tags = self.location.tag_list()
            except (NotFound, Unsupported):
                self._tags = []
        return self._tags

    def manifest(self, manifest: Manifest, platform: str | None, depth: int = 0) -> TreeNode:
        kind = "index" if isinstance(manifest, Index) else "manifest"
        node = TreeNode(kind, manifest.digest, manifest.media_type, manifest.size, platform)
        if isinstance(manifest, (Index, ImageManifest)):
            node.artifact_type = manifest.artifact_type
            node.annotations = dict(manifest.annotations)
        if isinstance(manifest, Index):
            node.children.extend(self._children(manifest, depth))
        elif isinstance(manifest, ImageManifest):
            node.children.extend(self._blobs(manifest, node))
        else:
            node.error = "schema1 manifests are not supported"
        if self.referrers and depth < MAX_REFERRER_DEPTH:
            node.children.extend(self._referrers(manifest.digest, depth))
        return node

    def _children(self, index: Index, depth: int) -> Iterator[TreeNode]:
        descs: Sequence[Descriptor] = index.manifests
        if self.platform is not None:
            descs = [index.choose(self.platform)]
        for desc in descs:
            platform = str(desc.platform) if desc.platform else None
            try:
                child = self.location.by_digest(desc.digest).manifest_get()
            except NotFound as exc:
                yield TreeNode(
                    "manifest", desc.digest, desc.media_type, desc.size, platform, error=str(exc)
                )
                continue
            yield self.manifest(child, platform, depth)

    def _blobs(self, manifest: ImageManifest, node: TreeNode) -> Iterator[TreeNode]:
        config = manifest.config
        if node.platform is None and mt.is_config(config.media_type):
            node.platform = self._config_platform(config)
        yield TreeNode("config", config.digest, config.media_type, config.size)
        for i, layer in enumerate(manifest.layers):
            kind = "layer" if mt.is_layer(layer.media_type) else "blob"
            yield TreeNode(
                kind,
                layer.digest,
                layer.media_type,
                layer.size,
                position=i,
                annotations=dict(layer.annotations),
            )

    def _config_platform(self, config: Descriptor) -> str | None:
        from hoist.image import read_config_bytes
        from hoist.model.config import parse_config

        try:  # an oversized config is InvalidConfig, a ValueError
            cfg = parse_config(read_config_bytes(self.location, config))
        except (NotFound, ValueError):
            return None
        return str(cfg.platform) if cfg.os and cfg.architecture else None

    def _referrers(self, subject: Digest, depth: int) -> Iterator[TreeNode]:
        seen: set[Digest] = set()
        try:
            found = self.location.by_digest(subject).referrers_list()
        except (NotFound, Unsupported):
            found = []
        for desc in found:
            seen.add(desc.digest)
            node = TreeNode(
                "referrer",
                desc.digest,
                desc.media_type,
                desc.size,
                artifact_type=desc.artifact_type,
                annotations=dict(desc.annotations),
            )
            if depth + 1 < MAX_REFERRER_DEPTH:
                node.children.extend(self._referrers(desc.digest, depth + 1))
            yield node
        prefix = f"{subject.algorithm}-{subject.hex}"
        for tag in self.tags():
            if not tag.startswith(prefix):
                continue
            try:
                head = self.location.with_tag(tag).manifest_head()
            except NotFound:
                continue
            yield TreeNode("tag", head.digest, head.media_type, head.size, label=tag)


def _tree(location: Location, platform: Platform | None, referrers: bool) -> ImageTree:
    builder = _Builder(location, platform, referrers)
    return ImageTree(str(location), builder.manifest(location.manifest_get(), None))


def image_tree(
    locations: Sequence[Location],
    *,
    platform: Platform | None = None,
    referrers: bool = False,
) -> list[ImageTree]:
    """The tree under each location, with nodes more than one parent uses marked shared.

    With ``platform`` only that platform's branch of an index; with ``referrers`` the
    referrers of every manifest and its ``sha256-<hex>`` digest tags too.
    """
    trees = [_tree(location, platform, referrers) for location in locations]
    mark_shared(trees)
    return trees


def mark_shared(trees: Sequence[ImageTree]) -> None:
    """Set ``users`` on every node: the distinct parents pointing at its digest."""
    parents: dict[tuple[str, Digest], set[str]] = {}
    nodes: list[TreeNode] = []

    def visit(node: TreeNode, parent: str) -> None:
        if node.kind in ("referrer", "tag"):
            for child in node.children:
                visit(child, str(node.digest))
            return
        parents.setdefault((node.kind, node.digest), set()).add(parent)
        nodes.append(node)
        for child in node.children:
            visit(child, str(node.digest))

    for tree in trees:
        visit(tree.root, "ref:" + tree.ref)
    for node in nodes:
        node.users = len(parents[(node.kind, node.digest)])


def _line(node: TreeNode, full: bool) -> str:
    digest = short_digest(node.digest, full)
    head = f"layer {node.position}" if node.kind in ("layer", "blob") else node.kind
    parts = [head, digest, short_type(node.media_type), human_size(node.size)]
    if node.kind == "tag":
        parts.insert(1, node.label)
    if node.platform:
        parts.append(node.platform)
    if node.artifact_type:
        parts.append(node.artifact_type)
    if node.shared:
        parts.append(f"[shared by {node.users}]")
    if node.error:
        parts.append(f"ERROR: {node.error}")
    return "  ".join(parts)


def render_text(trees: Sequence[ImageTree], *, full: bool = False) -> str:
    """Trees drawn with box characters, one reference after another."""
    lines: list[str] = []

    def draw(node: TreeNode, prefix: str, last: bool) -> None:
        lines.append(prefix + ("└── " if last else "├── ") + _line(node, full))
        inner = prefix + ("    " if last else "│   ")
        for i, child in enumerate(node.children):
            draw(child, inner, i == len(node.children) - 1)

    for n, tree in enumerate(trees):
        if n:
            lines.append("")
        lines.append(tree.ref)
        draw(tree.root, "", True)
    return "\n".join(lines)
