"""The images a build starts from: FROM and ``COPY --from`` references, resolved per platform.

Each image is opened once per platform and read lazily: its manifest and config, never its
layers (those are read only through :class:`~hoist.authoring.stagefs.StageFiles`, when a
``COPY --from`` needs files from them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hoist.authoring.draft import DraftLayer
from hoist.authoring.stage import StageState
from hoist.errors import InvalidDockerfile, InvalidInput
from hoist.image import Image
from hoist.model.platform import Platform, local_platform

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.location import Location

__all__ = ["Bases", "platform_args"]


def _text(p: Platform) -> str:
    return f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else "")


def platform_args(target: Platform) -> dict[str, str | None]:
    """BuildKit's automatic ARGs: TARGETPLATFORM, TARGETARCH, ..., BUILDPLATFORM, ..."""
    build = local_platform()
    return {
        "TARGETPLATFORM": _text(target),
        "TARGETOS": target.os,
        "TARGETARCH": target.architecture,
        "TARGETVARIANT": target.variant or "",
        "BUILDPLATFORM": _text(build),
        "BUILDOS": build.os,
        "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant or "",
    }


class Bases:
    """Opens base images where ``client`` finds them; errors name the Dockerfile line (``fail``)."""

    def __init__(self, client: Client, fail: Callable[[str, int], InvalidDockerfile]) -> None:
        self.client = client
        self.fail = fail
        self.images: dict[tuple[str, Platform | None], Image] = {}

    def location(self, text: str, line: int) -> Location:
        try:
            return self.client.at(text)
        except InvalidInput as exc:
            raise self.fail(str(exc), line) from None

    def platform(self, text: str, line: int) -> Platform:
        try:
            return Platform.parse(text)
        except InvalidInput as exc:
            raise self.fail(str(exc), line) from None

    def image(self, location: Location, platform: Platform | None) -> Image:
        """The image, opened once (a single-platform image serves every platform asked)."""
        name = str(location)
        probe = self.images.get((name, None))
        if probe is not None and probe.index is None:
            return probe
        image = self.images.get((name, platform))
        if image is None:
            image = Image(location, platform=platform)
            self.images[(name, platform)] = image
        return image

    def platforms(self, text: str, line: int) -> list[Platform]:
        """Every platform of the image (an index's, attestations' ``unknown/unknown`` left
        out; a single image's own), in the index's order; the local one when none is named."""
        image = self.image(self.location(text, line), None)
        if image.index is None:
            return [image.config.platform]
        found = {str(p): p for p in image.index.platforms() if p.os != "unknown"}
        return list(found.values()) or [local_platform()]

    def stage(self, text: str, platform: Platform, line: int) -> StageState:
        """A stage on image ``text`` for ``platform``: its manifest and config read."""
        image = self.image(self.location(text, line), platform)
        actual = image.config.platform
        if (actual.os, actual.architecture) != (platform.os, platform.architecture):
            raise self.fail(f"FROM {text}: the image is for {actual}, not {platform}", line)
        return StageState.on_base(image, platform, text)

    def layers(self, text: str, platform: Platform, line: int) -> list[DraftLayer]:
        """The layers of image ``text`` (for ``COPY --from=IMAGE``), not yet read."""
        image = self.image(self.location(text, line), platform)
        return [
            DraftLayer(desc, diff_id, location=image.location)
            for desc, diff_id in zip(image.layers, image.config.diff_ids, strict=False)
        ]
