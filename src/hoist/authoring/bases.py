"""The images a build starts from: FROM and ``COPY --from`` references, resolved per platform.

Each image is opened once per platform and read lazily: its manifest and config, never its
layers (those are read only through :class:`~hoist.authoring.stagefs.StageFiles`, when a
``COPY --from`` needs files from them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hoist.authoring.state import LayerRef, StageState
from hoist.errors import InvalidDockerfile, InvalidInput
from hoist.model.platform import Platform, local_platform

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.image import Image
    from hoist.model.reference import ImageRef

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
    """Opens base images through ``client``; errors name the Dockerfile line (``fail``)."""

    def __init__(self, client: Client, fail: Callable[[str, int], InvalidDockerfile]) -> None:
        self.client = client
        self.fail = fail
        self.images: dict[tuple[str, Platform | None], Image] = {}

    def ref(self, text: str, line: int) -> ImageRef:
        try:
            return self.client.ref(text)
        except InvalidInput as exc:
            raise self.fail(str(exc), line) from None

    def platform(self, text: str, line: int) -> Platform:
        try:
            return Platform.parse(text)
        except InvalidInput as exc:
            raise self.fail(str(exc), line) from None

    def image(self, ref: ImageRef, platform: Platform | None) -> Image:
        """The image, opened once (a single-platform image serves every platform asked)."""
        probe = self.images.get((str(ref), None))
        if probe is not None and probe.index is None:
            return probe
        image = self.images.get((str(ref), platform))
        if image is None:
            image = self.client.image(ref, platform=platform)
            self.images[(str(ref), platform)] = image
        return image

    def only_platform(self, text: str, line: int) -> Platform:
        """The image's platform when it has exactly one, else the local one."""
        image = self.image(self.ref(text, line), None)
        if image.index is None:
            return image.config.platform
        found = {str(p): p for p in image.index.platforms() if p.os != "unknown"}
        return next(iter(found.values())) if len(found) == 1 else local_platform()

    def stage(self, text: str, platform: Platform, line: int) -> StageState:
        """A stage on image ``text`` for ``platform``: its manifest and config read."""
        image = self.image(self.ref(text, line), platform)
        actual = image.config.platform
        if (actual.os, actual.architecture) != (platform.os, platform.architecture):
            raise self.fail(f"FROM {text}: the image is for {actual}, not {platform}", line)
        return StageState.from_image(
            platform, image.manifest, image.config, image.store, image.ref, text
        )

    def layers(self, text: str, platform: Platform, line: int) -> list[LayerRef]:
        """The layers of image ``text`` (for ``COPY --from=IMAGE``), not yet read."""
        image = self.image(self.ref(text, line), platform)
        return [
            LayerRef(desc, diff_id, store=image.store, ref=image.ref)
            for desc, diff_id in zip(image.layers, image.config.diff_ids, strict=False)
        ]
