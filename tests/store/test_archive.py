"""Export and import: docker-archive and oci-archive files, checked with skopeo both ways."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.cli import run
from support.json_fuzz import JSON
from support.skopeo import skopeo, skopeo_raw

from hoist.copy import CopyOptions, image_copy
from hoist.image import Image
from hoist.location import Location
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference
from hoist.store.archive import ArchiveStore, open_archive
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import write_samples


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive") / "layout"
    ref = LayoutReference("ocidir", str(root))
    write_samples(OCIDirStore(), ref.with_tag("base"), ref.with_tag("app"))
    return root


def _config(ref: str) -> Any:
    return json.loads(skopeo("inspect", "--config", ref).stdout)


def test_docker_export_reads_in_skopeo(layout: Path, tmp_path: Path, capsysbinary: Any) -> None:
    out = tmp_path / "app.tar"
    code, _, err = run(capsysbinary, "image", "export", f"ocidir://{layout}:app", str(out), "-q")
    assert code == 0, err
    assert _config(f"docker-archive:{out}") == _config(f"oci:{layout}:app")
    names = json.loads(
        subprocess.run(
            ["tar", "xOf", str(out), "manifest.json"], capture_output=True, check=True
        ).stdout
    )
    assert names[0]["RepoTags"] == ["localhost/app:app"]
    # skopeo copies it on into a layout: same config, same uncompressed layers
    skopeo("copy", f"docker-archive:{out}", f"oci:{tmp_path}/viaskopeo:x")
    app = Image(Location(OCIDirStore(), LayoutReference("ocidir", str(layout), "app")))
    again = Image(Location(OCIDirStore(), LayoutReference("ocidir", f"{tmp_path}/viaskopeo", "x")))
    assert again.config.diff_ids == app.config.diff_ids


def test_docker_export_of_an_index_takes_one_platform(
    layout: Path, tmp_path: Path, capsysbinary: Any
) -> None:
    out = tmp_path / "base.tar"
    code, _, err = run(
        capsysbinary,
        "image",
        "export",
        f"ocidir://{layout}:base",
        str(out),
        "-p",
        "linux/arm64",
        "-q",
    )
    assert code == 0, err
    assert _config(f"docker-archive:{out}")["architecture"] == "arm64"


def test_oci_export_keeps_the_index(layout: Path, tmp_path: Path, capsysbinary: Any) -> None:
    out = tmp_path / "base-oci.tar"
    code, digest, err = run(
        capsysbinary,
        "image",
        "export",
        f"ocidir://{layout}:base",
        str(out),
        "--type",
        "oci",
        "-q",
    )
    assert code == 0, err
    raw = skopeo_raw(f"oci-archive:{out}:base")
    assert raw == skopeo_raw(f"oci:{layout}:base")
    assert digest.decode().strip() == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_export_to_stdout(layout: Path, tmp_path: Path) -> None:
    out = tmp_path / "piped.tar"
    with open(out, "wb") as f:
        done = subprocess.run(
            [sys.executable, "-m", "hoist", "image", "export", f"ocidir://{layout}:app", "-", "-q"],
            stdout=f,
            stderr=subprocess.PIPE,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert _config(f"docker-archive:{out}") == _config(f"oci:{layout}:app")


def test_import_what_skopeo_wrote(layout: Path, tmp_path: Path, capsysbinary: Any) -> None:
    docker = tmp_path / "sk-docker.tar"
    oci = tmp_path / "sk-oci.tar"
    skopeo("copy", f"oci:{layout}:app", f"docker-archive:{docker}:example/app:v9")
    skopeo("copy", "--all", f"oci:{layout}:base", f"oci-archive:{oci}:v2")
    target = tmp_path / "imported"
    code, _, err = run(capsysbinary, "image", "import", f"ocidir://{target}:app", str(docker), "-q")
    assert code == 0, err
    imported = Image(Location(OCIDirStore(), LayoutReference("ocidir", str(target), "app")))
    original = Image(Location(OCIDirStore(), LayoutReference("ocidir", str(layout), "app")))
    assert imported.config.diff_ids == original.config.diff_ids
    assert (
        json.loads(imported.config_bytes)["config"] == json.loads(original.config_bytes)["config"]
    )
    code, out, err = run(capsysbinary, "image", "import", f"ocidir://{target}:base", str(oci), "-q")
    assert code == 0, err
    assert skopeo_raw(f"oci:{target}:base") == skopeo_raw(f"oci:{layout}:base")
    # archives are stores too
    code, out, err = run(
        capsysbinary, "image", "inspect", f"docker-archive://{docker}", "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["RootFS"]["Layers"] == [str(d) for d in original.config.diff_ids]


def test_docker_archive_with_several_images_pick_by_name(
    layout: Path, tmp_path: Path, capsysbinary: Any
) -> None:
    out = tmp_path / "two.tar"
    store, src = OCIDirStore(), LayoutReference("ocidir", str(layout))
    archive = ArchiveStore("docker-archive")
    dst = LayoutReference("docker-archive", str(out), "app")
    archive.name_images(dst, "example/app")
    image_copy(Location(store, src.with_tag("app")), Location(archive, dst))
    image_copy(
        Location(store, src.with_tag("base")),
        Location(archive, dst.with_tag("base")),
        CopyOptions(platform=Platform("linux", "arm64")),
    )
    archive.close()
    entries = json.loads(
        subprocess.run(
            ["tar", "xOf", str(out), "manifest.json"], capture_output=True, check=True
        ).stdout
    )
    assert sorted(t for e in entries for t in e["RepoTags"]) == [
        "example/app:app",
        "example/app:base",
    ]
    code, _, err = run(
        capsysbinary,
        "image",
        "import",
        f"ocidir://{tmp_path}/pick:b",
        str(out),
        "--name",
        "example/app:base",
        "-q",
    )
    assert code == 0, err
    picked = Image(Location(OCIDirStore(), LayoutReference("ocidir", f"{tmp_path}/pick", "b")))
    assert picked.config.architecture == "arm64"
    code, _, err = run(
        capsysbinary,
        "image",
        "import",
        f"ocidir://{tmp_path}/pick:c",
        str(out),
        "--name",
        "nope",
        "-q",
    )
    assert code == 1 and "names: example/app:app, example/app:base" in err
    store2, ref = open_archive(str(out))
    with pytest.raises(Exception, match="several images"):
        store2.manifest_get(ref)
    store2.close()


def test_failed_export_leaves_nothing(layout: Path, tmp_path: Path, capsysbinary: Any) -> None:
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(layout), str(broken)], check=True)
    app = Image(Location(OCIDirStore(), LayoutReference("ocidir", str(broken), "app")))
    blob = broken / "blobs" / "sha256" / app.layers[1].digest.hex
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run(
        capsysbinary, "image", "export", f"ocidir://{broken}:app", str(out / "x.tar"), "-q"
    )
    assert code == 1 and ("digest mismatch" in err or "corrupt gzip data" in err), err
    assert list(out.iterdir()) == []


def test_failed_copy_into_an_archive_leaves_no_file(layout: Path, tmp_path: Path) -> None:
    from hoist.client import Client
    from hoist.errors import DigestMismatch

    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(layout), str(broken)], check=True)
    app = Image(Location(OCIDirStore(), LayoutReference("ocidir", str(broken), "app")))
    blob = broken / "blobs" / "sha256" / app.layers[2].digest.hex
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DigestMismatch), Client() as client:
        src = client.at(f"ocidir://{broken}:app")
        dst = client.at(f"oci-archive://{out}/part.tar:app")
        image_copy(src, dst, CopyOptions(concurrency=1))
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"manifest.json": b'[{"Config":"missing.json","Layers":[]}]'}, "missing.json is not in"),
        ({"manifest.json": b"{}"}, "manifest.json is not a list"),
        ({"other": b"x"}, "neither an OCI nor a docker archive"),
        ({"manifest.json": b"[" * 100_000 + b"]" * 100_000}, "manifest.json is not valid JSON"),
        ({"manifest.json": b"[" + b"9" * 5000 + b"]"}, "manifest.json is not valid JSON"),
        ({"manifest.json": b"[1]"}, "entry 0 lacks Config/Layers"),
        ({"manifest.json": b'[{"Config": ["c"], "Layers": []}]'}, "entry 0 lacks Config/Layers"),
        (
            {"manifest.json": b'[{"Config": "c", "Layers": [], "RepoTags": 5}]', "c": b"{}"},
            "RepoTags is not a list",
        ),
        ({"oci-layout": b"{}", "index.json": b"[" * 100_000}, "index.json"),
    ],
    ids=[
        "missing-config",
        "bad-manifest-json",
        "not-an-archive",
        "deeply-nested-manifest-json",
        "manifest-json-with-a-5000-digit-number",
        "manifest-json-entry-not-an-object",
        "manifest-json-config-not-a-string",
        "manifest-json-repotags-not-a-list",
        "deeply-nested-index-json",
    ],
)
def test_malformed_archives_are_one_line_errors(
    tmp_path: Path, capsysbinary: Any, members: dict[str, bytes], message: str
) -> None:
    import io
    import tarfile

    path = tmp_path / "bad.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    code, _, err = run(capsysbinary, "image", "import", f"ocidir://{tmp_path}/x:y", str(path))
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, not a tar\n", "not a tar archive"),
        (bytes(range(256)) * 12, "not a tar archive"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage", "corrupt or truncated gzip"),
        (gzip.compress(b"x" * 10_000)[:100], "corrupt or truncated gzip compressed tar"),
        (b"", "not a tar archive"),
    ],
    ids=["text-file", "random-bytes", "bad-gzip", "truncated-gzip", "empty-file"],
)
def test_importing_a_file_that_is_not_a_tar_is_one_line(
    tmp_path: Path, capsysbinary: Any, content: bytes, message: str
) -> None:
    path = tmp_path / "not.tar"
    path.write_bytes(content)
    code, _, err = run(capsysbinary, "image", "import", f"ocidir://{tmp_path}/x:y", str(path))
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {path}: {message}"), err
    code, _, err = run(capsysbinary, "image", "inspect", f"docker-archive://{path}")
    assert code == 1 and len(err.strip().splitlines()) == 1 and str(path) in err, err


def test_importing_a_missing_file_is_one_line(tmp_path: Path, capsysbinary: Any) -> None:
    path = tmp_path / "absent.tar"
    code, _, err = run(capsysbinary, "image", "import", f"ocidir://{tmp_path}/x:y", str(path))
    assert code == 1 and err == f"error: {path}: cannot read it: no such file or directory\n"


def test_bad_gzip_archive_leaves_no_temp_file(tmp_path: Path, capsysbinary: Any) -> None:
    import tempfile

    path = tmp_path / "bad.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"not deflate data at all")
    before = set(Path(tempfile.gettempdir()).glob("hoist-archive-*"))
    code, _, err = run(capsysbinary, "image", "inspect", f"docker-archive://{path}")
    assert code == 1 and str(path) in err, err
    assert set(Path(tempfile.gettempdir()).glob("hoist-archive-*")) == before


def test_library_export(layout: Path, tmp_path: Path) -> None:
    from hoist.errors import InvalidInput
    from hoist.export import image_export

    store = OCIDirStore()
    base = LayoutReference("ocidir", str(layout), "base")
    result = image_export(Location(store, base), str(tmp_path / "base.tar"), fmt="oci")
    assert result.descriptor.digest == store.manifest_head(base).digest  # the index, whole
    arm = Platform("linux", "arm64", "v8")
    image_export(Location(store, base), str(tmp_path / "arm.tar"), platform=arm)
    archive, ref = open_archive(str(tmp_path / "arm.tar"))
    try:
        assert (
            Image(Location(archive, ref)).config
            == Image(Location(store, base), platform=arm).config
        )
        assert archive.tag_list(ref) == ["localhost/arm:base"]
    finally:
        archive.close()
    with pytest.raises(InvalidInput, match="unknown export format 'zip'"):
        image_export(Location(store, base), str(tmp_path / "x.zip"), fmt="zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arm.tar", "base.tar"]


def test_failed_cli_copy_into_an_archive_leaves_no_file(
    layout: Path, tmp_path: Path, capsysbinary: Any
) -> None:
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(layout), str(broken)], check=True)
    app = Image(Location(OCIDirStore(), LayoutReference("ocidir", str(broken), "app")))
    blob = broken / "blobs" / "sha256" / app.layers[0].digest.hex
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run(
        capsysbinary,
        "image",
        "copy",
        f"ocidir://{broken}:app",
        f"docker-archive://{out}/x.tar",
        "-q",
    )
    assert code == 1 and err.startswith("error: "), err
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- fuzzing

_NAMES = st.sampled_from(["config.json", "layer.tar", "absent", "", "../x"]) | JSON
_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "Config": _NAMES,
        "Layers": st.lists(_NAMES, max_size=3) | JSON,
        "RepoTags": st.lists(st.text(max_size=12) | JSON, max_size=2) | JSON,
    },
)


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=200)
    | JSON.map(lambda v: json.dumps(v).encode())
    | st.lists(_ENTRY | JSON, max_size=3).map(lambda v: json.dumps(v).encode())
)
def test_fuzz_manifest_json_only_hoist_errors(raw: bytes) -> None:
    import io
    import tarfile
    import tempfile

    from hoist.errors import HoistError
    from hoist.store.archive.reader import ArchiveReader

    members = {"manifest.json": raw, "config.json": b"{}", "layer.tar": b"\0" * 1024}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.tar"
        with tarfile.open(path, "w") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        with contextlib.suppress(HoistError):
            ArchiveReader(path, "docker-archive", 1 << 20).close()
