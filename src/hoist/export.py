"""Export an image to a tar archive: ``docker save``'s layout or an OCI layout in a tar.

::

    src = client.at("ghcr.io/org/app:v1")
    result = image_export(src, "app.tar")                           # docker load < app.tar
    result = image_export(src, "app.oci.tar", fmt="oci")            # every platform kept
    result = image_export(src, "-", output=sys.stdout.buffer)

The archive appears under its name only when complete; on any error nothing is left behind.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from hoist.copy import CopyOptions, image_copy
from hoist.errors import InvalidInput
from hoist.location import Location
from hoist.model.platform import local_platform
from hoist.model.reference import LayoutReference, Reference
from hoist.store.archive import ArchiveStore

if TYPE_CHECKING:
    from hoist.copy import CopyResult, Progress
    from hoist.model.platform import PlatformLike

__all__ = ["FORMATS", "image_export"]

FORMATS = {"docker": "docker-archive", "oci": "oci-archive"}
"""Export formats and the archive kind each writes."""


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

    ``fmt="docker"`` holds one platform (default: the local one) and names the image after a
    registry reference (``RepoTags``), so ``docker load`` tags it; ``fmt="oci"`` keeps an
    index whole unless ``platform`` is given. The archive's tag is ``src``'s, else latest.
    """
    kind = FORMATS.get(fmt)
    if kind is None:
        raise InvalidInput(f"unknown export format {fmt!r}; want {' or '.join(FORMATS)}")
    options = CopyOptions(platform=platform)  # a bad platform fails before any file is made
    if fmt == "docker" and options.platform is None:
        options = CopyOptions(platform=local_platform())
    dst_ref = LayoutReference(kind, path, src.tag or "latest")
    dst_store = ArchiveStore(kind, output=output)
    try:
        ref = src.ref
        if fmt == "docker" and isinstance(ref, Reference):
            familiar = ref.with_tag(ref.tag or "latest").familiar
            dst_store.name_images(dst_ref, familiar.rsplit(":", 1)[0])
        result = image_copy(src, Location(dst_store, dst_ref), options, progress=progress)
        dst_store.close()
    except BaseException:
        dst_store.abort()
        raise
    return result
