"""Export an image to a tar archive: ``docker save``'s layout or an OCI layout in a tar.

::

    src = client.at("ghcr.io/org/app:v1")
    result = image_export(src, "app.tar")                           # docker load < app.tar
    result = image_export(src, "app.oci.tar", fmt="oci")            # every platform kept
    result = image_export(src, "-", output=sys.stdout.buffer)

The archive appears under its name only when complete; on any error nothing is left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from hoist.copy import CopyOptions, image_copy
from hoist.errors import InvalidInput, PlatformNotFound
from hoist.location import Location
from hoist.model.manifest import Index
from hoist.model.platform import Platform, as_platform, local_platform
from hoist.model.reference import LayoutReference, Reference
from hoist.store.archive import ArchiveStore

if TYPE_CHECKING:
    from hoist.copy import CopyResult, Progress
    from hoist.model.platform import PlatformLike

__all__ = ["FORMATS", "ArchivePlatform", "archive_name", "archive_platform", "image_export"]

FORMATS = {"docker": "docker-archive", "oci": "oci-archive"}
"""Export formats and the archive kind each writes."""


@dataclass(frozen=True)
class ArchivePlatform:
    """The platform a one-platform archive (docker-archive) takes from an image.

    ``platform`` is None for an image that is not an index (it is taken as it is); ``others``
    are the index's platforms left out when one was picked among several (empty otherwise).
    """

    platform: Platform | None
    others: tuple[Platform, ...] = ()


def archive_platform(src: Location, platform: PlatformLike | None = None) -> ArchivePlatform:
    """Which platform of ``src`` a docker-archive gets: ``platform`` when given; else the
    index's only platform, or the local one among several (``others`` says which were left
    out). PlatformNotFound, listing what is there, when the local platform is not among them.
    The same rule for ``image export`` and an ``image copy`` to ``docker-archive://``."""
    if platform is not None:
        return ArchivePlatform(as_platform(platform))
    top = src.manifest_get()
    if not isinstance(top, Index):
        return ArchivePlatform(None)
    present = list({str(p): p for p in top.platforms() if p.os != "unknown"}.values())
    if len(present) == 1:
        return ArchivePlatform(present[0])
    local = local_platform()
    match = next((p for p in present if local.matches(p)), None)
    if match is None:
        raise PlatformNotFound(
            f"{local} (the local one; a docker-archive holds one platform: pick one)",
            [str(p) for p in present],
        )
    return ArchivePlatform(match, tuple(p for p in present if p is not match))


def archive_name(src: Location) -> str | None:
    """The repository name (``RepoTags`` without the tag) a docker-archive gives the image of
    a registry reference, as ``docker save`` names it (``nginx``, ``ghcr.io/org/app``); None
    for a layout or archive (the archive's file name is used then)."""
    ref = src.ref
    if not isinstance(ref, Reference):
        return None
    return ref.with_tag(ref.tag or "latest").familiar.rsplit(":", 1)[0]


def image_export(
    src: Location,
    path: str,
    *,
    fmt: str = "docker",
    platform: PlatformLike | None = None,
    progress: Progress | None = None,
    output: IO[bytes] | None = None,
) -> CopyResult:
    """Write the image ``src`` names to a new archive at ``path``, or to the stream ``output``
    when ``path`` is ``-`` (``sys.stdout.buffer``, say).

    ``fmt="docker"`` holds one platform (:func:`archive_platform`: an index's only one, else
    the local one) and names the image after a registry reference (``RepoTags``,
    :func:`archive_name`), so ``docker load`` tags it; ``fmt="oci"`` keeps an index whole
    unless ``platform`` is given. The archive's tag is ``src``'s, else latest.
    """
    kind = FORMATS.get(fmt)
    if kind is None:
        raise InvalidInput(f"unknown export format {fmt!r}; want {' or '.join(FORMATS)}")
    options = CopyOptions(platform=platform)  # a bad platform fails before any file is made
    if fmt == "docker" and options.platform is None:
        options = CopyOptions(platform=archive_platform(src).platform)
    dst_ref = LayoutReference(kind, path, src.tag or "latest")
    dst_store = ArchiveStore(kind, output=output)
    try:
        dst_store.create(dst_ref)  # a file already there is replaced, never read
        name = archive_name(src) if fmt == "docker" else None
        if name is not None:
            dst_store.name_images(dst_ref, name)
        result = image_copy(src, Location(dst_store, dst_ref), options, progress=progress)
        dst_store.close()
    except BaseException:
        dst_store.abort()
        raise
    return result
