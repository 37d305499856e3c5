"""Layers as filesystems: decompress while streaming, list, merge, read, unpack safely.

::

    from hoist.client import Client
    from hoist import layers

    with Client() as client:
        img = client.image("ocidir://./oci:app")
        for entry in layers.merged_tree(img).walk():      # the merged filesystem
            print(entry.filemode(), entry.display_path)
        layers.read_file(img, "/etc/os-release", sys.stdout.buffer)
        layers.unpack(img, "rootfs")                       # never writes outside rootfs
        print(layers.layer_digests(img, 0).diff_id)        # sha256 of the uncompressed tar

Nothing here imports isal or zstandard until a layer is opened.
"""

from hoist.layers.entries import KINDS, Entry, LayerListing, Member, list_layer, walk_layer
from hoist.layers.files import (
    LayerDigests,
    blob_listing,
    layer_digests,
    layer_listings,
    list_layer_files,
    merged_tree,
    open_layer,
    read_file,
    unpack,
)
from hoist.layers.find import find_layer, layer_descriptors, match_layer
from hoist.layers.merge import FileTree
from hoist.layers.paths import OPAQUE, WHITEOUT_PREFIX
from hoist.layers.stream import DEFAULT_MAX_BYTES, LayerStream, sniff_compression
from hoist.layers.unpack import Unpacker, UnpackResult

__all__ = [
    "DEFAULT_MAX_BYTES",
    "KINDS",
    "OPAQUE",
    "WHITEOUT_PREFIX",
    "Entry",
    "FileTree",
    "LayerDigests",
    "LayerListing",
    "LayerStream",
    "Member",
    "UnpackResult",
    "Unpacker",
    "blob_listing",
    "find_layer",
    "layer_descriptors",
    "layer_digests",
    "layer_listings",
    "list_layer",
    "list_layer_files",
    "match_layer",
    "merged_tree",
    "open_layer",
    "read_file",
    "sniff_compression",
    "unpack",
    "walk_layer",
]
