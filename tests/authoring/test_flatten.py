"""image flatten: every layer, the layers above a base, or the last N, checked by unpacking.

Each flattened image must unpack (by the small reference implementation of the layer spec,
from the layer blobs skopeo copies out) to exactly what the original unpacks to; the kept
layers keep their digests, the config's diff_ids and history follow the layers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.layers import Item, d, f, hard, opq, rich_layers, tar_layer, wh, write_layers
from support.registry_fixtures import RegistryServer
from support.skopeo import skopeo
from support.unpacking import decompress, reference_unpack, skopeo_layers, snapshot

from hoist.authoring.flatten import FlattenOptions, image_flatten
from hoist.client import Client
from hoist.errors import InvalidInput
from hoist.files import unpack
from hoist.model.base_image import ANNOTATION_BASE_DIGEST, ANNOTATION_BASE_NAME
from hoist.model.digest import digest_of
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples

# --------------------------------------------------------------------------- helpers


def unpacked(ref: str, tmp: Path, name: str) -> dict[str, Any]:
    """What the image unpacks to, by the reference unpack of skopeo's copy of its layers."""
    work = tmp / name
    work.mkdir()
    reference_unpack(skopeo_layers(ref, work), work / "root")
    return snapshot(work / "root")


def hoist_unpacked(client: Client, ref: str, tmp: Path, name: str) -> dict[str, Any]:
    unpack(client.image(ref), tmp / name)
    return snapshot(tmp / name)


def layer_digests(client: Client, ref: str) -> list[str]:
    return [str(x.digest) for x in client.image(ref).layers]


def check_config(client: Client, ref: str) -> dict[str, Any]:
    """The config, after checking its diff_ids are the layers' (each layer decompressed)."""
    img = client.image(ref)
    config: dict[str, Any] = json.loads(img.config_bytes)
    computed = []
    for i in range(len(img.layers)):
        with img.layer_reader(i) as reader:
            blob = reader.read()
        computed.append("sha256:" + hashlib.sha256(decompress(blob)).hexdigest())
    assert config["rootfs"]["diff_ids"] == computed
    steps = [h for h in config["history"] if not h.get("empty_layer")]
    assert len(steps) == len(img.layers)
    return config


@pytest.fixture
def client() -> Any:
    with Client() as c:
        yield c


# --------------------------------------------------------------------------- the rich image


@pytest.fixture
def rich(tmp_path: Path) -> tuple[str, str]:
    """The rich image (five layers) and a base made of its first two layers."""
    layers = rich_layers()
    root = tmp_path / "layout"
    return write_layers(root, "rich", layers), write_layers(root, "base", layers[:2])


@pytest.mark.parametrize(
    ("how", "options", "kept"),
    [
        ("all", {}, 0),
        ("keep-base", {"keep_base": True}, 2),
        ("last-3", {"last": 3}, 2),
        ("last-2", {"last": 2}, 3),
    ],
)
def test_flattened_image_unpacks_to_the_same_files(
    rich: tuple[str, str],
    tmp_path: Path,
    client: Client,
    how: str,
    options: dict[str, Any],
    kept: int,
) -> None:
    src, base = rich
    dst = src.rsplit(":", 1)[0] + f":{how}"
    if options.get("keep_base"):
        options = {"keep_base": client.at(base)}
    result = image_flatten(client.at(src), client.at(dst), FlattenOptions(**options))
    before = unpacked(src, tmp_path, "before")
    assert unpacked(dst, tmp_path, "after") == before
    assert hoist_unpacked(client, dst, tmp_path, "hoist") == before
    digests = layer_digests(client, dst)
    assert digests[:kept] == layer_digests(client, src)[:kept]  # kept as they are
    assert len(digests) == kept + 1
    (image,) = result.images
    assert (image.layers_before, image.kept, image.squashed) == (5, kept, 5 - kept)
    assert image.layer is not None and str(image.layer.digest) == digests[-1]
    config = check_config(client, dst)
    source = json.loads(client.image(src).config_bytes)
    assert config["history"][:kept] == source["history"][:kept]
    step = config["history"][-1]
    assert step["created_by"] == f"hoist image flatten {image.source} ({5 - kept} layers)"
    assert json.loads(step["comment"]) == source["history"][kept:]
    assert config["config"] == source["config"]
    # the same input gives the same image
    again = image_flatten(client.at(src), client.at(dst + "-again"), FlattenOptions(**options))
    assert again.descriptor.digest == result.descriptor.digest


def test_squashing_all_leaves_no_whiteouts_and_above_a_base_keeps_them(
    rich: tuple[str, str], client: Client
) -> None:
    src, base = rich
    root = src.rsplit(":", 1)[0]
    flat = image_flatten(client.at(src), client.at(root + ":flat")).images[0]
    above = image_flatten(
        client.at(src), client.at(root + ":above"), FlattenOptions(keep_base=client.at(base))
    ).images[0]
    assert flat.stats is not None and flat.stats.deletions == 0
    assert above.stats is not None and above.stats.deletions > 0  # what they delete below


# --------------------------------------------------------------------------- hard cases

LOWER_DIR = [d("x"), f("x/old", b"old\n"), d("p"), f("p/x", b"x\n"), f("a", b"a\n"), f("t", b"t\n")]
CASES: dict[str, list[list[Item]]] = {
    # a directory deleted, then made again: its old files must stay hidden
    "deleted-then-made": [[wh("x")], [d("x"), f("x/new", b"new\n")]],
    # a directory replaced by a file, then by a directory again
    "replaced-then-made": [[f("x", b"a file\n")], [d("x"), f("x/new", b"new\n")]],
    # a whiteout reaching below the squashed layers, and a file made and deleted above
    "whiteout-below": [
        [f("b", b"b\n"), d("tmp"), f("tmp/big", b"big" * 100)],
        [wh("a"), wh("tmp")],
    ],
    # an opaque directory above
    "opaque": [[f("x/2", b"2\n")], [d("x"), opq("x"), f("x/3", b"3\n")]],
    # a hard link whose target a later layer overwrites keeps the old bytes
    "link-overwritten": [[f("s", b"old\n"), hard("l", "s")], [f("s", b"new\n")]],
    # a hard link to a file below the squashed layers
    "link-below": [[hard("l2", "t")], [f("c", b"c\n")]],
    # a file made under a deleted directory, without its directory entry
    "under-deleted": [[wh("p")], [f("p/y", b"y\n")]],
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("how", ["keep-base", "all"])
def test_hard_cases_unpack_the_same(tmp_path: Path, client: Client, case: str, how: str) -> None:
    root = tmp_path / "layout"
    lower = tar_layer(LOWER_DIR)
    uppers = [tar_layer(items) for items in CASES[case]]
    src = write_layers(root, "img", [lower, *uppers])
    base = write_layers(root, "base", [lower])
    options = FlattenOptions(keep_base=client.at(base)) if how == "keep-base" else None
    image_flatten(client.at(src), client.at(f"ocidir://{root}:flat"), options)
    flat = f"ocidir://{root}:flat"
    assert unpacked(flat, tmp_path, "after") == unpacked(src, tmp_path, "before")
    assert len(client.image(flat).layers) == (2 if how == "keep-base" else 1)
    check_config(client, flat)


# --------------------------------------------------------------------------- indexes, errors


def test_every_platform_of_an_index_and_the_base_annotations(
    capsysbinary: Any, tmp_path: Path, client: Client
) -> None:
    root = tmp_path / "samples"
    store = OCIDirStore(fsync=False)
    from support.samples import layout_ref

    write_samples(store, layout_ref(root, "base"), layout_ref(root, "app"))
    base = f"ocidir://{root}:base"
    # an index of two one-layer images: nothing to squash, written as it is
    result = image_flatten(client.at(base), client.at(f"ocidir://{root}:base-flat"))
    assert result.descriptor.digest == client.at(base).manifest_head().digest
    assert [i.squashed for i in result.images] == [0, 0]
    # the app on the base: keep the base, and the result records it
    app = f"ocidir://{root}:app"
    kept = image_flatten(
        client.at(app),
        client.at(f"ocidir://{root}:app-1"),
        FlattenOptions(keep_base=client.at(base)),
    )
    manifest = client.image(f"ocidir://{root}:app-1").manifest
    assert manifest.annotations[ANNOTATION_BASE_NAME] == base
    amd64 = client.image(base, platform="linux/amd64").manifest.digest
    assert manifest.annotations[ANNOTATION_BASE_DIGEST] == str(amd64)
    assert kept.images[0].kept == 1
    code, out, err = run(capsysbinary, "image", "check-base", f"ocidir://{root}:app-1")
    assert code == 0, err
    assert b"up to date" in out
    # squashing every layer: the base is no longer recorded
    image_flatten(client.at(f"ocidir://{root}:app-1"), client.at(f"ocidir://{root}:app-2"))
    assert ANNOTATION_BASE_NAME not in client.image(f"ocidir://{root}:app-2").manifest.annotations


def test_keep_base_must_be_the_base(rich: tuple[str, str], client: Client, tmp_path: Path) -> None:
    src, _ = rich
    other = write_layers(tmp_path / "other", "x", [tar_layer([f("zzz", b"z")])])
    with pytest.raises(InvalidInput, match="is not the base of"):
        image_flatten(
            client.at(src), client.at(src + "-x"), FlattenOptions(keep_base=client.at(other))
        )
    with pytest.raises(InvalidInput, match="exclusive"):
        FlattenOptions(keep_base=client.at(other), last=2)


# --------------------------------------------------------------------------- registry, CLI


def test_cli_flatten_on_a_registry_read_back_by_skopeo(
    capsysbinary: Any,
    tmp_path: Path,
    registry_anon: RegistryServer,
    repo_name: str,
    rich: tuple[str, str],
) -> None:
    src_layout, base_layout = rich
    repo = f"{registry_anon.host}/{repo_name}"
    tls = ("--tls", "disabled")
    assert run(capsysbinary, "image", "copy", src_layout, f"{repo}:rich", *tls)[0] == 0
    assert run(capsysbinary, "image", "copy", base_layout, f"{repo}-base:1", *tls)[0] == 0
    code, out, err = run(
        capsysbinary,
        "image",
        "flatten",
        f"{repo}:rich",
        "--keep-base",
        f"{repo}-base:1",
        "--create",
        f"{repo}:flat",
        *tls,
    )
    assert code == 0, err
    assert "linux/amd64: 5 layers -> 3 (2 kept, 3 squashed into" in err
    digest = out.decode().strip()
    raw = skopeo("inspect", "--raw", f"docker://{repo}:flat").stdout.encode()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    manifest = json.loads(raw)
    config = json.loads(skopeo("inspect", "--config", f"docker://{repo}:flat").stdout)
    blobs = skopeo_layers(f"docker://{repo}:flat", tmp_path)
    assert [str(digest_of(b)) for b in blobs] == [x["digest"] for x in manifest["layers"]]
    assert config["rootfs"]["diff_ids"] == [str(digest_of(decompress(b))) for b in blobs]
    reference_unpack(blobs, tmp_path / "after")
    assert snapshot(tmp_path / "after") == unpacked(src_layout, tmp_path, "before")
    assert manifest["annotations"][ANNOTATION_BASE_NAME] == f"{repo}-base:1"
    # the same, as JSON, squashing every layer
    code, out, err = run(
        capsysbinary, "image", "flatten", f"{repo}:rich", "--create", f"{repo}:all",
        "--format", "json", *tls,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["images"][0]["layers_after"] == 1 and data["images"][0]["kept"] == 0
    assert (
        data["digest"]
        == skopeo("inspect", "--format", "{{.Digest}}", f"docker://{repo}:all").stdout.strip()
    )
    both = ("--last", "2", "--keep-base", f"{repo}-base:1")
    code, _, err = run(capsysbinary, "image", "flatten", f"{repo}:rich", "--create", "x", *both)
    assert code == 2 and "not both" in err
