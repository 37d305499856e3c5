"""image inspect --all-platforms: sizes per platform and in total, compressed and unpacked.

Compressed sizes are checked against skopeo's view of each platform's manifest, unpacked
ones against the layers decompressed here; a layer shared by two platforms counts once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.cli import run
from support.registry_fixtures import RegistryServer
from support.samples import layout_ref
from support.skopeo import skopeo
from support.unpacking import decompress

from hoist.client import Client
from hoist.insight.sizes import image_sizes
from hoist.model.manifest import ImageManifest, Index
from hoist.model.platform import Platform
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples


def samples(root: Path) -> tuple[str, str, str]:
    """The sample base (two platforms) and app, and an index whose two images share the
    base's amd64 layer (the app and the base's amd64 image, the latter as linux/386)."""
    store = OCIDirStore(fsync=False)
    write_samples(store, layout_ref(root, "base"), layout_ref(root, "app"))
    app = store.manifest_get(layout_ref(root, "app"))
    base = store.manifest_get(layout_ref(root, "base"))
    assert isinstance(app, ImageManifest) and isinstance(base, Index)
    amd64 = base.choose(Platform("linux", "amd64"))
    index = Index.build(
        [
            app.descriptor(platform=Platform("linux", "amd64")),
            amd64.replace(platform=Platform("linux", "386")),
        ]
    )
    store.manifest_put(layout_ref(root, "both"), index)
    return f"ocidir://{root}:base", f"ocidir://{root}:app", f"ocidir://{root}:both"


def blob_bytes(client: Client, ref: str, digest: Any) -> bytes:
    with client.at(ref).blob_get(digest) as reader:
        return bytes(reader.read())


def test_every_platform_and_the_totals(tmp_path: Path) -> None:
    base, app, both = samples(tmp_path / "layout")
    client = Client()
    sizes = image_sizes(client.at(both), unpacked=True)
    assert [p.platform for p in sizes.platforms] == ["linux/amd64", "linux/386"]
    app_img = client.image(app)
    assert sizes.platforms[0].compressed == sum(x.size for x in app_img.layers)
    assert sizes.platforms[0].layers == 3 and sizes.platforms[1].layers == 1
    shared = app_img.layers[0]
    assert sizes.shared == shared.size
    assert sizes.layers == 3
    assert sizes.compressed == sum(x.size for x in app_img.layers)  # the shared one once
    unpacked = {
        x.digest: len(decompress(blob_bytes(client, app, x.digest))) for x in app_img.layers
    }
    assert sizes.platforms[0].unpacked == sum(unpacked.values())
    assert sizes.platforms[1].unpacked == unpacked[shared.digest]
    assert sizes.unpacked == sum(unpacked.values())
    # without --unpacked only manifests are read
    assert image_sizes(client.at(base)).unpacked is None
    lone = image_sizes(client.at(app))
    assert [p.platform for p in lone.platforms] == ["linux/amd64"]


def test_cli_text_and_json_match_skopeo(
    capsysbinary: Any, tmp_path: Path, registry_anon: RegistryServer, repo_name: str
) -> None:
    base, _, _ = samples(tmp_path / "layout")
    repo = f"{registry_anon.host}/{repo_name}"
    assert run(capsysbinary, "image", "copy", base, f"{repo}:1", "--tls", "disabled")[0] == 0
    code, out, err = run(
        capsysbinary, "image", "inspect", f"{repo}:1", "--all-platforms", "--unpacked",
        "--format", "json", "--tls", "disabled",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:1").stdout)
    children = {
        "/".join(filter(None, [m["platform"]["os"], m["platform"]["architecture"],
                               m["platform"].get("variant")])): m["digest"]
        for m in index["manifests"]
    }  # fmt: skip
    for p in data["platforms"]:
        assert p["digest"] == children[p["platform"]]
        raw = json.loads(skopeo("inspect", "--raw", f"docker://{repo}@{p['digest']}").stdout)
        assert p["compressed"] == sum(x["size"] for x in raw["layers"])
        assert p["layers"] == len(raw["layers"])
    assert data["total"]["compressed"] == sum(p["compressed"] for p in data["platforms"])
    assert data["total"]["unpacked"] == sum(p["unpacked"] for p in data["platforms"])
    code, out, err = run(
        capsysbinary, "image", "inspect", f"{repo}:1", "--all-platforms", "--tls", "disabled"
    )
    assert code == 0, err
    lines = out.decode().splitlines()
    assert lines[3].split() == ["PLATFORM", "DIGEST", "LAYERS", "COMPRESSED"]
    assert lines[4].startswith("linux/amd64") and lines[-1].startswith("total")
    code, _, err = run(capsysbinary, "image", "inspect", base, "--unpacked")
    assert code == 2 and "--unpacked goes with --all-platforms" in err
