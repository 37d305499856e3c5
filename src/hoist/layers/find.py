"""Find a layer of an image by its digest or a unique prefix of it, across every platform.

::

    digest, desc = find_layer(store, ref, "3f2a9c")    # desc is None for a blob no manifest lists
    listing = blob_listing(store, ref, digest, media_type=desc.media_type if desc else None)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hoist.errors import InvalidInput, NotFound
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest, Index

if TYPE_CHECKING:
    from hoist.model.descriptor import Descriptor
    from hoist.model.reference import LayoutReference, Reference
    from hoist.store.base import Store

    Ref = Reference | LayoutReference

__all__ = ["find_layer", "layer_descriptors", "match_layer"]


def layer_descriptors(store: Store, ref: Ref) -> list[Descriptor]:
    """Every layer descriptor under ``ref``: all platforms of an index, nested indexes too."""
    out: list[Descriptor] = []
    todo = [store.manifest_get(ref)]
    seen: set[Digest] = set()
    while todo:
        manifest = todo.pop()
        if manifest.digest in seen:
            continue
        seen.add(manifest.digest)
        if isinstance(manifest, ImageManifest):
            out.extend(manifest.layers)
        elif isinstance(manifest, Index):
            todo.extend(store.manifest_get(ref.by_digest(d.digest)) for d in manifest.manifests)
    return out


def match_layer(layers: Sequence[Descriptor], text: str) -> tuple[Digest, Descriptor | None]:
    """The layer of ``layers`` that ``text`` names: a full digest, or a unique prefix of one
    (``sha256:`` may be left out).

    A full digest is returned even when no layer has it (its descriptor is then None), so any
    blob can be looked at. A prefix that matches nothing raises NotFound, one that matches
    several InvalidInput.
    """
    try:
        digest = Digest.parse(text)
    except ValueError:
        digest = None
    if digest is not None:
        return digest, next((d for d in layers if d.digest == digest), None)
    wanted = text if ":" in text else f"sha256:{text}"
    matches = {d.digest: d for d in layers if str(d.digest).startswith(wanted)}
    if len(matches) == 1:
        return next(iter(matches.items()))
    if not matches:
        raise NotFound(f"no layer of the image starts with {text!r}")
    raise InvalidInput(f"{text!r} matches {len(matches)} layers; give more of the digest")


def find_layer(store: Store, ref: Ref, digest_prefix: str) -> tuple[Digest, Descriptor | None]:
    """:func:`match_layer` over :func:`layer_descriptors` of the image ``ref`` names."""
    return match_layer(layer_descriptors(store, ref), digest_prefix)
