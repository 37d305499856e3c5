"""image build records its base (org.opencontainers.image.base.name and .digest), and
check-base and mod --rebase then work without naming it: on layouts and on a registry, with
skopeo reading the annotations back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.registry_fixtures import RegistryServer, registry_store_options
from support.skopeo import skopeo

from hoist.authoring.builder import BuildOptions, image_build
from hoist.authoring.mod import Changes, Rebase, image_mod
from hoist.client import Client
from hoist.errors import InvalidInput
from hoist.insight import image_check_base
from hoist.insight.base import recorded_base
from hoist.model.base_image import ANNOTATION_BASE_DIGEST, ANNOTATION_BASE_NAME, RecordedBase
from hoist.model.config import History
from hoist.model.manifest import Index
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import SampleImage, base_image, build_image, make_layer, write_image

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64", "v8")


def context(root: Path, base: str) -> Path:
    root.mkdir(parents=True)
    (root / "Dockerfile").write_text(f'FROM {base}\nCOPY app.txt /app/\nCMD ["/app"]\n')
    (root / "app.txt").write_text("app\n")
    return root


@pytest.fixture
def bases(tmp_path: Path) -> tuple[str, str]:
    """A two-platform base (tag 1) and a newer single-platform one (tag 2), in one layout."""
    store = OCIDirStore(fsync=False)
    write_image(
        store, LayoutReference("ocidir", str(tmp_path / "l"), "1"), base_image([AMD64, ARM64])
    )
    layer = make_layer({"etc/": None, "etc/os-release": b"NAME=hoist-sample\nVERSION=2\n"})
    manifest, blobs = build_image([layer], [History(created_by="ADD rootfs.tar /")], platform=AMD64)
    newer = SampleImage(blobs, [], manifest)
    write_image(store, LayoutReference("ocidir", str(tmp_path / "l"), "2"), newer)
    return f"ocidir://{tmp_path / 'l'}:1", f"ocidir://{tmp_path / 'l'}:2"


def test_build_records_the_base_per_platform_and_on_the_index(
    tmp_path: Path, bases: tuple[str, str]
) -> None:
    base, _ = bases
    with Client() as client:
        dst = client.at(f"ocidir://{tmp_path / 'l'}:app")
        result = image_build(
            client, context(tmp_path / "ctx", base), dst, BuildOptions(platforms=(AMD64, ARM64))
        )
        index = dst.manifest_get()
        assert isinstance(index, Index)
        assert dict(index.annotations) == {ANNOTATION_BASE_NAME: base}
        for built in result.images:
            child = client.image(base, platform=built.platform).manifest
            assert dict(built.manifest.annotations) == {
                ANNOTATION_BASE_NAME: base,
                ANNOTATION_BASE_DIGEST: str(child.digest),
            }
        recorded = recorded_base(dst)
        assert recorded is not None and recorded.name == base and recorded.digest is None
        # FROM scratch records nothing
        (tmp_path / "scratch").mkdir()
        (tmp_path / "scratch" / "Dockerfile").write_text("FROM scratch\nENV A=1\n")
        plain = client.at(f"ocidir://{tmp_path / 'l'}:plain")
        image_build(client, tmp_path / "scratch", plain)
        assert recorded_base(plain) is None


def test_check_base_and_rebase_without_naming_the_base(
    capsysbinary: Any, tmp_path: Path, bases: tuple[str, str]
) -> None:
    base, newer = bases
    app = f"ocidir://{tmp_path / 'l'}:app"
    code, _, err = run(capsysbinary, "image", "build", str(context(tmp_path / "ctx", base)),
                       "-t", app, "--platform", "linux/amd64")  # fmt: skip
    assert code == 0, err
    code, out, err = run(capsysbinary, "image", "check-base", app)
    assert code == 0, err
    assert f"on {base}: up to date" in out.decode()
    # the base's tag moves on: the image needs a rebuild
    assert run(capsysbinary, "tag", "add", newer, "1")[0] == 0
    code, out, err = run(capsysbinary, "image", "check-base", app)
    assert code == 3 and "not built on this base" in out.decode()  # its one layer is new
    # rebase onto the base's current tag, the old base found by its recorded digest
    code, out, err = run(capsysbinary, "image", "mod", app, "--rebase", "--create", app + "-2")
    assert code == 0, err
    code, out, err = run(capsysbinary, "image", "check-base", app + "-2")
    assert code == 0 and "up to date" in out.decode(), err
    with Client() as client:
        rebased = client.image(app + "-2")
        amd64 = client.image(base).manifest  # the tag now names the newer base
        assert rebased.manifest.annotations[ANNOTATION_BASE_DIGEST] == str(amd64.digest)
        assert [x.digest for x in rebased.layers][:1] == [x.digest for x in amd64.layers]
        # the library, without a base: the one recorded, in the image's store
        assert image_check_base(rebased).up_to_date
    # --rebase NEW: the old base still found by its digest
    code, _, err = run(capsysbinary, "image", "mod", app, "--rebase", newer, "--create", app + "-3")
    assert code == 0, err
    code, out, err = run(capsysbinary, "image", "check-base", app + "-3", "--base", newer)
    assert code == 0, err


def test_images_that_record_no_base(
    capsysbinary: Any, tmp_path: Path, bases: tuple[str, str]
) -> None:
    base, newer = bases
    code, _, err = run(capsysbinary, "image", "check-base", newer)
    assert code == 2 and "records no base" in err and "give --base BASE" in err
    with Client() as client:
        src = client.at(newer)
        with pytest.raises(InvalidInput, match="records no base"):
            image_mod(src, src.with_tag("x"), Changes(rebase=Rebase(None, client.at(base))))
        with pytest.raises(InvalidInput, match="records no base"):
            image_check_base(client.image(newer))
    assert RecordedBase.from_annotations({ANNOTATION_BASE_DIGEST: "nope"}) is None


def test_on_a_registry_skopeo_sees_the_annotations(
    capsysbinary: Any, tmp_path: Path, registry_anon: RegistryServer, repo_name: str,
    bases: tuple[str, str],
) -> None:  # fmt: skip
    base, _ = bases
    repo = f"{registry_anon.host}/{repo_name}"
    tls = ("--tls", "disabled")
    assert run(capsysbinary, "image", "copy", base, f"{repo}-base:1", *tls)[0] == 0
    with Client(**registry_store_options(registry_anon)) as client:
        image_build(
            client,
            context(tmp_path / "ctx", f"{repo}-base:1"),
            client.at(f"{repo}:1"),
            BuildOptions(platforms=(ARM64,)),
        )
    raw = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:1").stdout)
    child = json.loads(skopeo("inspect", "--raw", f"docker://{repo}-base:1").stdout)
    arm = next(m for m in child["manifests"] if m["platform"]["architecture"] == "arm64")
    assert raw["annotations"] == {
        ANNOTATION_BASE_NAME: f"{repo}-base:1",
        ANNOTATION_BASE_DIGEST: arm["digest"],
    }
    code, out, err = run(capsysbinary, "image", "check-base", f"{repo}:1", *tls)
    assert code == 0 and "up to date" in out.decode(), err
