"""Platforms: ``os/arch[/variant][,osversion=X]``, normalised and matched."""

from __future__ import annotations

import platform as _host
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from hoist.errors import InvalidPlatform, PlatformNotFound

__all__ = ["Platform", "PlatformLike", "as_platform", "as_platforms", "choose", "local_platform"]

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}
_WORD = re.compile(r"[A-Za-z0-9_.-]+")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Platform:
    """An OS and CPU that an image runs on. Values are normalised on creation."""

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.os or not _WORD.fullmatch(self.os):
            raise InvalidPlatform(f"invalid platform os {self.os!r}")
        if not self.architecture or not _WORD.fullmatch(self.architecture):
            raise InvalidPlatform(f"invalid platform architecture {self.architecture!r}")
        if self.variant is not None and not _WORD.fullmatch(self.variant):
            raise InvalidPlatform(f"invalid platform variant {self.variant!r}")
        arch = _ARCH_ALIASES.get(self.architecture.lower(), self.architecture.lower())
        object.__setattr__(self, "os", self.os.lower())
        object.__setattr__(self, "architecture", arch)
        if self.variant is not None:
            object.__setattr__(self, "variant", self.variant.lower() or None)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant][,osversion=X]``; ``local`` is the running host."""
        text = text.strip()
        if text == "local":
            return local_platform()
        main, _, options = text.partition(",")
        parts = main.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidPlatform(f"invalid platform {text!r}: want os/arch[/variant]")
        os_version = None
        if options:
            key, eq, value = options.partition("=")
            if key != "osversion" or not eq or not value or "," in value:
                raise InvalidPlatform(f"invalid platform option {options!r}: want osversion=X")
            os_version = value
        variant = parts[2] if len(parts) == 3 else None
        return cls(parts[0], parts[1], variant, os_version)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Platform:
        """From the JSON object of a descriptor's ``platform`` field."""
        if isinstance(data, Mapping) and not (
            all(isinstance(data.get(k), str) for k in ("os", "architecture"))
            and all(isinstance(data.get(k), str | None) for k in ("variant", "os.version"))
            and isinstance(data.get("os.features"), list | None)
        ):
            raise InvalidPlatform(f"invalid platform object {data!r}")
        try:
            features = data.get("os.features") or ()
            return cls(
                str(data["os"]),
                str(data["architecture"]),
                data.get("variant") or None,
                data.get("os.version") or None,
                tuple(str(f) for f in features),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidPlatform(f"invalid platform object {data!r}") from exc

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    def __str__(self) -> str:
        s = f"{self.os}/{self.architecture}"
        if self.variant:
            s += f"/{self.variant}"
        if self.os_version:
            s += f",osversion={self.os_version}"
        return s

    @property
    def effective_variant(self) -> str | None:
        """The variant, with arm64's ``v8`` and arm's ``v7`` filled in when absent."""
        return self.variant or _DEFAULT_VARIANT.get(self.architecture)

    def matches(self, other: Platform) -> bool:
        """Same os, architecture and (effective) variant; os_version must match if both set."""
        if self.os != other.os or self.architecture != other.architecture:
            return False
        if self.effective_variant != other.effective_variant:
            return False
        return not (self.os_version and other.os_version and self.os_version != other.os_version)


def local_platform() -> Platform:
    """The platform of the running host (always linux for images)."""
    machine = _host.machine().lower()
    variant = None
    if machine.startswith("armv"):
        variant = machine[3:5]
        machine = "arm"
    return Platform("linux", machine or "amd64", variant)


def choose(items: Iterable[T], wanted: Platform, platform_of: Any, *, what: str = "") -> T:
    """The best item for ``wanted``; ``platform_of(item)`` gives an item's Platform or None.

    An exact variant match beats one where a default variant was assumed; the first wins ties.
    Raises PlatformNotFound listing the platforms present when none matches.
    """
    seen: list[str] = []
    best: T | None = None
    best_score = -1
    for item in items:
        p: Platform | None = platform_of(item)
        if p is None:
            continue
        seen.append(str(p))
        if not wanted.matches(p):
            continue
        score = (p.variant == wanted.variant) * 2 + (p.os_version == wanted.os_version)
        if score > best_score:
            best, best_score = item, score
    if best is None:
        raise PlatformNotFound(str(wanted) + (f" in {what}" if what else ""), _unique(seen))
    return best


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


PlatformLike: TypeAlias = Platform | str
"""A platform as users have it: a :class:`Platform` or ``os/arch[/variant]`` (or ``local``)."""


def as_platform(value: PlatformLike) -> Platform:
    """``value`` as a Platform; strings are parsed (raises InvalidPlatform)."""
    if isinstance(value, Platform):
        return value
    if isinstance(value, str):
        return Platform.parse(value)
    raise InvalidPlatform(f"platform must be a Platform or a string, not {type(value).__name__}")


def as_platforms(values: Iterable[PlatformLike] | PlatformLike | None) -> tuple[Platform, ...]:
    """Platforms from a list of Platforms or strings (a lone string is one platform)."""
    if values is None:
        return ()
    if isinstance(values, str | Platform):
        return (as_platform(values),)
    return tuple(as_platform(v) for v in values)
