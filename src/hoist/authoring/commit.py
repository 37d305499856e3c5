"""Write a new or changed image to a store: new blobs uploaded, existing ones reused."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from hoist.copy import blob_copy
from hoist.errors import BlobNotFound

if TYPE_CHECKING:
    from hoist.layers.tarball import NewLayer
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest
    from hoist.model.manifest import ImageManifest, Index

__all__ = ["write_index", "write_manifest"]

log = logging.getLogger(__name__)


def write_manifest(
    dst: Location,
    manifest: ImageManifest,
    *,
    blobs: Mapping[Digest, bytes] | None = None,
    layers: Sequence[NewLayer] = (),
    sources: Sequence[Location] = (),
    tag: bool = True,
) -> Descriptor:
    """Put ``manifest`` at ``dst`` after every blob it names is there.

    ``blobs`` are small new blobs (configs), ``layers`` new layers in temporary files; any
    other blob is looked for at the destination, then copied (or mounted) from ``sources``.
    With ``tag=False`` the manifest is put by digest only (a child of an index).
    """
    new = dict(blobs or {})
    files = {layer.descriptor.digest: layer for layer in layers}
    for desc in manifest.referenced():
        if desc.digest in new:
            data = new[desc.digest]
            dst.blob_put(data, digest=desc.digest, size=len(data), media_type=desc.media_type)
        elif desc.digest in files:
            with files[desc.digest].open() as f:
                dst.blob_put(f, digest=desc.digest, size=desc.size, media_type=desc.media_type)
        else:
            _reuse(dst, desc, sources)
    target = dst if tag else dst.by_digest(manifest.digest)
    return target.manifest_put(manifest)


def _reuse(dst: Location, desc: Descriptor, sources: Sequence[Location]) -> None:
    try:
        dst.blob_head(desc.digest)
        return
    except BlobNotFound:
        pass
    for src in sources:
        try:
            blob_copy(src, dst, desc)
            return
        except BlobNotFound:
            continue
    raise BlobNotFound(f"blob {desc.digest} is neither at {dst} nor at any source")


def write_index(dst: Location, index: Index, children: Sequence[ImageManifest] = ()) -> Descriptor:
    """Put the given ``children`` by digest (they must be complete), then ``index`` at ``dst``."""
    for child in children:
        dst.by_digest(child.digest).manifest_put(child)
    return dst.manifest_put(index)
