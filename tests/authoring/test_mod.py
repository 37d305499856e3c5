"""image mod: each change checked field by field, by hoist and by skopeo."""

from __future__ import annotations

import gzip
import io
import json
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from support.registry_fixtures import RegistryServer
from support.skopeo import skopeo

from hoist.authoring.mod import Changes, Rebase, image_mod
from hoist.copy import image_copy
from hoist.errors import HoistError, InvalidInput
from hoist.image import Image
from hoist.layers.stream import LayerStream
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.manifest import Index
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference, Reference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples

AMD64 = Platform("linux", "amd64")


@pytest.fixture
def layout(tmp_path: Path) -> tuple[OCIDirStore, LayoutReference]:
    store = OCIDirStore()
    ref = LayoutReference("ocidir", str(tmp_path / "layout"), "app")
    write_samples(store, ref.with_tag("base"), ref)
    return store, ref


def _mod(layout: tuple[OCIDirStore, LayoutReference], changes: Changes, **kw: Any) -> Image:
    store, ref = layout
    out = ref.with_tag("out")
    image_mod(Location(store, ref), Location(store, out), changes, **kw)
    return Image(Location(store, out), platform=kw.get("platform"))


def _skopeo_config(ref: LayoutReference) -> Any:
    return json.loads(skopeo("inspect", "--config", f"oci:{ref.path}:{ref.tag}").stdout)


CONFIG_CASES = [
    (Changes(labels={"a": "1"}), "Labels", {"maintainer": "hoist", "a": "1"}),
    (Changes(labels_rm=("maintainer",)), "Labels", {}),
    (
        Changes(env={"APP_PORT": "9", "X": "y"}),
        "Env",
        ["PATH=/usr/local/bin:/usr/bin:/bin", "APP_PORT=9", "X=y"],
    ),
    (Changes(env_rm=("APP_PORT",)), "Env", ["PATH=/usr/local/bin:/usr/bin:/bin"]),
    (Changes(entrypoint=["/bin/app"]), "Entrypoint", ["/bin/app"]),
    (Changes(cmd=["--debug", "1"]), "Cmd", ["--debug", "1"]),
    (Changes(user="1000:1000"), "User", "1000:1000"),
    (Changes(workdir="/srv"), "WorkingDir", "/srv"),
    (
        Changes(expose=("80", "53/udp")),
        "ExposedPorts",
        {"8080/tcp": {}, "80/tcp": {}, "53/udp": {}},
    ),
    (Changes(expose_rm=("8080",)), "ExposedPorts", {}),
    (Changes(expose_rm=("all",), expose=("1/tcp",)), "ExposedPorts", {"1/tcp": {}}),
    (Changes(volumes=("/data",)), "Volumes", {"/data": {}}),
    (Changes(stop_signal="SIGINT"), "StopSignal", "SIGINT"),
]


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    CONFIG_CASES,
    ids=[c[1] + str(i) for i, c in enumerate(CONFIG_CASES)],
)
def test_config_changes(
    layout: tuple[OCIDirStore, LayoutReference], changes: Changes, key: str, expected: Any
) -> None:
    before = Image(Location(*layout))
    img = _mod(layout, changes)
    config = _skopeo_config(LayoutReference("ocidir", layout[1].path, "out"))
    assert (config["config"].get(key) or type(expected)()) == expected  # skopeo omits empties
    assert json.loads(img.config_bytes)["config"][key] == expected
    assert config["rootfs"]["diff_ids"] == [str(d) for d in before.config.diff_ids]
    assert len(config["history"]) == len(before.config.history) + 1
    last = config["history"][-1]
    assert last["empty_layer"] is True and last["created_by"].startswith("hoist image mod --")
    assert img.layers == before.layers  # no layer moved


def test_created_and_annotations(layout: tuple[OCIDirStore, LayoutReference]) -> None:
    img = _mod(layout, Changes(created="2020-02-02T02:02:02Z", annotations={"org.example": "x"}))
    assert img.config.created == "2020-02-02T02:02:02Z"
    assert img.manifest.annotations["org.example"] == "x"


def test_layer_add_dir_and_tar_then_rm(
    layout: tuple[OCIDirStore, LayoutReference], tmp_path: Path
) -> None:
    (tmp_path / "add" / "sub").mkdir(parents=True)
    (tmp_path / "add" / "sub" / "f.txt").write_text("hello")
    tar_path = tmp_path / "extra.tar"
    with tarfile.open(tar_path, "w") as tar:
        info = tarfile.TarInfo("etc/extra")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    before = Image(Location(*layout))
    img = _mod(layout, Changes(layer_add=((tmp_path / "add", "/opt"), (tar_path, ""))))
    assert len(img.layers) == len(before.layers) + 2
    names = []
    for i in (-2, -1):
        desc = img.layers[i]
        with img.layer_reader(len(img.layers) + i) as blob, LayerStream(blob, desc.media_type) as s:
            with tarfile.open(fileobj=s, mode="r|") as tar:  # type: ignore[call-overload]
                names.append(sorted(m.name for m in tar))
            assert s.finish() == img.config.diff_ids[i]  # diff_ids match the layer tars
    assert names == [["opt", "opt/sub", "opt/sub/f.txt"], ["etc", "etc/extra"]]
    history = [h for h in img.config.history if not h.empty_layer]
    assert len(history) == len(img.layers)
    # remove the base layer and the first added one: diff_ids and history follow
    store, ref = layout
    out = Location(store, ref.with_tag("out"))
    image_mod(out, Location(store, ref.with_tag("out2")), Changes(layer_rm=(0, -2)))
    smaller = Image(Location(store, ref.with_tag("out2")))
    assert [d.digest for d in smaller.layers] == [d.digest for d in img.layers[1:-2]] + [
        img.layers[-1].digest
    ]
    assert len(smaller.config.diff_ids) == len(smaller.layers)
    assert len([h for h in smaller.config.history if not h.empty_layer]) == len(smaller.layers)
    with pytest.raises(InvalidInput, match="has 5 layers"):
        image_mod(out, Location(store, ref.with_tag("x")), Changes(layer_rm=(9,)))


def test_strip_file_and_to_docker_on_an_index(layout: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = layout
    out = ref.with_tag("docker")
    image_mod(
        Location(store, ref.with_tag("base")),
        Location(store, out),
        Changes(layer_strip_file=("/bin/hello",), to_docker=True),
    )
    index = store.manifest_get(out)
    assert isinstance(index, Index) and index.media_type == mt.DOCKER_MANIFEST_LIST
    for platform in (AMD64, Platform("linux", "arm64")):
        img = Image(Location(store, out), platform=platform)
        assert img.manifest.media_type == mt.DOCKER_MANIFEST
        assert img.manifest.config.media_type == mt.DOCKER_CONFIG
        assert {d.media_type for d in img.layers} == {mt.DOCKER_LAYER}
        with img.layer_reader(0) as blob, LayerStream(blob, img.layers[0].media_type) as s:
            with tarfile.open(fileobj=s, mode="r|") as tar:  # type: ignore[call-overload]
                names = [m.name for m in tar]
            assert s.finish() == img.config.diff_ids[0]
        assert "bin/hello" not in names and "etc/os-release" in names
    raw = skopeo("inspect", "--raw", f"oci:{ref.path}:docker", check=False)
    assert raw.returncode != 0  # skopeo's layout reader takes OCI indexes only (documented)


def test_platform_narrows_an_index(layout: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = layout
    before = store.manifest_get(ref.with_tag("base"))
    assert isinstance(before, Index)
    image_mod(
        Location(store, ref.with_tag("base")),
        Location(store, ref.with_tag("one")),
        Changes(labels={"a": "b"}),
        platform=AMD64,
    )
    after = store.manifest_get(ref.with_tag("one"))
    assert isinstance(after, Index)
    assert after.manifests[1] == before.manifests[1]  # arm64 untouched
    assert after.manifests[0].digest != before.manifests[0].digest
    assert after.manifests[0].platform == before.manifests[0].platform


def test_recompress_keeps_diff_ids(layout: tuple[OCIDirStore, LayoutReference]) -> None:
    before = Image(Location(*layout))
    img = _mod(layout, Changes(layer_compress="zstd"))
    assert {d.media_type for d in img.layers} == {mt.OCI_LAYER_ZSTD}
    assert img.config.diff_ids == before.config.diff_ids
    for i, desc in enumerate(img.layers):
        with img.layer_reader(i) as blob, LayerStream(blob, desc.media_type) as s:
            while s.read(1 << 20):
                pass
            assert s.finish() == before.config.diff_ids[i]


def test_reproducible_gives_the_same_digest(
    layout: tuple[OCIDirStore, LayoutReference], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "5")  # the library never reads it
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    store, ref = layout
    digests = set()
    for name in ("r1", "r2"):
        changes = Changes(
            env={"A": "b"},
            layer_add=((tmp_path / "d", "/d"),),
            reproducible=True,
            epoch=1_700_000_000,
        )
        digests.add(
            image_mod(Location(store, ref), Location(store, ref.with_tag(name)), changes).digest
        )
        (tmp_path / "d" / "f").touch()  # a new mtime must not matter
    assert len(digests) == 1
    img = Image(Location(store, ref.with_tag("r1")))
    assert img.config.created == "2023-11-14T22:13:20Z"
    with img.layer_reader(-1) as blob, LayerStream(blob, img.layers[-1].media_type) as s:
        tar: Any = s
        with tarfile.open(fileobj=tar, mode="r|") as t:
            assert {m.mtime for m in t} == {1_700_000_000}
    image_mod(Location(store, ref), Location(store, ref.with_tag("r0")), Changes(reproducible=True))
    assert Image(Location(store, ref.with_tag("r0"))).config.created == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("value", "created"),
    [
        ("1700000000", "2023-11-14T22:13:20Z"),
        ("", "1970-01-01T00:00:00Z"),
        (None, "1970-01-01T00:00:00Z"),
    ],
)
def test_cli_reproducible_takes_source_date_epoch(
    layout: tuple[OCIDirStore, LayoutReference],
    capsysbinary: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
    created: str,
) -> None:
    from support.cli import run

    store, ref = layout
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "h.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    if value is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    src, dest = f"ocidir://{ref.path}:app", f"ocidir://{ref.path}:cli"
    code, _, err = run(capsysbinary, "image", "mod", src, "--create", dest, "--reproducible")
    assert code == 0, err
    img = Image(Location(store, ref.with_tag("cli")))
    assert img.config.created == created
    assert {h.created for h in img.config.history} == {created}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    code, _, err = run(capsysbinary, "image", "mod", src, "--create", dest, "--reproducible")
    assert code == 1 and "SOURCE_DATE_EPOCH='soon' is not a number" in err
    code, _, err = run(capsysbinary, "image", "mod", src, "--create", dest, "--label", "a=b")
    assert code == 0, err  # read only for --reproducible


def test_recompress_without_isal_falls_back_to_zlib(
    layout: tuple[OCIDirStore, LayoutReference], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, ref = layout
    before = Image(Location(store, ref), platform=AMD64)
    z = Location(store, ref.with_tag("z"))
    image_mod(Location(store, ref), z, Changes(layer_compress="zstd"), platform=AMD64)
    monkeypatch.setitem(sys.modules, "isal", None)  # import isal -> ImportError
    g = Location(store, ref.with_tag("g"))
    image_mod(z, g, Changes(layer_compress="gzip"), platform=AMD64)
    img = Image(g, platform=AMD64)
    assert {d.media_type for d in img.layers} == {mt.OCI_LAYER_GZIP}
    assert img.config.diff_ids == before.config.diff_ids
    for i, desc in enumerate(img.layers):
        with img.layer_reader(i) as blob:
            data = blob.read()
        assert gzip.decompress(data)  # plain gzip, readable by the standard library
        with io.BytesIO(data) as raw, LayerStream(raw, desc.media_type) as s:
            while s.read(1 << 20):
                pass
            assert s.finish() == before.config.diff_ids[i]


def test_recompress_leaves_no_temporary_file_when_a_layer_cannot_be_read(
    layout: tuple[OCIDirStore, LayoutReference], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, ref = layout
    layer = Image(Location(store, ref), platform=AMD64).layers[0]
    blob = Path(ref.path) / "blobs" / "sha256" / layer.digest.hex
    blob.write_bytes(b"not gzip at all" * 100)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(HoistError):
        image_mod(
            Location(store, ref), Location(store, ref.with_tag("x")), Changes(layer_compress="zstd")
        )
    assert list(scratch.iterdir()) == []


def test_rebase(layout: tuple[OCIDirStore, LayoutReference]) -> None:
    store, ref = layout
    old_base = Location(store, ref.with_tag("base"))
    new_base = Location(store, ref.with_tag("newbase"))  # a "rebuilt" base: other content
    image_mod(old_base, new_base, Changes(layer_strip_file=("bin/hello",)))
    before = Image(Location(store, ref), platform=AMD64)
    rebased = Location(store, ref.with_tag("rebased"))
    image_mod(Location(store, ref), rebased, Changes(rebase=Rebase(old_base, new_base)))
    img = Image(rebased, platform=AMD64)
    base_now = Image(new_base, platform=AMD64)
    assert img.layers[0] == base_now.layers[0]
    assert img.layers[1:] == before.layers[1:]
    assert img.config.diff_ids[0] == base_now.config.diff_ids[0]
    with pytest.raises(InvalidInput, match="is not the base"):
        image_mod(
            rebased,
            Location(store, ref.with_tag("x")),
            Changes(rebase=Rebase(old_base, new_base)),
        )


def test_mod_on_a_registry_reuses_blobs(
    layout: tuple[OCIDirStore, LayoutReference],
    registry_anon: RegistryServer,
    registry_store: Any,
    repo_name: str,
    capsysbinary: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from support.cli import run

    store, ref = layout
    reg = registry_store(registry_anon)
    src = Reference(registry_anon.host, repo_name, "v1")
    image_copy(Location(store, ref), Location(reg, src))
    monkeypatch.setenv("HOIST_CONFIG", str(tmp_path / "h.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    code, _, err = run(
        capsysbinary,
        "image",
        "mod",
        str(src),
        "--create",
        f"{registry_anon.host}/{repo_name}-mod:v2",
        "--label",
        "stage=mod",
        "--env",
        "Z=1",
    )
    assert code == 0, err
    config = json.loads(
        skopeo("inspect", "--config", f"docker://{registry_anon.host}/{repo_name}-mod:v2").stdout
    )
    assert config["config"]["Labels"]["stage"] == "mod" and "Z=1" in config["config"]["Env"]
    code, _, err = run(capsysbinary, "image", "mod", str(src), "--replace", "--user", "app")
    assert code == 0, err
    assert (
        json.loads(skopeo("inspect", "--config", f"docker://{src}").stdout)["config"]["User"]
        == "app"
    )
    code, _, err = run(capsysbinary, "image", "mod", str(src), "--cmd", "not json", "--replace")
    assert code == 1 and "wants JSON" in err
    code, _, err = run(capsysbinary, "image", "mod", str(src))
    assert code == 2 and "exactly one of" in err


def test_changes_take_typed_values_and_name_no_flags() -> None:
    assert Changes(env=[("A", "1"), ("B", "2")]).env == {"A": "1", "B": "2"}
    assert Changes(labels_rm=["a"], expose=["80"]).labels_rm == ("a",)
    with pytest.raises(InvalidInput, match="list of strings") as exc:
        Changes(entrypoint='["/bin/app"]')  # JSON text is the CLI's
    with pytest.raises(InvalidInput, match="not one string"):
        Changes(labels_rm="maintainer")
    with pytest.raises(InvalidInput, match="both set and removed"):
        Changes(cmd=["x"], cmd_rm=True)
    with pytest.raises(InvalidInput, match="OCI and to Docker") as exc2:
        Changes(to_oci=True, to_docker=True)
    with pytest.raises(InvalidInput, match="unknown compression"):
        Changes(layer_compress="brotli")
    assert "--" not in str(exc.value) + str(exc2.value)


def test_entrypoint_rm_clears_to_null_and_client_mod(
    layout: tuple[OCIDirStore, LayoutReference],
) -> None:
    from hoist.client import Client

    ref = layout[1]
    with Client() as client:
        src = client.at(f"ocidir://{ref.path}:app")
        desc = client.mod(src, f"ocidir://{ref.path}:cleared", Changes(entrypoint_rm=True, cmd=[]))
        img = client.image(f"ocidir://{ref.path}:cleared")
    assert img.manifest.digest == desc.digest
    config = json.loads(img.config_bytes)
    assert config["config"]["Entrypoint"] is None and config["config"]["Cmd"] == []
    assert [h.created_by for h in img.config.history[-2:]] == [
        "hoist image mod --entrypoint null",
        "hoist image mod --cmd []",
    ]


_HOSTILE_CONFIGS = {
    "deeply-nested": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "5000-digit-number": b'{"created": 1' + b"0" * 5000 + b"}",
    "config-is-a-list": b'{"config": [1, 2], "rootfs": {"type": "layers", "diff_ids": []}}',
    "rootfs-is-text": b'{"rootfs": "layers"}',
    "diff-ids-is-an-object": b'{"rootfs": {"type": "layers", "diff_ids": {"a": 1}}}',
    "history-is-a-number": b'{"rootfs": {"type": "layers", "diff_ids": []}, "history": 7}',
    "history-entry-is-text": b'{"rootfs": {"type": "layers", "diff_ids": []}, "history": ["x"]}',
    "diff-id-is-no-digest": b'{"rootfs": {"type": "layers", "diff_ids": ["nope"]}}',
}


@pytest.mark.parametrize("raw", list(_HOSTILE_CONFIGS.values()), ids=list(_HOSTILE_CONFIGS))
def test_hostile_config_given_to_mod_is_one_line(
    raw: bytes, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    from support.cli import run

    from hoist.model.descriptor import Descriptor
    from hoist.model.manifest import ImageManifest

    store = OCIDirStore(fsync=False)
    ref = LayoutReference("ocidir", str(tmp_path / "bad"), "v1")
    config = store.blob_put(ref, raw, media_type=mt.OCI_CONFIG)
    store.manifest_put(
        ref, ImageManifest.build(Descriptor(mt.OCI_CONFIG, config.digest, len(raw)), [])
    )
    dst = f"ocidir://{tmp_path / 'out'}:v1"
    code, out, err = run(capsysbinary, "image", "mod", str(ref), "--create", dst, "--env", "A=1")
    assert code == 1, err
    assert out == b"" and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()
