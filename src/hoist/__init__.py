"""hoist: container images where they live, on registries and OCI layouts, without an engine.

::

    from hoist import Changes, Client

    with Client() as client:
        client.copy("localhost:5000/base:1", "ocidir://./oci:base", platforms=["linux/amd64"])
        image = client.image("ocidir://./oci:base")
        print(image.inspect().to_dict()["Architecture"], client.tags("ocidir://./oci"))
        client.mod("ocidir://./oci:base", "ocidir://./oci:labelled", Changes(labels={"a": "b"}))

The public API is re-exported here lazily, so ``import hoist`` stays cheap; type checkers see
the real names through the imports under ``TYPE_CHECKING``. ``__all__`` is the documented
surface, pinned by ``tests/test_api.py``.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: importing typing costs ``hoist --version`` 20 ms

__version__ = "0.1.0"

if TYPE_CHECKING:
    from typing import Any

    from hoist.artifact import (
        AnnotationFile,
        ArtifactFile,
        ReferrerFilter,
        ReferrerNode,
        artifact_get,
        artifact_list,
        artifact_put,
        artifact_select,
        artifact_tree,
    )
    from hoist.authoring.builder import BuildOptions, BuildResult, image_build
    from hoist.authoring.flatten import FlattenOptions, FlattenResult, image_flatten
    from hoist.authoring.mod import Changes, Rebase, image_mod
    from hoist.client import Client, Target
    from hoist.copy import CopyOptions, CopyResult, Progress, blob_copy, image_copy
    from hoist.errors import (
        AuthError,
        BlobNotFound,
        DigestMismatch,
        ErrorCode,
        HoistError,
        InvalidConfig,
        InvalidDigest,
        InvalidDockerfile,
        InvalidInput,
        InvalidLayer,
        InvalidManifest,
        InvalidPlatform,
        InvalidReference,
        LayerTooLarge,
        ManifestNotFound,
        NotFound,
        PlatformNotFound,
        RegistryError,
        TransportError,
        UnsafeLayer,
        Unsupported,
        UnsupportedMediaType,
    )
    from hoist.export import image_export
    from hoist.image import Image, ImageInspect, LayerRow
    from hoist.index import index_add, index_create, index_remove
    from hoist.insight.base import BaseCheck, image_check_base
    from hoist.insight.diff import ImageDiff, image_diff
    from hoist.insight.sizes import ImageSizes, image_sizes
    from hoist.insight.tree import ImageTree, image_tree
    from hoist.insight.verify import VerifyReport, image_verify
    from hoist.insight.waste import WasteReport, image_waste
    from hoist.location import Location
    from hoist.model.base_image import RecordedBase
    from hoist.model.config import ImageConfig, parse_config
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest, digest_of
    from hoist.model.manifest import ImageManifest, Index, Manifest, parse_manifest
    from hoist.model.platform import Platform, PlatformLike
    from hoist.model.reference import ImageRef, LayoutReference, Reference, parse_reference
    from hoist.rootfs import RootfsExport, image_rootfs
    from hoist.store.base import Store
    from hoist.tag_query import tag_sort, tags_at_digest, tags_created

_EXPORTS: dict[str, str] = {
    # the client and where images live
    "Client": "hoist.client",
    "Location": "hoist.location",
    "PlatformLike": "hoist.model.platform",
    "Target": "hoist.client",
    "Store": "hoist.store.base",
    "Image": "hoist.image",
    "ImageInspect": "hoist.image",
    "LayerRow": "hoist.image",
    # verbs, their options and results
    "image_copy": "hoist.copy",
    "blob_copy": "hoist.copy",
    "CopyOptions": "hoist.copy",
    "CopyResult": "hoist.copy",
    "Progress": "hoist.copy",
    "image_export": "hoist.export",
    "image_mod": "hoist.authoring.mod",
    "Changes": "hoist.authoring.mod",
    "Rebase": "hoist.authoring.mod",
    "image_build": "hoist.authoring.builder",
    "BuildOptions": "hoist.authoring.builder",
    "BuildResult": "hoist.authoring.builder",
    "image_flatten": "hoist.authoring.flatten",
    "FlattenOptions": "hoist.authoring.flatten",
    "FlattenResult": "hoist.authoring.flatten",
    "image_rootfs": "hoist.rootfs",
    "RootfsExport": "hoist.rootfs",
    "index_create": "hoist.index",
    "index_add": "hoist.index",
    "index_remove": "hoist.index",
    "artifact_put": "hoist.artifact",
    "artifact_get": "hoist.artifact",
    "artifact_list": "hoist.artifact",
    "artifact_tree": "hoist.artifact",
    "artifact_select": "hoist.artifact",
    "ArtifactFile": "hoist.artifact",
    "AnnotationFile": "hoist.artifact",
    "ReferrerFilter": "hoist.artifact",
    "ReferrerNode": "hoist.artifact",
    "image_tree": "hoist.insight.tree",
    "ImageTree": "hoist.insight.tree",
    "image_check_base": "hoist.insight.base",
    "BaseCheck": "hoist.insight.base",
    "image_diff": "hoist.insight.diff",
    "ImageDiff": "hoist.insight.diff",
    "image_verify": "hoist.insight.verify",
    "VerifyReport": "hoist.insight.verify",
    "image_waste": "hoist.insight.waste",
    "WasteReport": "hoist.insight.waste",
    "image_sizes": "hoist.insight.sizes",
    "ImageSizes": "hoist.insight.sizes",
    "tag_sort": "hoist.tag_query",
    "tags_at_digest": "hoist.tag_query",
    "tags_created": "hoist.tag_query",
    # pure values
    "Reference": "hoist.model.reference",
    "LayoutReference": "hoist.model.reference",
    "ImageRef": "hoist.model.reference",
    "parse_reference": "hoist.model.reference",
    "Digest": "hoist.model.digest",
    "digest_of": "hoist.model.digest",
    "Platform": "hoist.model.platform",
    "Descriptor": "hoist.model.descriptor",
    "Manifest": "hoist.model.manifest",
    "ImageManifest": "hoist.model.manifest",
    "Index": "hoist.model.manifest",
    "parse_manifest": "hoist.model.manifest",
    "ImageConfig": "hoist.model.config",
    "parse_config": "hoist.model.config",
    "RecordedBase": "hoist.model.base_image",
    # the error tree
    "HoistError": "hoist.errors",
    "InvalidInput": "hoist.errors",
    "InvalidReference": "hoist.errors",
    "InvalidDigest": "hoist.errors",
    "InvalidPlatform": "hoist.errors",
    "InvalidManifest": "hoist.errors",
    "InvalidConfig": "hoist.errors",
    "InvalidLayer": "hoist.errors",
    "InvalidDockerfile": "hoist.errors",
    "UnsupportedMediaType": "hoist.errors",
    "DigestMismatch": "hoist.errors",
    "UnsafeLayer": "hoist.errors",
    "LayerTooLarge": "hoist.errors",
    "NotFound": "hoist.errors",
    "ManifestNotFound": "hoist.errors",
    "BlobNotFound": "hoist.errors",
    "PlatformNotFound": "hoist.errors",
    "Unsupported": "hoist.errors",
    "AuthError": "hoist.errors",
    "RegistryError": "hoist.errors",
    "ErrorCode": "hoist.errors",
    "TransportError": "hoist.errors",
}

__all__ = [
    "AnnotationFile",
    "ArtifactFile",
    "AuthError",
    "BaseCheck",
    "BlobNotFound",
    "BuildOptions",
    "BuildResult",
    "Changes",
    "Client",
    "CopyOptions",
    "CopyResult",
    "Descriptor",
    "Digest",
    "DigestMismatch",
    "ErrorCode",
    "FlattenOptions",
    "FlattenResult",
    "HoistError",
    "Image",
    "ImageConfig",
    "ImageDiff",
    "ImageInspect",
    "ImageManifest",
    "ImageRef",
    "ImageSizes",
    "ImageTree",
    "Index",
    "InvalidConfig",
    "InvalidDigest",
    "InvalidDockerfile",
    "InvalidInput",
    "InvalidLayer",
    "InvalidManifest",
    "InvalidPlatform",
    "InvalidReference",
    "LayerRow",
    "LayerTooLarge",
    "LayoutReference",
    "Location",
    "Manifest",
    "ManifestNotFound",
    "NotFound",
    "Platform",
    "PlatformLike",
    "PlatformNotFound",
    "Progress",
    "Rebase",
    "RecordedBase",
    "Reference",
    "ReferrerFilter",
    "ReferrerNode",
    "RegistryError",
    "RootfsExport",
    "Store",
    "Target",
    "TransportError",
    "UnsafeLayer",
    "Unsupported",
    "UnsupportedMediaType",
    "VerifyReport",
    "WasteReport",
    "__version__",
    "artifact_get",
    "artifact_list",
    "artifact_put",
    "artifact_select",
    "artifact_tree",
    "blob_copy",
    "digest_of",
    "image_build",
    "image_check_base",
    "image_copy",
    "image_diff",
    "image_export",
    "image_flatten",
    "image_mod",
    "image_rootfs",
    "image_sizes",
    "image_tree",
    "image_verify",
    "image_waste",
    "index_add",
    "index_create",
    "index_remove",
    "parse_config",
    "parse_manifest",
    "parse_reference",
    "tag_sort",
    "tags_at_digest",
    "tags_created",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hoist' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
