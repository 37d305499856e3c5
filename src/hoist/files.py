"""An image's files, straight from where it lives: list, read one, unpack, digest and find layers.

Everything streams: a layer is decompressed and walked as it is read from the store, its
compressed digest checked by the store's reader and its diff_id computed on the way.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from hoist.errors import DigestMismatch, InvalidInput, InvalidLayer, NotFound
from hoist.layers.entries import Entry, LayerListing, list_layer, walk_layer
from hoist.layers.merge import FileTree
from hoist.layers.stream import DEFAULT_MAX_BYTES, LayerStream
from hoist.layers.unpack import Unpacker, UnpackResult
from hoist.model.digest import CHUNK, Digest
from hoist.model.manifest import MAX_MANIFESTS, ImageManifest, Index

if TYPE_CHECKING:
    from hoist.image import Image
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Readable

__all__ = [
    "LayerDigests",
    "blob_listing",
    "check_diff_id",
    "find_layer",
    "layer_descriptors",
    "layer_digests",
    "list_layer_files",
    "match_layer",
    "merged_tree",
    "open_layer",
    "read_file",
    "unpack",
]

Listings = MutableMapping[Digest, LayerListing]
"""A cache of layer listings by compressed digest, to share between images."""


def open_layer(
    image: Image,
    index: int,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    blob: Readable | None = None,
) -> LayerStream:
    """Layer ``index`` of ``image``, decompressing as it streams (use as a context manager);
    read from ``blob`` (a copy of the layer's blob) when given, else from the image's store."""
    desc = image.layers[index]
    return LayerStream(
        image.layer_reader(index) if blob is None else blob,
        desc.media_type,
        name=f"layer {index} ({desc.digest})",
        size_hint=desc.size,
        max_bytes=max_bytes,
    )


@dataclass(frozen=True)
class LayerDigests:
    """Both digests of a layer: the manifest's (compressed) and the computed diff_id."""

    index: int
    digest: Digest
    media_type: str
    size: int
    diff_id: Digest
    uncompressed_size: int
    expected_diff_id: Digest | None
    """What the config's rootfs.diff_ids says (None when it lists too few)."""

    @property
    def ok(self) -> bool:
        return self.diff_id == self.expected_diff_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "digest": str(self.digest),
            "mediaType": self.media_type,
            "size": self.size,
            "diff_id": str(self.diff_id),
            "uncompressed_size": self.uncompressed_size,
            "config_diff_id": str(self.expected_diff_id) if self.expected_diff_id else None,
            "match": self.ok,
        }


def layer_digests(
    image: Image, index: int, *, max_bytes: int | None = DEFAULT_MAX_BYTES
) -> LayerDigests:
    """Stream layer ``index`` once: verify its digest and size, compute its diff_id."""
    desc = image.layers[index]
    diff_ids = image.config.diff_ids
    with open_layer(image, index, max_bytes=max_bytes) as stream:
        diff_id = stream.finish()
        size = stream.size
    expected = diff_ids[index] if index < len(diff_ids) else None
    return LayerDigests(index, desc.digest, desc.media_type, desc.size, diff_id, size, expected)


def list_layer_files(
    image: Image,
    index: int,
    *,
    hash_files: bool = False,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> LayerListing:
    """The entries of layer ``index`` (whiteouts as deletions), in tar order."""
    with open_layer(image, index, max_bytes=max_bytes) as stream:
        return list_layer(
            stream, layer=index, hash_files=hash_files, digest=image.layers[index].digest
        )


def blob_listing(
    location: Location,
    digest: Digest,
    *,
    media_type: str | None = None,
    size: int | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> LayerListing:
    """List any layer blob at ``location`` by digest; without a media type the compression is
    sniffed from its first bytes."""
    with LayerStream(
        location.blob_get(digest, size),
        media_type,
        name=f"layer {digest}",
        size_hint=size or 0,
        max_bytes=max_bytes,
    ) as stream:
        return list_layer(stream, digest=digest)


def _restamp(listing: LayerListing, index: int) -> LayerListing:
    if listing.layer == index:
        return listing
    entries = [
        e.replace(layer=index, data=(index, e.ordinal) if e.data is not None else None)
        for e in listing.entries
    ]
    return LayerListing(
        entries, listing.diff_id, listing.size, listing.compression, index, listing.digest
    )


def layer_listings(
    image: Image,
    *,
    hash_files: bool = False,
    cache: Listings | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> list[LayerListing]:
    """Every layer's listing, bottom first; layers already in ``cache`` are not read again."""
    out = []
    for i, desc in enumerate(image.layers):
        listing = cache.get(desc.digest) if cache is not None else None
        if listing is None or (hash_files and _unhashed(listing)):
            listing = list_layer_files(image, i, hash_files=hash_files, max_bytes=max_bytes)
            if cache is not None:
                cache[desc.digest] = listing
        out.append(_restamp(listing, i))
    return out


def _unhashed(listing: LayerListing) -> bool:
    return any(e.kind == "file" and e.content is None for e in listing.entries)


def merged_tree(
    image: Image,
    *,
    hash_files: bool = False,
    cache: Listings | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> FileTree:
    """The filesystem all layers make, top-most winning, whiteouts and opaque dirs applied."""
    listings = layer_listings(image, hash_files=hash_files, cache=cache, max_bytes=max_bytes)
    return FileTree.from_listings(listings)


def read_file(
    image: Image,
    path: str,
    out: BinaryIO,
    *,
    tree: FileTree | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Entry:
    """Write the bytes of ``path`` (symlinks followed inside the image) to ``out``.

    The layer holding the bytes is read to its end, so its digest is verified before this
    returns (a mismatch raises DigestMismatch after the bytes were written).
    """
    if tree is None:
        tree = merged_tree(image, max_bytes=max_bytes)
    entry = tree.get(path)
    shown = "/" + path.lstrip("/")
    if entry is None:
        raise NotFound(f"{shown}: no such file in {image.location}")
    if entry.kind == "dir":
        raise InvalidInput(f"{shown} is a directory")
    if entry.data is None:
        raise InvalidInput(f"{shown} is a {entry.kind}, not a regular file")
    layer, ordinal = entry.data
    with open_layer(image, layer, max_bytes=max_bytes) as stream:
        for member in walk_layer(stream, layer=layer):
            if member.entry.ordinal == ordinal:
                with member.open() as src:
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
                break
        else:
            raise InvalidLayer(f"{shown}: tar member {ordinal} of layer {layer} is missing")
        stream.finish()
    return entry


def unpack(
    image: Image,
    dest: str | os.PathLike[str],
    *,
    devices: bool | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    check_diff_ids: bool = True,
    refuse_escaping_symlinks: bool = False,
) -> UnpackResult:
    """Unpack every layer of ``image`` into ``dest`` (see :class:`Unpacker` for the rules;
    ``refuse_escaping_symlinks`` refuses symlinks that climb above ``dest`` instead of making
    them).

    Each layer's compressed digest is verified as it streams and its diff_id checked against
    the config. On any error ``dest`` keeps what was unpacked so far; nothing is ever
    written outside it.
    """
    unpacker = Unpacker(dest, devices=devices, refuse_escaping_symlinks=refuse_escaping_symlinks)
    diff_ids = image.config.diff_ids if check_diff_ids else ()
    for i, desc in enumerate(image.layers):
        with open_layer(image, i, max_bytes=max_bytes) as stream:
            unpacker.apply(stream, layer=i)
            diff_id = stream.finish()
        check_diff_id(i, desc, diff_id, diff_ids)
        unpacker.result.layers.append(
            {"digest": str(desc.digest), "diff_id": str(diff_id), "size": stream.size}
        )
    return unpacker.finish()


def check_diff_id(
    index: int, desc: Descriptor, diff_id: Digest, diff_ids: tuple[Digest, ...]
) -> None:
    """DigestMismatch when layer ``index`` (``desc``) decompressed to ``diff_id`` but the
    config's ``diff_ids`` say otherwise (a config listing too few says nothing)."""
    if index < len(diff_ids) and diff_ids[index] != diff_id:
        raise DigestMismatch(
            f"layer {index} ({desc.digest}): uncompressed digest {diff_id} differs from the "
            f"config's diff_id {diff_ids[index]}",
            expected=str(diff_ids[index]),
            actual=str(diff_id),
        )


def layer_descriptors(location: Location) -> list[Descriptor]:
    """Every layer descriptor under ``location``: all platforms of an index, nested indexes
    too."""
    out: list[Descriptor] = []
    todo = [location.manifest_get()]
    seen: set[Digest] = set()
    while todo:
        manifest = todo.pop()
        if manifest.digest in seen:
            continue
        seen.add(manifest.digest)
        if len(seen) > MAX_MANIFESTS:
            raise InvalidInput(f"{location}: more than {MAX_MANIFESTS} manifests under one image")
        if isinstance(manifest, ImageManifest):
            out.extend(manifest.layers)
        elif isinstance(manifest, Index):
            todo.extend(location.by_digest(d.digest).manifest_get() for d in manifest.manifests)
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


def find_layer(location: Location, digest_prefix: str) -> tuple[Digest, Descriptor | None]:
    """:func:`match_layer` over :func:`layer_descriptors` of the image at ``location``."""
    return match_layer(layer_descriptors(location), digest_prefix)
