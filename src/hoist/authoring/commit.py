"""Write a new or changed image to a store: new blobs uploaded, existing ones reused."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from hoist.copy import blob_copy
from hoist.errors import BlobNotFound
from hoist.model.descriptor import Descriptor
from hoist.model.manifest import ImageManifest, Index

if TYPE_CHECKING:
    from hoist.layers.tarball import NewLayer
    from hoist.model.digest import Digest
    from hoist.model.reference import ImageRef
    from hoist.store.base import Store

__all__ = ["Source", "write_index", "write_manifest"]

log = logging.getLogger(__name__)

Source = tuple["Store", "ImageRef"]
"""Where blobs the destination lacks can be copied (or mounted) from."""


def write_manifest(
    store: Store,
    ref: ImageRef,
    manifest: ImageManifest,
    *,
    blobs: Mapping[Digest, bytes] | None = None,
    layers: Sequence[NewLayer] = (),
    sources: Sequence[Source] = (),
    tag: bool = True,
) -> Descriptor:
    """Put ``manifest`` at ``ref`` after every blob it names is there.

    ``blobs`` are small new blobs (configs), ``layers`` new layers in temporary files; any
    other blob is looked for at the destination, then copied or mounted from ``sources``.
    With ``tag=False`` the manifest is put by digest only (a child of an index).
    """
    new = dict(blobs or {})
    files = {layer.descriptor.digest: layer for layer in layers}
    for desc in manifest.referenced():
        if desc.digest in new:
            data = new[desc.digest]
            store.blob_put(
                ref, data, digest=desc.digest, size=len(data), media_type=desc.media_type
            )
        elif desc.digest in files:
            with files[desc.digest].open() as f:
                store.blob_put(
                    ref, f, digest=desc.digest, size=desc.size, media_type=desc.media_type
                )
        else:
            _reuse(store, ref, desc, sources)
    target = ref if tag else ref.by_digest(manifest.digest)
    return store.manifest_put(target, manifest)


def _reuse(store: Store, ref: ImageRef, desc: Descriptor, sources: Sequence[Source]) -> None:
    try:
        store.blob_head(ref, desc.digest)
        return
    except BlobNotFound:
        pass
    for src_store, src_ref in sources:
        try:
            blob_copy(src_store, src_ref, store, ref, desc)
            return
        except BlobNotFound:
            continue
    raise BlobNotFound(f"blob {desc.digest} is neither at {ref} nor at any source")


def write_index(
    store: Store, ref: ImageRef, index: Index, children: Sequence[ImageManifest] = ()
) -> Descriptor:
    """Put the given ``children`` by digest (they must be complete), then ``index`` at ``ref``."""
    for child in children:
        store.manifest_put(ref.by_digest(child.digest), child)
    return store.manifest_put(ref, index)
