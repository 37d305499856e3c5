"""The base image an image records about itself: the OCI annotations ``base.name`` and
``base.digest``.

The image spec pre-defines both (``org.opencontainers.image.base.name``: the reference the
image was built from; ``org.opencontainers.image.base.digest``: the digest of that base's
manifest). ``image build`` writes them on every image built ``FROM`` another image;
``check-base`` and ``image mod --rebase`` read them when no base is named::

    recorded = RecordedBase.from_annotations(manifest.annotations)
    if recorded is not None:
        print(recorded.name, recorded.digest)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hoist.model.digest import Digest

__all__ = ["ANNOTATION_BASE_DIGEST", "ANNOTATION_BASE_NAME", "RecordedBase"]

ANNOTATION_BASE_DIGEST = "org.opencontainers.image.base.digest"
ANNOTATION_BASE_NAME = "org.opencontainers.image.base.name"


@dataclass(frozen=True, slots=True)
class RecordedBase:
    """What an image's annotations say about its base: a name, a digest, or both."""

    name: str | None
    """The base's reference as it was built from (``docker.io/library/alpine:3.20``)."""
    digest: Digest | None
    """The digest of the base's manifest (for that platform) when the image was built."""

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, str]) -> RecordedBase | None:
        """The base ``annotations`` record; None when they record neither name nor digest.
        A digest that does not parse is left out (the name alone is still useful)."""
        name = annotations.get(ANNOTATION_BASE_NAME) or None
        text = annotations.get(ANNOTATION_BASE_DIGEST) or ""
        try:
            digest = Digest.parse(text) if text else None
        except ValueError:
            digest = None
        if name is None and digest is None:
            return None
        return cls(name, digest)

    def annotations(self) -> dict[str, str]:
        """The annotations that record this base (only the parts that are known)."""
        out: dict[str, str] = {}
        if self.name:
            out[ANNOTATION_BASE_NAME] = self.name
        if self.digest is not None:
            out[ANNOTATION_BASE_DIGEST] = str(self.digest)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "digest": str(self.digest) if self.digest else None}
