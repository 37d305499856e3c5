"""Descriptors: what a manifest says about the content it points to."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hoist.errors import InvalidManifest, InvalidPlatform
from hoist.model.digest import Digest, digest_of
from hoist.model.platform import Platform

__all__ = ["EMPTY_DESCRIPTOR", "Annotations", "Descriptor"]

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"


class Annotations(Mapping[str, str]):
    """An immutable, hashable string-to-string mapping that keeps insertion order."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, str] = dict(items or {})

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Annotations({self._items!r})"


def _annotations(value: Any, where: str) -> Annotations:
    if value is None:
        return Annotations()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidManifest(f"{where}: annotations must map strings to strings")
    return Annotations(value)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """Media type, digest and size of a piece of content, with optional extras."""

    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: Annotations = field(default_factory=Annotations)
    platform: Platform | None = None
    artifact_type: str | None = None
    data: bytes | None = None

    @classmethod
    def of(cls, media_type: str, content: bytes, **extra: Any) -> Descriptor:
        """The descriptor of ``content`` (sha256)."""
        return cls(media_type, digest_of(content), len(content), **extra)

    @classmethod
    def from_dict(cls, obj: Any, where: str = "descriptor") -> Descriptor:
        """Parse and validate a descriptor JSON object."""
        if not isinstance(obj, dict):
            raise InvalidManifest(f"{where}: not a JSON object")
        media_type = obj.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            raise InvalidManifest(f"{where}: mediaType missing or not a string")
        raw_digest = obj.get("digest")
        if not isinstance(raw_digest, str):
            raise InvalidManifest(f"{where}: digest missing or not a string")
        try:
            digest = Digest.parse(raw_digest)
        except ValueError as exc:
            raise InvalidManifest(f"{where}: {exc}") from None
        size = obj.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidManifest(f"{where}: size missing or not a non-negative integer")
        urls = [] if obj.get("urls") is None else obj["urls"]
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise InvalidManifest(f"{where}: urls must be a list of strings")
        platform = None
        if obj.get("platform") is not None:
            try:
                platform = Platform.from_dict(obj["platform"])
            except InvalidPlatform as exc:
                raise InvalidManifest(f"{where}: {exc}") from None
        artifact_type = obj.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise InvalidManifest(f"{where}: artifactType must be a string")
        data = None
        if obj.get("data") is not None:
            try:
                data = base64.b64decode(obj["data"], validate=True)
            except (ValueError, TypeError):
                raise InvalidManifest(f"{where}: data is not valid base64") from None
            if len(data) != size or digest_of(data, digest.algorithm) != digest:
                raise InvalidManifest(f"{where}: embedded data does not match digest and size")
        return cls(
            media_type,
            digest,
            size,
            tuple(urls),
            _annotations(obj.get("annotations"), where),
            platform,
            artifact_type,
            data,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, fields in the order the specs show them."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode()
        if self.platform is not None:
            out["platform"] = self.platform.to_dict()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    @property
    def ref_name(self) -> str | None:
        """The OCI layout tag (``org.opencontainers.image.ref.name``), if any."""
        return self.annotations.get(ANNOTATION_REF_NAME)

    def replace(self, **changes: Any) -> Descriptor:
        """A copy with some fields changed."""
        values = {f: getattr(self, f) for f in self.__dataclass_fields__}
        values.update(changes)
        if isinstance(values["annotations"], dict):
            values["annotations"] = Annotations(values["annotations"])
        return Descriptor(**values)


EMPTY_DESCRIPTOR = Descriptor.of("application/vnd.oci.empty.v1+json", b"{}", data=b"{}")
"""The OCI empty descriptor (``{}``), for artifacts without a config."""
