"""Build and edit image indexes (OCI) and manifest lists (Docker) from other images.

::

    multi = client.at("reg/app:multi")
    index_create(multi, [client.at("reg/app:amd64"), client.at("ocidir://build:arm64")])
    index_add(multi, [client.at("reg/app:s390x")])
    index_remove(multi, platform=Platform.parse("linux/s390x"))

Each source contributes its manifest's descriptor. A reference to a single manifest gets its
platform from the image config; a source that is an index contributes every child, with the
platform its descriptor there declares (``platform_from_config=True`` reads the configs
instead). Children that live elsewhere (another repository, registry or layout) are copied to
the destination first, by digest and with their blobs, so the index never points at missing
content. A Docker manifest list holds only Docker schema2 manifests: anything else is refused.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hoist.copy import image_copy
from hoist.errors import (
    InvalidInput,
    InvalidPlatform,
    NotFound,
    UnsupportedMediaType,
)
from hoist.image import read_config_bytes
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.config import parse_config
from hoist.model.descriptor import Descriptor
from hoist.model.manifest import ImageManifest, Index
from hoist.model.reference import ImageRef, LayoutReference, Reference

if TYPE_CHECKING:
    from hoist.model.digest import Digest
    from hoist.model.platform import Platform

__all__ = ["index_add", "index_create", "index_remove", "same_location", "write_target"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Child:
    """One descriptor to put in an index, and where its content can be read from."""

    descriptor: Descriptor
    location: Location
    origin: str


def same_location(a: ImageRef, b: ImageRef) -> bool:
    """Whether two references name the same repository (or the same layout directory)."""
    if isinstance(a, Reference) and isinstance(b, Reference):
        return (a.registry, a.repository) == (b.registry, b.repository)
    if isinstance(a, LayoutReference) and isinstance(b, LayoutReference):
        return a.scheme == b.scheme and os.path.realpath(a.path) == os.path.realpath(b.path)
    return False


def write_target(ref: ImageRef, digest: Digest) -> ImageRef:
    """Where to put a new manifest for ``ref``: its tag if it has one, else by ``digest``.

    A layout reference with neither tag nor digest gets ``latest``.
    """
    if ref.tag is not None:
        return ref.with_tag(ref.tag)
    if ref.digest is None:
        return ref.with_tag("latest")
    return ref.by_digest(digest)


def _config_platform(where: Location, manifest: ImageManifest) -> Platform | None:
    """The platform in ``manifest``'s image config; None for artifacts and configs without one."""
    desc = manifest.config
    if not mt.is_config(desc.media_type):
        return None
    raw = read_config_bytes(where.by_digest(manifest.digest), desc)
    try:
        return parse_config(raw).platform
    except InvalidPlatform as exc:
        log.info("no platform in config %s: %s", desc.digest, exc)
        return None


def _children(
    sources: Iterable[Location],
    *,
    platform_from_config: bool,
    need_platform: bool = False,
) -> list[_Child]:
    """The descriptors the sources contribute, in order (an index contributes its children).

    Index children keep the platform their descriptor declares, unless ``platform_from_config``
    (or ``need_platform`` and they declare none) has it read from their image config.
    """
    out: list[_Child] = []
    for source in sources:
        manifest = source.manifest_get()
        if isinstance(manifest, ImageManifest):
            platform = _config_platform(source, manifest)
            out.append(_Child(manifest.descriptor(platform=platform), source, str(source)))
        elif isinstance(manifest, Index):
            for entry in manifest.manifests:
                desc = entry
                from_config = platform_from_config or (need_platform and entry.platform is None)
                if from_config and mt.is_image_manifest(entry.media_type):
                    child = source.by_digest(entry.digest).manifest_get()
                    if isinstance(child, ImageManifest):
                        platform = _config_platform(source, child)
                        desc = entry.replace(platform=platform or entry.platform)
                out.append(_Child(desc, source, f"{source} (child {entry.digest})"))
        else:
            raise UnsupportedMediaType(
                f"{source} is a {manifest.media_type} manifest, which cannot go in an index",
                manifest.media_type,
            )
    return out


def _check_docker(children: Sequence[_Child], annotations: Mapping[str, str] | None) -> None:
    """A Docker manifest list holds Docker schema2 manifests with a platform, no annotations."""
    for child in children:
        d = child.descriptor
        if d.media_type != mt.DOCKER_MANIFEST:
            raise UnsupportedMediaType(
                f"a Docker manifest list may only hold Docker schema2 manifests "
                f"({mt.DOCKER_MANIFEST}), but {child.origin} ({d.digest}) is {d.media_type}; "
                "make an OCI index instead (without --docker)",
                d.media_type,
            )
        if d.platform is None:
            raise InvalidInput(
                f"a Docker manifest list needs a platform for every manifest; "
                f"{child.origin} ({d.digest}) has none"
            )
    if annotations:
        raise InvalidInput("a Docker manifest list has no annotations; use an OCI index")


def _platform_key(desc: Descriptor) -> Platform | None:
    """The platform two children may not share (``unknown/unknown`` attestations may)."""
    p = desc.platform
    if p is None or p.os == "unknown" or p.architecture == "unknown":
        return None
    return p


def _merge(
    existing: Sequence[Descriptor], new: Sequence[_Child], *, replace: bool
) -> list[Descriptor]:
    """``existing`` then ``new``, one child per digest and per platform.

    A new child with the digest of an existing one replaces it. One with the platform of an
    existing one replaces it when ``replace``, else is refused (two refs, one platform).
    """
    out = list(existing)
    for child in new:
        desc = child.descriptor
        key = _platform_key(desc)
        same = [
            i
            for i, old in enumerate(out)
            if old.digest == desc.digest or (key is not None and _platform_key(old) == key)
        ]
        clash = [out[i] for i in same if out[i].digest != desc.digest]
        if clash and not replace:
            raise InvalidInput(
                f"two manifests for platform {key}: {clash[0].digest} and {desc.digest} "
                f"({child.origin}); an index holds one manifest per platform"
            )
        if same:
            out[same[0]] = desc
            for i in reversed(same[1:]):
                del out[i]
        else:
            out.append(desc)
    return out


def _here(a: Location, b: Location) -> bool:
    """Whether ``a`` and ``b`` are one repository (or layout directory) of one store."""
    return a.store is b.store and same_location(a.ref, b.ref)


def _bring_children(target: Location, children: Sequence[_Child], wanted: set[Digest]) -> None:
    """Copy the ``wanted`` children that live elsewhere to ``target``'s repository, by digest."""
    done: set[Digest] = set()
    for child in children:
        digest = child.descriptor.digest
        if digest not in wanted or digest in done or _here(child.location, target):
            continue
        done.add(digest)
        log.info("copying %s from %s", digest, child.origin)
        image_copy(child.location.by_digest(digest), target.by_digest(digest))


def _put(
    target: Location,
    manifests: Sequence[Descriptor],
    children: Sequence[_Child],
    *,
    media_type: str,
    annotations: Mapping[str, str] | None,
    subject: Descriptor | None = None,
    artifact_type: str | None = None,
) -> Index:
    index = Index.build(
        manifests,
        media_type=media_type,
        annotations=annotations or None,
        subject=subject,
        artifact_type=artifact_type,
    )
    _bring_children(target, children, {d.digest for d in manifests})
    Location(target.store, write_target(target.ref, index.digest)).manifest_put(index)
    return index


def index_create(
    dst: Location,
    sources: Sequence[Location],
    *,
    platform_from_config: bool = False,
    docker: bool = False,
    annotations: Mapping[str, str] | None = None,
) -> Index:
    """Create an index of ``sources`` at ``dst`` (its tag; by digest if it has none).

    Sources elsewhere (another repository, registry or layout) are copied to ``dst``'s
    repository first, by digest.

    ``docker=True`` makes a Docker manifest list, which refuses anything but Docker schema2
    manifests. The same digest twice is kept once; two manifests for one platform are
    refused.
    Returns the index written; its ``digest`` is the new index's digest.
    """
    if not sources:
        raise InvalidInput("an index needs at least one reference")
    children = _children(sources, platform_from_config=platform_from_config, need_platform=docker)
    if docker:
        _check_docker(children, annotations)
    manifests = _merge([], children, replace=False)
    media_type = mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX
    return _put(dst, manifests, children, media_type=media_type, annotations=annotations)


def _existing(dst: Location) -> tuple[Location, Index]:
    """The index at ``dst``, and ``dst`` with the tag to write back to."""
    if dst.is_layout and dst.tag is None and dst.digest is None:
        tags = dst.tag_list()
        dst = dst.with_tag(tags[0] if len(tags) == 1 else "latest")
    manifest = dst.manifest_get()
    if not isinstance(manifest, Index):
        raise UnsupportedMediaType(
            f"{dst} is a {manifest.media_type}, not an index", manifest.media_type
        )
    return dst, manifest


def index_add(
    dst: Location,
    sources: Sequence[Location],
    *,
    platform_from_config: bool = False,
    annotations: Mapping[str, str] | None = None,
) -> Index:
    """Add ``sources`` to the index at ``dst`` and write the result back there.

    A child with the same digest or platform as an existing one replaces it; ``annotations``
    are merged into the index's. A Docker manifest list stays one, and refuses OCI children.
    """
    if not sources:
        raise InvalidInput("nothing to add: give at least one reference")
    dst, current = _existing(dst)
    docker = current.media_type == mt.DOCKER_MANIFEST_LIST
    children = _children(sources, platform_from_config=platform_from_config, need_platform=docker)
    if docker:
        _check_docker(children, annotations)
    merged = {**current.annotations, **(annotations or {})}
    return _put(
        dst,
        _merge(current.manifests, children, replace=True),
        children,
        media_type=current.media_type,
        annotations=merged,
        subject=current.subject,
        artifact_type=current.artifact_type,
    )


def index_remove(
    dst: Location,
    *,
    platform: Platform | None = None,
    digest: Digest | None = None,
) -> Index:
    """Remove the children matching ``platform`` (or with ``digest``) from the index at ``dst``.

    Raises NotFound, listing what the index holds, when nothing matches.
    """
    if (platform is None) == (digest is None):
        raise InvalidInput("give exactly one of platform or digest to remove")
    dst, current = _existing(dst)
    if platform is not None:
        kept = [
            d for d in current.manifests if d.platform is None or not platform.matches(d.platform)
        ]
        wanted = f"platform {platform}"
    else:
        kept = [d for d in current.manifests if d.digest != digest]
        wanted = f"digest {digest}"
    if len(kept) == len(current.manifests):
        present = (
            ", ".join(f"{d.platform or '-'} {d.digest}" for d in current.manifests) or "nothing"
        )
        raise NotFound(f"no child with {wanted} in {dst}; it holds: {present}")
    return _put(
        dst,
        kept,
        [],
        media_type=current.media_type,
        annotations=current.annotations,
        subject=current.subject,
        artifact_type=current.artifact_type,
    )
