"""Image insight on real OCI layouts: trees and shared layers, dot, check-base, diff, verify."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support.layers import d, f, tar_layer, wh, write_layers
from support.samples import (
    AMD64,
    layout_ref,
)

from hoist import insight
from hoist.client import Client
from hoist.errors import Unsupported
from hoist.insight.tree import TreeNode
from hoist.model import mediatype as mt
from hoist.model.digest import digest_of
from hoist.model.manifest import ImageManifest, Index
from hoist.model.platform import Platform
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import SampleImage, build_image, make_layer, write_image

ARM64 = Platform("linux", "arm64", "v8")


def ocidir(root: Path, tag: str) -> str:
    return f"ocidir://{root}:{tag}"


# --------------------------------------------------------------------------- tree


def _nodes(node: TreeNode, kind: str) -> list[TreeNode]:
    return [n for n in node.walk() if n.kind == kind]


def test_tree_marks_the_shared_base_layer(samples: Path) -> None:
    with Client() as client:
        base, app = insight.image_tree(
            [client.at(ocidir(samples, "base")), client.at(ocidir(samples, "app"))]
        )
    assert base.root.kind == "index" and app.root.kind == "manifest"
    platforms = [n.platform for n in base.root.children]
    assert platforms == ["linux/amd64", "linux/arm64/v8"]
    amd64_layer, arm64_layer = (_nodes(child, "layer")[0] for child in base.root.children)
    app_layers = _nodes(app.root, "layer")
    assert app_layers[0].digest == amd64_layer.digest
    assert amd64_layer.shared and app_layers[0].shared and app_layers[0].users == 2
    assert not arm64_layer.shared and not any(x.shared for x in app_layers[1:])
    assert not any(n.shared for n in _nodes(app.root, "config"))
    assert app.root.platform == "linux/amd64"  # from the config: no index to say it
    data = app.to_dict()
    assert data["ref"] == ocidir(samples, "app") and data["children"][1]["shared"] is True
    text = insight.tree.render_text([base, app])
    assert text.count("[shared by 2]") == 2 and "└── layer 2" in text


def test_tree_with_platform_and_referrers(samples: Path) -> None:
    with Client() as client:
        (base,) = insight.image_tree([client.at(ocidir(samples, "base"))], platform=AMD64)
        (app,) = insight.image_tree([client.at(ocidir(samples, "app"))], referrers=True)
    assert [n.platform for n in base.root.children] == ["linux/amd64"]
    referrers = _nodes(app.root, "referrer")
    assert [r.artifact_type for r in referrers] == ["application/vnd.example.signature"]
    tags = _nodes(app.root, "tag")
    assert [t.label for t in tags] == [f"sha256-{app.root.digest.hex}.sig"]
    text = insight.tree.render_text([app])
    assert "referrer" in text and ".sig" in text


def test_dot_output_parses_and_has_one_node_per_digest(samples: Path, tmp_path: Path) -> None:
    with Client() as client:
        trees = insight.image_tree(
            [client.at(ocidir(samples, "base")), client.at(ocidir(samples, "app"))],
            referrers=True,
        )
    dot = insight.to_dot(trees)
    shared = str(_nodes(trees[1].root, "layer")[0].digest)
    assert dot.count(f'\n  "{shared}" [label=') == 1  # one node...
    assert dot.count(f'-> "{shared}"') == 2  # ...with two parents
    assert 'label="subject", style=dashed' in dot
    proc = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"<svg" in proc.stdout
    assert insight.render_svg(dot).startswith(b"<?xml")


def test_svg_without_graphviz_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("dot") is None
    with pytest.raises(Unsupported, match="apt-get install graphviz"):
        insight.render_svg("digraph { a -> b }")


# --------------------------------------------------------------------------- check-base


def _check_base(client: Client, image: str, base: str) -> insight.BaseCheck:
    return insight.image_check_base(client.image(image), client.image(base))


def test_check_base_up_to_date(samples: Path) -> None:
    with Client() as client:
        result = _check_base(client, ocidir(samples, "app"), ocidir(samples, "base"))
    assert result.up_to_date and result.status == "up to date"
    assert result.platform == "linux/amd64" and result.compared_by == "diff_id"
    assert len(result.shared) == 1 and not result.base_new and not result.image_old
    assert result.to_dict()["shared"][0]["index"] == 0


def test_check_base_resolves_the_base_to_the_image_platform(
    samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # on an arm64 machine the base index would pick arm64; the app's platform wins
    monkeypatch.setattr("hoist.image.local_platform", lambda: ARM64)
    with Client() as client:
        app, base = client.image(ocidir(samples, "app")), client.image(ocidir(samples, "base"))
        result = insight.image_check_base(app, base)
        amd64 = client.image(ocidir(samples, "base"), platform=AMD64).manifest.digest
        arm64 = client.image(ocidir(samples, "base"), platform="linux/arm64").manifest.digest
        given = insight.image_check_base(app, client.image(ocidir(samples, "base"), platform=ARM64))
    assert result.up_to_date and result.base_digest == amd64
    assert not given.up_to_date and given.base_digest == arm64  # a base's own platform stays


def test_check_base_moved_on(samples: Path) -> None:
    with Client() as client:
        moved = _check_base(client, ocidir(samples, "app"), ocidir(samples, "base-v2"))
        plus = _check_base(client, ocidir(samples, "app"), ocidir(samples, "base-plus"))
        app = client.image(ocidir(samples, "app"))
        app_layers = [x.digest for x in app.layers]
    assert not moved.up_to_date and moved.status == "not built on this base"
    assert moved.shared == [] and [x.digest for x in moved.image_old] == app_layers[:1]
    assert not plus.up_to_date and plus.status == "rebuild needed"
    assert [x.digest for x in plus.shared] == app_layers[:1]
    assert len(plus.base_new) == 1 and plus.base_new[0].index == 1
    assert [x.digest for x in plus.image_old] == app_layers[1:2]


# --------------------------------------------------------------------------- diff


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("versions") / "layout"
    bottom = tar_layer([d("data"), f("data/file", b"old data\n"), f("etc/keep", b"same\n")])
    v1 = write_layers(
        root,
        "v1",
        [bottom, tar_layer([f("etc/conf", b"a\n")])],
        config={"Env": ["A=1", "PATH=/bin"], "Labels": {"x": "1"}, "Cmd": ["run"]},
    )
    v2 = write_layers(
        root,
        "v2",
        [
            bottom,
            tar_layer([f("etc/conf", b"b\n"), f("bin/tool", b"tool\n", mode=0o755)], "zstd"),
            tar_layer([wh("data/file")], "none"),
        ],
        config={"Env": ["A=2", "PATH=/bin", "B=1"], "Labels": {"x": "1", "y": "2"}},
    )
    return v1, v2


def test_diff_finds_config_layer_and_file_changes(versions: tuple[str, str]) -> None:
    with Client() as client:
        a, b = (client.image(v) for v in versions)
        result = insight.image_diff(a, b, files=True)
    changes = {(c.key, c.kind): (c.old, c.new) for c in result.changes}
    assert changes[("env A", "changed")] == ("1", "2")
    assert changes[("env B", "added")] == (None, "1")
    assert changes[("label y", "added")] == (None, "2")
    assert changes[("cmd", "removed")] == (["run"], None)
    assert ("env PATH", "changed") not in changes and ("label x", "changed") not in changes
    assert ("digest", "changed") in changes
    assert [x.kind for x in result.layers] == ["same", "changed", "added"]
    files = {(x.path, x.kind): x.fields for x in result.files or []}
    assert files == {
        ("bin", "added"): (),
        ("bin/tool", "added"): (),
        ("data/file", "removed"): (),
        ("etc/conf", "modified"): ("content",),
    }
    assert not result.identical
    text = insight.diff.render_text(result)
    assert "~ env A: 1 -> 2" in text and "+ label y: 2" in text and "~ /etc/conf  (content)" in text
    assert result.to_dict()["files"][0]["change"] == "added"


def test_diff_of_an_image_with_itself_is_empty(versions: tuple[str, str]) -> None:
    with Client() as client:
        a = client.image(versions[0])
        result = insight.image_diff(a, client.image(versions[0]), files=True)
    assert result.identical and result.files == []
    assert insight.diff.render_text(result).endswith("identical")


# --------------------------------------------------------------------------- verify


def _verify(ref: str, platform: Platform | None = None) -> insight.VerifyReport:
    with Client() as client:
        return insight.image_verify(client.at(ref), platform=platform)


def test_verify_passes_on_good_images(samples: Path) -> None:
    report = _verify(ocidir(samples, "base"))
    assert report.ok, insight.verify.render_text(report)
    checks = {(c.subject, c.check) for c in report.checks}
    assert ("linux/arm64/v8 layer 0", "diff_id") in checks
    assert ("linux/amd64 config", "platform") in checks
    only = _verify(ocidir(samples, "base"), AMD64)
    assert not any("arm64" in c.subject for c in only.checks)


def test_verify_catches_a_corrupted_blob(samples: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(samples, copy)
    with Client() as client:
        layer = client.image(ocidir(copy, "app")).layers[1]
    path = copy / "blobs" / "sha256" / layer.digest.hex
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    report = _verify(ocidir(copy, "app"))
    assert not report.ok
    (failure,) = report.failures
    assert failure.subject == "image layer 1" and failure.check == "digest"
    assert failure.detail.startswith(f"digest mismatch: expected {layer.digest}")
    assert "FAIL  image layer 1" in insight.verify.render_text(report)


def test_verify_catches_a_wrong_diff_id(tmp_path: Path) -> None:
    layer = tar_layer([f("a", b"1")])
    ref = write_layers(tmp_path / "l", "x", [layer], diff_ids=[digest_of(b"not the tar")])
    report = _verify(ref)
    (failure,) = report.failures
    assert failure.check == "diff_id"
    assert str(layer.diff_id) in failure.detail and str(digest_of(b"not the tar")) in failure.detail


def test_verify_catches_media_type_and_platform_mismatches(tmp_path: Path) -> None:
    root = tmp_path / "l"
    store = OCIDirStore(fsync=False)
    layer = make_layer({"a": b"1"})
    oci, blobs = build_image([layer], [], platform=AMD64)
    write_image(store, layout_ref(root, "oci"), SampleImage(blobs, [], oci))
    # a Docker manifest pointing at an OCI config and an OCI layer
    mixed = ImageManifest.build(oci.config, oci.layers, media_type=mt.DOCKER_MANIFEST)
    store.manifest_put(layout_ref(root, "mixed"), mixed)
    report = _verify(ocidir(root, "mixed"))
    bad = {(c.subject, c.check) for c in report.failures}
    assert bad == {("image config", "media type"), ("image layer 0", "media type")}
    # an index that says arm64 for an amd64 image, and a Docker list holding an OCI manifest
    index = Index.build([oci.descriptor(platform=Platform("linux", "arm64"))])
    store.manifest_put(layout_ref(root, "wrong-platform"), index)
    report = _verify(ocidir(root, "wrong-platform"))
    assert [(c.subject, c.check) for c in report.failures] == [("linux/arm64 config", "platform")]
    listing = Index.build([oci.descriptor(platform=AMD64)], media_type=mt.DOCKER_MANIFEST_LIST)
    store.manifest_put(layout_ref(root, "docker-list"), listing)
    report = _verify(ocidir(root, "docker-list"))
    failures = [(c.subject, c.check) for c in report.failures]
    assert failures == [("linux/amd64 manifest", "media type")]
