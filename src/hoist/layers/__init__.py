"""The layer codec, both ways: decompress while streaming, tar entries, merge, safe unpack, write.

This package sits below the stores and knows nothing of images or where they live; reading an
image's files (ls, read one, unpack an image) is :mod:`hoist.files`, above the stores.

Nothing here imports isal or zstandard until a layer is opened.
"""

from hoist.layers.entries import KINDS, Entry, LayerListing, Member, list_layer, walk_layer
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
    "LayerListing",
    "LayerStream",
    "Member",
    "UnpackResult",
    "Unpacker",
    "list_layer",
    "sniff_compression",
    "walk_layer",
]
