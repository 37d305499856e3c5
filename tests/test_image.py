"""The Image view: its config (bounded), the inspect view and the layer rows."""

from __future__ import annotations

import json

import pytest

from hoist.errors import InvalidConfig
from hoist.image import MAX_CONFIG_SIZE, Image, ImageInspect, LayerRow, read_config_bytes
from hoist.insight.tree import image_tree
from hoist.insight.verify import image_verify
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples

AMD64 = Platform("linux", "amd64")


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[OCIDirStore, LayoutReference]:
    store = OCIDirStore(fsync=False)
    ref = LayoutReference("ocidir", str(tmp_path_factory.mktemp("image") / "layout"))
    write_samples(store, ref.with_tag("base"), ref.with_tag("app"))
    return store, ref


def test_read_config_bytes_from_the_store_embedded_data_and_the_limit(
    layout: tuple[OCIDirStore, LayoutReference],
) -> None:
    store, ref = layout
    app = Image(Location(store, ref.with_tag("app")))
    desc = app.manifest.config
    raw = read_config_bytes(app.location, desc)
    assert raw == app.config_bytes and json.loads(raw)["os"] == "linux"
    # embedded data is used as is: the store is never asked (the digest here is not stored)
    fake = desc.replace(digest=Digest("sha256", "0" * 64), data=b"{}")
    assert read_config_bytes(app.location, fake) == b"{}"
    with pytest.raises(InvalidConfig, match="over the limit"):
        read_config_bytes(app.location, desc, limit=desc.size - 1)
    with pytest.raises(InvalidConfig, match="over the limit"):  # checked before the data
        read_config_bytes(app.location, fake.replace(size=1 << 40))


def test_an_oversized_config_is_refused_before_reading(
    layout: tuple[OCIDirStore, LayoutReference],
) -> None:
    store, ref = layout
    app = Image(Location(store, ref.with_tag("app")))
    huge = app.manifest.config.replace(size=MAX_CONFIG_SIZE + 1)
    store.manifest_put(ref.with_tag("huge"), ImageManifest.build(huge, app.layers))
    img = Image(Location(store, ref.with_tag("huge")))
    with pytest.raises(InvalidConfig, match="over the limit"):
        _ = img.config_bytes
    with pytest.raises(InvalidConfig, match="over the limit"):
        _ = img.config
    assert not image_verify(img.location).ok  # reported as a failed check, not raised
    (tree,) = image_tree([img.location])  # no platform read from it
    assert tree.root.platform is None


def test_inspect_view(layout: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = layout
    base = Image(Location(store, ref.with_tag("base")), platform=AMD64)
    info = base.inspect()
    assert isinstance(info, ImageInspect)
    assert info.id == base.config.digest and info.digest == base.manifest.digest
    assert info.layers == tuple(d.digest for d in base.layers)
    assert info.diff_ids == base.config.diff_ids
    assert info.index is not None and info.index.digest == base.top.digest
    assert [str(p) for p in info.index.platforms] == ["linux/amd64", "linux/arm64/v8"]
    data = info.to_dict()  # Docker's keys
    assert data["Id"] == str(base.config.digest)
    assert data["Digest"] == str(base.manifest.digest)
    assert data["RepoTags"] == [f"ocidir://{ref.path}:base"]
    assert data["RepoDigests"] == [f"ocidir://{ref.path}@{base.top.digest}"]
    assert (data["Os"], data["Architecture"]) == ("linux", "amd64")
    assert data["Config"]["Cmd"] == ["/bin/sh"]
    assert data["Layers"] == [str(d.digest) for d in base.layers]
    assert data["Size"] == sum(d.size for d in base.layers)
    assert data["Index"]["Platforms"] == ["linux/amd64", "linux/arm64/v8"]
    assert data["RootFS"] == {"Type": "layers", "Layers": [str(d) for d in info.diff_ids]}
    app = Image(Location(store, ref.with_tag("app"))).inspect()
    assert app.index is None and "Index" not in app.to_dict()


def test_layer_rows_put_config_only_steps_between_layers(
    layout: tuple[OCIDirStore, LayoutReference],
) -> None:
    store, ref = layout
    app = Image(Location(store, ref.with_tag("app")))
    rows = app.layer_rows()
    assert all(isinstance(r, LayerRow) for r in rows)
    assert [r.index for r in rows] == [0, None, None, None, 1, 2, None, None]
    assert rows[1].layer is None and rows[1].empty_layer and rows[1].digest is None
    assert rows[1].to_dict() == {
        "index": None,
        "created_by": 'CMD ["/bin/sh"]',
        "created": "2024-01-01T00:00:00Z",
        "empty_layer": True,
    }
    row = rows[4]
    assert row.layer == app.layers[1] and row.diff_id == app.config.diff_ids[1]
    assert row.created_by == "COPY server.py /app/" and not row.empty_layer
    layer = row.to_dict()
    assert layer["created_by"] == "COPY server.py /app/"
    assert layer["digest"] == str(app.layers[1].digest)
    assert layer["mediaType"] == app.layers[1].media_type == mt.OCI_LAYER_GZIP
    assert layer["diff_id"] == str(app.config.diff_ids[1])
    assert layer["size"] == app.layers[1].size and "empty_layer" not in layer
    assert "media_type" not in layer  # OCI's spelling, as in descriptors
