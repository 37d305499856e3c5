"""hoist: container images where they live, on registries and OCI layouts, without an engine.

The public API is re-exported here lazily, so importing hoist stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Client": "hoist.client",
    "Image": "hoist.image",
    "Store": "hoist.store.base",
    "OCIDirStore": "hoist.store.ocidir",
    "Reference": "hoist.model.reference",
    "LayoutReference": "hoist.model.reference",
    "parse_reference": "hoist.model.reference",
    "Digest": "hoist.model.digest",
    "digest_of": "hoist.model.digest",
    "Platform": "hoist.model.platform",
    "Descriptor": "hoist.model.descriptor",
    "ImageManifest": "hoist.model.manifest",
    "Index": "hoist.model.manifest",
    "parse_manifest": "hoist.model.manifest",
    "ImageConfig": "hoist.model.config",
    "parse_config": "hoist.model.config",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hoist' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
