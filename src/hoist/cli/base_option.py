"""The base an image records, for the commands that take it when none is named (``image
check-base`` without ``--base``, ``image mod --rebase`` without an old base)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.location import Location
    from hoist.model.base_image import RecordedBase

__all__ = ["recorded_base_name", "recorded_base_of"]


def _name(recorded: RecordedBase | None, reference: str, hint: str) -> str:
    from hoist.model.base_image import ANNOTATION_BASE_NAME

    if recorded is None or not recorded.name:
        raise click.UsageError(
            f"{reference} records no base ({ANNOTATION_BASE_NAME}, which image build "
            f"writes): {hint}"
        )
    return recorded.name


def recorded_base_name(image: Image, reference: str) -> str:
    """The base name ``image``'s (platform) manifest records; a usage error when none."""
    from hoist.model.base_image import RecordedBase

    recorded = RecordedBase.from_annotations(image.manifest.annotations)
    return _name(recorded, reference, "give --base BASE")


def recorded_base_of(location: Location, reference: str) -> str:
    """The base name the image or index at ``location`` records; a usage error when none."""
    from hoist.insight.base import recorded_base

    return _name(recorded_base(location), reference, "give --rebase OLD_BASE,NEW_BASE")
