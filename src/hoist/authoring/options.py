"""What ``hoist image build`` takes and gives back, and the values of its flags."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hoist.errors import InvalidInput
from hoist.model.platform import Platform

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.manifest import ImageManifest

__all__ = [
    "BuildOptions",
    "BuildResult",
    "BuiltImage",
    "Step",
    "parse_chmod",
    "parse_chown",
    "source_date_epoch",
]


@dataclass(frozen=True)
class BuildOptions:
    """How to build; the defaults build ``CONTEXT/Dockerfile`` for the base image's platforms,
    gzip layers."""

    dockerfile: str | os.PathLike[str] | None = None
    """The Dockerfile's path (default ``CONTEXT/Dockerfile``)."""
    dockerfile_text: str | None = None
    """The Dockerfile itself, instead of reading ``dockerfile``."""
    platforms: tuple[Platform, ...] = ()
    """Several give an index; none: every platform of the base image (an index's platforms
    give an index), the local one on ``scratch``."""
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    """The stage to build (default: the last)."""
    compression: str = "gzip"
    epoch: int | None = None
    """Seconds for file times and ``created``; None: ``SOURCE_DATE_EPOCH``, else 0."""


@dataclass(frozen=True)
class Step:
    """One instruction done, for progress output: ``[stage 2/5] COPY ...``."""

    index: int
    total: int
    text: str
    stage: str | None = None
    platform: Platform | None = None
    layer: Descriptor | None = None
    detail: str = ""


@dataclass(frozen=True)
class BuiltImage:
    platform: Platform
    manifest: ImageManifest
    config: bytes


@dataclass
class BuildResult:
    """Where the image went, what was put there (manifest or index), and any warnings."""

    location: Location
    descriptor: Descriptor
    images: list[BuiltImage]
    warnings: list[str]


def source_date_epoch(value: int | None = None) -> int:
    """``value``, else ``SOURCE_DATE_EPOCH`` from the environment, else 0."""
    if value is not None:
        return value
    text = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    try:
        return int(text) if text else 0
    except ValueError:
        raise InvalidInput(f"SOURCE_DATE_EPOCH={text!r} is not a number of seconds") from None


def parse_chown(text: str) -> tuple[int, int] | None:
    """``--chown=UID[:GID]`` (numeric, or ``root``); a lone UID is also the GID, as in Docker."""
    if not text:
        return None
    user, sep, group = text.partition(":")

    def number(value: str, what: str) -> int:
        if value == "root":
            return 0
        if value.isdigit():
            return int(value)
        raise InvalidInput(
            f"--chown={text}: {what} {value!r} is not numeric (hoist does not read the image's "
            "/etc/passwd or /etc/group; use numeric ids)"
        )

    uid = number(user, "user")
    return uid, number(group, "group") if sep else uid


def parse_chmod(text: str) -> int | None:
    """``--chmod=0755``: octal, at most 07777."""
    if not text:
        return None
    if not re.fullmatch(r"[0-7]{1,5}", text) or int(text, 8) > 0o7777:
        raise InvalidInput(
            f"invalid chmod parameter: {text!r}. it should be octal string and between 0 and 07777"
        )
    return int(text, 8)
