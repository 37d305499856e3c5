"""Image manifests and indexes, parsed from the exact bytes they keep.

A manifest's digest is the hash of ``raw``: nothing here re-serialises JSON to compute one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hoist.errors import InvalidManifest, UnsupportedMediaType
from hoist.model import mediatype as mt
from hoist.model.descriptor import Annotations, Descriptor, _annotations
from hoist.model.digest import Digest, digest_of
from hoist.model.jsonvalue import parse_json
from hoist.model.platform import Platform, choose

__all__ = [
    "MAX_INDEX_JSON_SIZE",
    "MAX_MANIFEST_SIZE",
    "ImageManifest",
    "Index",
    "Manifest",
    "Schema1Manifest",
    "parse_manifest",
]

MAX_MANIFEST_SIZE = 4 * 1024 * 1024
"""Manifests larger than 4 MiB are refused, as registries do."""
MAX_INDEX_JSON_SIZE = 64 * 1024 * 1024
"""An OCI layout's (or oci-archive's) ``index.json`` lists every tag, so it has its own limit:
64 MiB, some 300,000 tags (skopeo reads layouts past 4 MiB too)."""
MAX_INDEX_DEPTH = 32
"""Indexes nested deeper than this under one image are refused by walks that fetch them (a
hostile source can serve an endless chain of distinct indexes)."""
MAX_MANIFESTS = 10_000
"""Distinct manifests under one image, at most, for the same walks (the attack, sideways)."""


@dataclass(frozen=True, slots=True)
class _Raw:
    raw: bytes
    media_type: str
    digest: Digest

    @property
    def size(self) -> int:
        return len(self.raw)

    def descriptor(self, **extra: Any) -> Descriptor:
        """The descriptor pointing at these exact bytes."""
        return Descriptor(self.media_type, self.digest, len(self.raw), **extra)

    def json(self) -> dict[str, Any]:
        """A fresh, mutable copy of the parsed JSON, unknown fields included."""
        data: dict[str, Any] = json.loads(self.raw)
        return data


@dataclass(frozen=True, slots=True)
class ImageManifest(_Raw):
    """An OCI image manifest or Docker schema2 manifest."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    annotations: Annotations = field(default_factory=Annotations)
    artifact_type: str | None = None

    @classmethod
    def build(
        cls,
        config: Descriptor,
        layers: Sequence[Descriptor],
        *,
        media_type: str = mt.OCI_MANIFEST,
        annotations: Mapping[str, str] | None = None,
        subject: Descriptor | None = None,
        artifact_type: str | None = None,
    ) -> ImageManifest:
        """Serialise a new manifest (compact JSON) and parse it back."""
        body = {"config": config.to_dict(), "layers": [d.to_dict() for d in layers]}
        parsed = _build(media_type, artifact_type, body, subject, annotations)
        assert isinstance(parsed, ImageManifest)
        return parsed

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST

    def referenced(self) -> tuple[Descriptor, ...]:
        """Every descriptor this manifest needs present: config then layers."""
        return (self.config, *self.layers)


@dataclass(frozen=True, slots=True)
class Index(_Raw):
    """An OCI image index or Docker manifest list."""

    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    annotations: Annotations = field(default_factory=Annotations)
    artifact_type: str | None = None

    @classmethod
    def build(
        cls,
        manifests: Iterable[Descriptor],
        *,
        media_type: str = mt.OCI_INDEX,
        annotations: Mapping[str, str] | None = None,
        subject: Descriptor | None = None,
        artifact_type: str | None = None,
    ) -> Index:
        """Serialise a new index (compact JSON) and parse it back."""
        body = {"manifests": [d.to_dict() for d in manifests]}
        parsed = _build(media_type, artifact_type, body, subject, annotations)
        assert isinstance(parsed, Index)
        return parsed

    def platforms(self) -> list[Platform]:
        """The platforms of the children that declare one, in order."""
        return [d.platform for d in self.manifests if d.platform is not None]

    def choose(self, platform: Platform) -> Descriptor:
        """The child manifest best matching ``platform`` (PlatformNotFound lists the rest)."""
        return choose(
            [d for d in self.manifests if mt.is_manifest(d.media_type)],
            platform,
            lambda d: d.platform,
        )

    def referenced(self) -> tuple[Descriptor, ...]:
        return self.manifests


@dataclass(frozen=True, slots=True)
class Schema1Manifest(_Raw):
    """Docker's deprecated schema1: kept as bytes, readable raw, never written."""

    name: str = ""
    tag: str = ""

    def referenced(self) -> tuple[Descriptor, ...]:
        raise UnsupportedMediaType(
            "Docker schema1 manifests are deprecated and not supported", self.media_type
        )


Manifest = ImageManifest | Index | Schema1Manifest


def _build(
    media_type: str,
    artifact_type: str | None,
    body: Mapping[str, Any],
    subject: Descriptor | None,
    annotations: Mapping[str, str] | None,
) -> Manifest:
    """Serialise fields in the order the specs show them (compact JSON) and parse back."""
    obj: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        obj["artifactType"] = artifact_type
    obj.update(body)
    if subject is not None:
        obj["subject"] = subject.to_dict()
    if annotations:
        obj["annotations"] = dict(annotations)
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return parse_manifest(raw, media_type)


def _guess_media_type(obj: dict[str, Any]) -> str:
    if obj.get("schemaVersion") == 1:
        return mt.DOCKER_SCHEMA1_SIGNED if "signatures" in obj else mt.DOCKER_SCHEMA1
    if "manifests" in obj:
        return mt.OCI_INDEX
    if "config" in obj:
        return mt.OCI_MANIFEST
    raise InvalidManifest("cannot tell the manifest type: no mediaType, config or manifests")


def parse_manifest(
    raw: bytes, media_type: str | None = None, *, max_size: int = MAX_MANIFEST_SIZE
) -> Manifest:
    """Parse manifest bytes; ``media_type`` is the Content-Type it came with, if known.

    Raises InvalidManifest for bad JSON, missing fields or over ``max_size`` (4 MiB; a
    layout's index.json has :data:`MAX_INDEX_JSON_SIZE`), and UnsupportedMediaType for
    content that is not a manifest.
    """
    if len(raw) > max_size:
        limit = f"{max_size >> 20} MiB" if max_size % (1 << 20) == 0 else f"{max_size} bytes"
        raise InvalidManifest(f"manifest of {len(raw)} bytes is over the {limit} limit")
    obj = parse_json(raw, what="manifest", error=InvalidManifest)
    if not isinstance(obj, dict):
        raise InvalidManifest("manifest is not a JSON object")
    header = media_type.split(";", 1)[0].strip() if media_type else ""
    body_type = obj.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise InvalidManifest("mediaType must be a string")
    if body_type and header and mt.is_manifest(header) and body_type != header:
        raise InvalidManifest(f"mediaType {body_type} in the body differs from {header}")
    kind = body_type or (header if mt.is_manifest(header) else "") or _guess_media_type(obj)
    digest = digest_of(raw)
    if mt.is_schema1(kind):
        if obj.get("schemaVersion") != 1 or not isinstance(obj.get("fsLayers"), list):
            raise InvalidManifest("schema1 manifest needs schemaVersion 1 and an fsLayers list")
        return Schema1Manifest(raw, kind, digest, str(obj.get("name", "")), str(obj.get("tag", "")))
    if obj.get("schemaVersion") != 2:
        raise InvalidManifest(f"schemaVersion must be 2, got {obj.get('schemaVersion')!r}")
    artifact_type = obj.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise InvalidManifest("artifactType must be a string")
    subject = (
        Descriptor.from_dict(obj["subject"], "subject") if obj.get("subject") is not None else None
    )
    annotations = _annotations(obj.get("annotations"), "manifest")
    if mt.is_index(kind):
        children = obj.get("manifests")
        if not isinstance(children, list):
            raise InvalidManifest("index: manifests must be a list")
        descs = tuple(Descriptor.from_dict(c, f"manifests[{i}]") for i, c in enumerate(children))
        return Index(raw, kind, digest, descs, subject, annotations, artifact_type)
    if mt.is_image_manifest(kind):
        config = Descriptor.from_dict(obj.get("config"), "config")
        layers = obj.get("layers")
        if not isinstance(layers, list):
            raise InvalidManifest("manifest: layers must be a list")
        descs = tuple(Descriptor.from_dict(x, f"layers[{i}]") for i, x in enumerate(layers))
        return ImageManifest(raw, kind, digest, config, descs, subject, annotations, artifact_type)
    raise UnsupportedMediaType(f"not a manifest media type: {kind}", kind)
