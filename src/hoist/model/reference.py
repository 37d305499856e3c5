"""Image references: ``[registry/]repository[:tag][@digest]`` and ``ocidir://PATH[:tag][@digest]``.

Pure values: parsing and validation only, no I/O. Both kinds are frozen and hashable, and
``parse(str(ref)) == ref`` holds for every value that can be constructed.

:func:`parse_reference` also reads the names skopeo (containers/image) writes, and turns them
into hoist's canonical form: ``docker://REF`` -> ``REF``; ``oci:DIR[:TAG]`` ->
``ocidir://DIR[:TAG]``; ``oci-archive:FILE[:TAG]`` -> ``oci-archive://FILE[:TAG]``;
``docker-archive:FILE[:[NAME:]TAG]`` -> ``docker-archive://FILE[:TAG]``. As in skopeo, the path
ends at the first ``:`` after the transport.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TypeAlias

from hoist.errors import InvalidDigest, InvalidReference
from hoist.model.digest import Digest

__all__ = [
    "DOCKER_HUB",
    "DOCKER_HUB_API",
    "LAYOUT_SCHEMES",
    "NAME_MAX",
    "SKOPEO_TRANSPORTS",
    "TAG_MAX",
    "ImageRef",
    "LayoutReference",
    "Reference",
    "parse_reference",
]

DOCKER_HUB = "docker.io"
"""The canonical name of Docker Hub in references."""
DOCKER_HUB_API = "registry-1.docker.io"
"""The host that serves Docker Hub's registry API."""
LAYOUT_SCHEMES: frozenset[str] = frozenset({"ocidir", "oci-archive", "docker-archive"})
"""Schemes of references to images on the local filesystem."""
SKOPEO_TRANSPORTS: frozenset[str] = frozenset({"docker", "oci", "oci-archive", "docker-archive"})
"""The transports of skopeo's ``TRANSPORT:NAME`` form that hoist reads."""
_SKOPEO_SCHEMES = {
    "oci": "ocidir",
    "oci-archive": "oci-archive",
    "docker-archive": "docker-archive",
}
_SKOPEO_OTHER = frozenset({"dir", "containers-storage", "docker-daemon"})
NAME_MAX = 255
"""Longest ``registry/repository``, as in distribution."""
TAG_MAX = 128
"""Longest tag."""

_DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", DOCKER_HUB_API})
_OFFICIAL_PREFIX = "library/"
_DEFAULT_TAG = "latest"

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_TAG_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_DOMAIN_COMPONENT = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")
_HOST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_IPV6 = re.compile(r"[0-9a-fA-F:.]+")  # '.' for IPv4-mapped forms
_PORT = re.compile(r"[0-9]{1,5}")


# --------------------------------------------------------------------------- validation


def _check_tag(tag: str) -> None:
    if _TAG.fullmatch(tag):
        return
    if not tag:
        raise InvalidReference("empty tag")
    for ch in tag:
        if ch not in _TAG_CHARS:
            raise InvalidReference(
                f"tag {tag!r} has invalid character {ch!r} "
                "(allowed: letters, digits, '_', '.', '-')"
            )
    if tag[0] in ".-":
        raise InvalidReference(f"tag {tag!r} must not start with {tag[0]!r}")
    raise InvalidReference(f"tag is {len(tag)} characters long; at most {TAG_MAX} allowed")


def _check_repository(repository: str) -> None:
    if not repository:
        raise InvalidReference("empty repository name")
    for comp in repository.split("/"):
        if not comp:
            raise InvalidReference(f"repository {repository!r} has an empty path component")
        if _PATH_COMPONENT.fullmatch(comp):
            continue
        for ch in comp:
            if "A" <= ch <= "Z":
                raise InvalidReference(
                    f"repository {repository!r} must be lowercase (found {ch!r})"
                )
            if ch not in _PATH_CHARS:
                raise InvalidReference(f"repository {repository!r} has invalid character {ch!r}")
        raise InvalidReference(
            f"repository path component {comp!r} must be lowercase letters and digits, "
            "separated by one '.', '_' or '__', or by '-'s (none leading or trailing)"
        )


def _is_registry_like(component: str) -> bool:
    """Whether a first path component names a registry rather than part of a repository."""
    return "." in component or ":" in component or component.lower() == "localhost"


def _check_port(port: str, registry: str) -> None:
    if not port:
        raise InvalidReference(f"registry {registry!r} has an empty port after ':'")
    if not _PORT.fullmatch(port) or not 0 < int(port) <= 65535:
        raise InvalidReference(f"registry {registry!r} has invalid port {port!r}")


def _check_registry(registry: str) -> None:
    if not registry:
        raise InvalidReference("empty registry")
    if registry.startswith("["):
        end = registry.find("]")
        if end < 0:
            raise InvalidReference(f"registry {registry!r}: IPv6 address lacks closing ']'")
        address, rest = registry[1:end], registry[end + 1 :]
        try:
            if not _IPV6.fullmatch(address):
                raise ValueError(address)
            ipaddress.IPv6Address(address)
        except ValueError:
            raise InvalidReference(
                f"registry {registry!r}: {address!r} is not an IPv6 address"
            ) from None
        if rest:
            if not rest.startswith(":"):
                raise InvalidReference(
                    f"registry {registry!r}: unexpected {rest[0]!r} after IPv6 address"
                )
            _check_port(rest[1:], registry)
        return
    host, colon, port = registry.partition(":")
    if not host:
        raise InvalidReference(f"registry {registry!r} has an empty host name")
    for comp in host.split("."):
        if not _DOMAIN_COMPONENT.fullmatch(comp):
            if not comp:
                raise InvalidReference(f"registry {registry!r} has an empty host name label")
            bad = next((ch for ch in comp if ch not in _HOST_CHARS), None)
            if bad is not None:
                raise InvalidReference(f"registry {registry!r} has invalid character {bad!r}")
            raise InvalidReference(
                f"registry {registry!r}: host name label {comp!r} must not start or end with '-'"
            )
    if colon:
        _check_port(port, registry)
    if not _is_registry_like(registry):
        raise InvalidReference(
            f"registry {registry!r} must contain '.' or ':' or be 'localhost', "
            "or it would be read as part of the repository"
        )


def _check_layout_path(path: str, tag: str | None) -> None:
    if not path:
        raise InvalidReference("empty path")
    if "\0" in path:
        raise InvalidReference("path contains a NUL character")
    last = path.rpartition("/")[2]
    if "@" in last:
        raise InvalidReference(
            f"path {path!r}: the last path component must not contain '@' "
            "(it introduces a digest); add a trailing '/'"
        )
    if tag is None and ":" in last:
        raise InvalidReference(
            f"path {path!r}: the last path component contains ':', which would be read as "
            "a tag; give a tag or add a trailing '/'"
        )


def _parse_digest(text: str) -> Digest:
    if not text:
        raise InvalidReference("empty digest after '@'")
    try:
        return Digest.parse(text)
    except InvalidDigest as exc:
        raise InvalidReference(str(exc)) from None


def _split_version(text: str, *, last_at: bool) -> tuple[str, str | None, Digest | None]:
    """Split ``NAME[:tag][@digest]``; the tag follows the last ':' after the last '/'."""
    digest: Digest | None = None
    slash = text.rfind("/")
    if last_at:
        at = text.rfind("@")
        at = at if at > slash else -1
    else:
        at = text.find("@")
    if at >= 0:
        digest = _parse_digest(text[at + 1 :])
        text = text[:at]
    tag: str | None = None
    colon = text.rfind(":")
    if colon > text.rfind("/"):
        text, tag = text[:colon], text[colon + 1 :]
        if not tag:
            raise InvalidReference("empty tag after ':'")
    return text, tag, digest


def _fail(text: str, exc: InvalidReference) -> InvalidReference:
    return InvalidReference(f"invalid reference {text!r}: {exc}")


# --------------------------------------------------------------------------- registry refs


@dataclass(frozen=True, slots=True)
class Reference:
    """An image in a registry: ``registry/repository[:tag][@digest]``.

    Values are validated and normalised on creation, the Docker way: Docker Hub's aliases
    become ``docker.io``, one-part Docker Hub repositories get ``library/``, the registry
    host is lowercased, and a reference with neither tag nor digest gets tag ``latest``.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        registry = self.registry.lower()
        if registry in _DOCKER_HUB_ALIASES:
            registry = DOCKER_HUB
        _check_registry(registry)
        _check_repository(self.repository)
        repository = self.repository
        if registry == DOCKER_HUB and "/" not in repository:
            repository = _OFFICIAL_PREFIX + repository
        name = f"{registry}/{repository}"
        if len(name) > NAME_MAX:
            raise InvalidReference(
                f"name {name[:40]}... is {len(name)} characters long; at most {NAME_MAX} allowed"
            )
        tag = self.tag
        if tag is not None:
            _check_tag(tag)
        elif self.digest is None:
            tag = _DEFAULT_TAG
        if self.digest is not None and not isinstance(self.digest, Digest):
            raise InvalidReference(f"digest must be a Digest, not {type(self.digest).__name__}")
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "repository", repository)
        object.__setattr__(self, "tag", tag)

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse a registry reference (no ``scheme://``); raises InvalidReference."""
        if "://" in text:
            scheme = text.partition("://")[0]
            raise InvalidReference(
                f"invalid reference {text!r}: registry references take no scheme "
                f"(got {scheme + '://'!r})"
            )
        try:
            if not text:
                raise InvalidReference("empty reference")
            name, tag, digest = _split_version(text, last_at=False)
            if not name:
                raise InvalidReference("empty name")
            first, slash, rest = name.partition("/")
            if slash and _is_registry_like(first):
                return cls(first, rest, tag, digest)
            return cls(DOCKER_HUB, name, tag, digest)
        except InvalidReference as exc:
            raise _fail(text, exc) from None

    def __str__(self) -> str:
        return self.name + self._suffix()

    def _suffix(self) -> str:
        s = f":{self.tag}" if self.tag is not None else ""
        return s + (f"@{self.digest}" if self.digest is not None else "")

    @property
    def name(self) -> str:
        """``registry/repository``, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar(self) -> str:
        """Docker's short form: ``ubuntu:latest`` for ``docker.io/library/ubuntu:latest``.

        ``docker.io/`` is kept where dropping it would make the first path component
        read as a registry, so ``parse(ref.familiar) == ref`` always holds.
        """
        if self.registry != DOCKER_HUB:
            return str(self)
        path = self.repository
        rest = path.removeprefix(_OFFICIAL_PREFIX)
        if "/" not in rest:
            return rest + self._suffix()
        if _is_registry_like(path.partition("/")[0]):
            return str(self)
        return path + self._suffix()

    @property
    def api_host(self) -> str:
        """The host[:port] to talk to (``registry-1.docker.io`` for Docker Hub)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def version_ref(self) -> str:
        """What goes in ``/v2/<name>/manifests/<reference>``: the digest if set, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        assert self.tag is not None  # normalisation guarantees a tag or a digest
        return self.tag

    @property
    def kind(self) -> str:
        """``registry``: the kind of store that serves this reference."""
        return "registry"

    @property
    def host(self) -> str | None:
        """The registry host[:port] as written in the reference."""
        return self.registry

    def same_repository(self, other: ImageRef) -> bool:
        """Whether ``other`` names the same repository (tag and digest aside)."""
        return isinstance(other, Reference) and other.name == self.name

    def with_tag(self, tag: str | None) -> Reference:
        """The same repository at ``tag``; any digest is dropped (``None`` means ``latest``)."""
        return Reference(self.registry, self.repository, tag, None)

    def with_digest(self, digest: Digest | None) -> Reference:
        """The same repository pinned to ``digest``; the tag is kept (for information)."""
        return Reference(self.registry, self.repository, self.tag, digest)

    def by_digest(self, digest: Digest) -> Reference:
        """The same repository at ``digest`` alone, with no tag."""
        return Reference(self.registry, self.repository, None, digest)


# --------------------------------------------------------------------------- layout refs


@dataclass(frozen=True, slots=True)
class LayoutReference:
    """An image on the filesystem: ``ocidir://PATH[:tag][@digest]``.

    A tag of ``None`` (and no digest) means the store decides: its only image, else
    ``latest``. The tag is whatever follows the last ':' after the last '/' of the text, so
    a directory whose name contains ':' or '@' needs a trailing '/' (or, for ':', a tag).
    """

    scheme: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if self.scheme not in LAYOUT_SCHEMES:
            raise InvalidReference(
                f"unknown scheme {self.scheme!r}; want one of {', '.join(sorted(LAYOUT_SCHEMES))}"
            )
        _check_layout_path(self.path, self.tag)
        if self.tag is not None:
            _check_tag(self.tag)
        if self.digest is not None and not isinstance(self.digest, Digest):
            raise InvalidReference(f"digest must be a Digest, not {type(self.digest).__name__}")

    @classmethod
    def parse(cls, text: str) -> LayoutReference:
        """Parse ``SCHEME://PATH[:tag][@digest]`` for a layout scheme; raises InvalidReference."""
        scheme, sep, rest = text.partition("://")
        try:
            if not sep:
                raise InvalidReference(
                    f"want {'|'.join(sorted(LAYOUT_SCHEMES))}://PATH[:tag][@digest]"
                )
            scheme = scheme.lower()
            if scheme not in LAYOUT_SCHEMES:
                raise InvalidReference(
                    f"unknown scheme {scheme + '://'!r}; want one of "
                    f"{', '.join(s + '://' for s in sorted(LAYOUT_SCHEMES))} "
                    "or a registry reference without a scheme"
                )
            path, tag, digest = _split_version(rest, last_at=True)
            if not path:
                raise InvalidReference("empty path")
            return cls(scheme, path, tag, digest)
        except InvalidReference as exc:
            raise _fail(text, exc) from None

    def __str__(self) -> str:
        s = f"{self.scheme}://{self.path}"
        if self.tag is not None:
            s += f":{self.tag}"
        if self.digest is not None:
            s += f"@{self.digest}"
        return s

    @property
    def name(self) -> str:
        """The path of the layout."""
        return self.path

    @property
    def version_ref(self) -> str | None:
        """The digest if set, else the tag; ``None`` lets the store choose."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag

    @property
    def kind(self) -> str:
        """The scheme (``ocidir``, ``oci-archive``, ``docker-archive``): the kind of store."""
        return self.scheme

    @property
    def host(self) -> str | None:
        """None: a layout lives on no registry host."""
        return None

    def same_repository(self, other: ImageRef) -> bool:
        """Whether ``other`` names the same layout or archive (tag and digest aside)."""
        return (
            isinstance(other, LayoutReference)
            and other.scheme == self.scheme
            and other.path == self.path
        )

    def with_tag(self, tag: str | None) -> LayoutReference:
        """The same layout at ``tag``; any digest is dropped."""
        return LayoutReference(self.scheme, self.path, tag, None)

    def with_digest(self, digest: Digest | None) -> LayoutReference:
        """The same layout pinned to ``digest``; the tag is kept (for information)."""
        return LayoutReference(self.scheme, self.path, self.tag, digest)

    def by_digest(self, digest: Digest) -> LayoutReference:
        """The same layout at ``digest`` alone, with no tag."""
        return LayoutReference(self.scheme, self.path, None, digest)


ImageRef: TypeAlias = Reference | LayoutReference
"""Any reference: both kinds share ``kind``, ``host``, ``name``, ``tag``, ``digest``,
``version_ref``, ``same_repository``, ``with_tag``, ``with_digest`` and ``by_digest``."""


def parse_reference(text: str) -> ImageRef:
    """Parse a registry reference, or ``ocidir://``/``oci-archive://``/``docker-archive://``,
    or one of skopeo's names (``docker://REF``, ``oci:DIR[:TAG]``, ``oci-archive:FILE[:TAG]``,
    ``docker-archive:FILE[:NAME:TAG]``)."""
    transport, colon, rest = text.partition(":")
    if colon and transport == "docker" and rest.startswith("//"):
        try:
            return Reference.parse(rest[2:])
        except InvalidReference as exc:
            raise InvalidReference(f"{exc} (in {text!r})") from None
    if colon and not rest.startswith("//"):
        if transport in _SKOPEO_SCHEMES:
            return _parse_skopeo_layout(text, _SKOPEO_SCHEMES[transport], rest)
        if transport in _SKOPEO_OTHER:
            raise InvalidReference(
                f"invalid reference {text!r}: hoist does not read skopeo's {transport}: "
                "transport; it reads docker://, oci:, oci-archive: and docker-archive:"
            )
    if "://" in text:
        return LayoutReference.parse(text)
    return Reference.parse(text)


def _parse_skopeo_layout(text: str, scheme: str, rest: str) -> LayoutReference:
    """``oci:DIR[:TAG]`` and friends: the path ends at the first ':'; a docker-archive's
    ``NAME:TAG`` keeps its tag (the name is matched by tag alone), a lone word is the tag."""
    path, colon, version = rest.partition(":")
    try:
        if not path:
            raise InvalidReference("empty path")
        tag: str | None = None
        digest: Digest | None = None
        if colon:
            if not version:
                raise InvalidReference("empty tag after ':'")
            if scheme == "docker-archive" and ":" in version.rpartition("/")[2].split("@")[0]:
                named = Reference.parse(version)
                tag, digest = named.tag, named.digest
            else:
                name, at, hashed = version.partition("@")
                tag = name or None
                digest = _parse_digest(hashed) if at else None
        return LayoutReference(scheme, path, tag, digest)
    except InvalidReference as exc:
        raise _fail(text, exc) from None
