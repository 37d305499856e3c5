"""The public API re-exported by ``hoist``: pinned, typed, and lazy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import hoist

INIT = Path(hoist.__file__)

DOCUMENTED = {
    # the client and where images live
    "Client", "Location", "PlatformLike", "Target", "Store", "Image", "ImageInspect", "LayerRow",
    # verbs, options and results
    "image_copy", "blob_copy", "CopyOptions", "CopyResult", "Progress", "image_export",
    "image_mod", "Changes", "Rebase", "image_build", "BuildOptions", "BuildResult",
    "index_create", "index_add", "index_remove",
    "artifact_put", "artifact_get", "artifact_list", "artifact_tree", "ArtifactFile",
    "artifact_select", "ReferrerFilter", "AnnotationFile",
    "ReferrerNode", "image_tree", "ImageTree", "image_check_base", "BaseCheck", "image_diff",
    "ImageDiff", "image_verify", "VerifyReport",
    "image_flatten", "FlattenOptions", "FlattenResult", "image_rootfs", "RootfsExport",
    "image_waste", "WasteReport", "image_sizes", "ImageSizes", "tag_sort", "tags_at_digest",
    "tags_created", "RecordedBase",
    # pure values
    "Reference", "LayoutReference", "ImageRef", "parse_reference", "Digest", "digest_of",
    "Platform", "Descriptor", "Manifest", "ImageManifest", "Index", "parse_manifest",
    "ImageConfig", "parse_config",
    # the error tree
    "HoistError", "InvalidInput", "InvalidReference", "InvalidDigest", "InvalidPlatform",
    "InvalidManifest", "InvalidConfig", "InvalidLayer", "InvalidDockerfile",
    "UnsupportedMediaType", "DigestMismatch", "UnsafeLayer", "LayerTooLarge", "NotFound",
    "ManifestNotFound", "BlobNotFound", "PlatformNotFound", "Unsupported", "AuthError",
    "RegistryError", "ErrorCode", "TransportError",
    "__version__",
}  # fmt: skip


def test_all_is_the_documented_surface() -> None:
    assert set(hoist.__all__) == DOCUMENTED
    assert len(hoist.__all__) == len(set(hoist.__all__))


@pytest.mark.parametrize("name", sorted(DOCUMENTED - {"__version__"}))
def test_every_exported_name_resolves_to_its_module(name: str) -> None:
    value = getattr(hoist, name)
    assert value is not None
    module = sys.modules[hoist._EXPORTS[name]]
    assert getattr(module, name) is value
    assert name in getattr(module, "__all__", [name])


def test_type_checkers_see_the_same_names() -> None:
    """Every lazily exported name is imported under TYPE_CHECKING from the same module."""
    tree = ast.parse(INIT.read_text())
    seen: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module not in (None, "typing"):
                    seen.update({alias.name: stmt.module for alias in stmt.names})
    assert seen == hoist._EXPORTS


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = hoist.nope


def test_import_hoist_loads_nothing_heavy() -> None:
    probe = (
        "import sys, hoist\n"
        "print(sorted(m for m in sys.modules if m.startswith(('hoist.', 'urllib3', 'click'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_client_options_are_checked_at_construction() -> None:
    with pytest.raises(TypeError):
        hoist.Client(retires=3)  # type: ignore[call-arg]
    with pytest.raises(hoist.InvalidInput, match="retries"):
        hoist.Client(retries=-1)
    with pytest.raises(hoist.InvalidInput, match="read_timeout"):
        hoist.Client(read_timeout=0)


def test_options_take_the_values_users_have() -> None:
    options = hoist.CopyOptions(platforms=("linux/amd64", hoist.Platform.parse("linux/arm64")))
    assert options.platforms == (
        hoist.Platform.parse("linux/amd64"),
        hoist.Platform.parse("linux/arm64"),
    )
    assert all(isinstance(p, hoist.Platform) for p in options.platforms)
    with pytest.raises(hoist.InvalidPlatform):
        hoist.CopyOptions(platforms=("linux",))
