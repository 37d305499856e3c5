"""image export --rootfs: the merged filesystem as one tar, read by GNU tar as a peer.

The tar must extract (``tar -x``) to exactly what the reference unpack of skopeo's copy of
the layers gives; from a registry each layer is downloaded once; memory stays bounded
however large the files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.layers import EXPECTED_FILES, GONE, f, rich_layers, tar_layer, write_layers
from support.registry_fixtures import RegistryServer, registry_store_options
from support.samples import layout_ref
from support.unpacking import reference_unpack, skopeo_layers, snapshot

from hoist.client import Client
from hoist.model import mediatype as mt
from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest
from hoist.model.reference import Reference
from hoist.rootfs import image_rootfs
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import Layer, write_samples

HOIST = str(Path(sys.executable).with_name("hoist"))


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_layers(tmp_path_factory.mktemp("rootfs") / "layout", "rich", rich_layers())


@pytest.fixture(scope="module")
def expected(rich: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("reference")
    reference_unpack(skopeo_layers(rich, work), work / "root")
    return snapshot(work / "root")


def untar(data: bytes, dest: Path) -> dict[str, Any]:
    dest.mkdir()
    subprocess.run(["tar", "-x", "-C", str(dest)], input=data, check=True)
    return snapshot(dest)


def test_piped_into_tar_it_is_the_unpacked_image(
    rich: str, expected: dict[str, Any], tmp_path: Path
) -> None:
    dest = tmp_path / "root"
    dest.mkdir()
    with subprocess.Popen(
        [HOIST, "image", "export", rich, "--rootfs", "-o", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as hoist:
        tar = subprocess.run(["tar", "-x", "-C", str(dest)], stdin=hoist.stdout, check=False)
        _, err = hoist.communicate()
    assert hoist.returncode == 0, err
    assert tar.returncode == 0
    assert snapshot(dest) == expected
    for rel, content in EXPECTED_FILES.items():
        assert (dest / rel).read_bytes() == content
    assert b"linux/amd64: 5 layers -> 29 entries (10 files, 142 bytes" in err
    assert err.strip().endswith(b"sha256:" + Client().image(rich).manifest.digest.hex.encode())


def test_to_a_file_no_whiteouts_and_hard_links_kept(
    capsysbinary: Any, rich: str, expected: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "rootfs.tar"
    code, stdout, err = run(capsysbinary, "image", "export", rich, "--rootfs", "-o", str(out))
    assert code == 0, err
    assert stdout.decode().strip() == str(Client().image(rich).manifest.digest)
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert not [n for n in members if ".wh." in n]
    assert not [n for n in members if any(n == g or n.startswith(g + "/") for g in GONE)]
    assert members["etc/hardlink"].islnk() and members["etc/hardlink"].linkname == "etc/hardsrc"
    assert untar(out.read_bytes(), tmp_path / "x") == expected
    code, _, err = run(capsysbinary, "image", "export", rich, "--rootfs")
    assert code == 2 and "give FILE or -o FILE" in err


def test_from_a_registry_each_layer_is_downloaded_once(
    rich: str, expected: dict[str, Any], tmp_path: Path, registry_anon: RegistryServer,
    repo_name: str,
) -> None:  # fmt: skip
    with Client(**registry_store_options(registry_anon)) as client:
        dst = client.at(f"{registry_anon.host}/{repo_name}:rich")
        client.copy(client.at(rich), dst)
        store = client.store(Reference(registry_anon.host, "x/y"))
        fetched: list[Digest] = []
        blob_get = store.blob_get

        def spy(ref: Any, digest: Digest, *args: Any, **kwargs: Any) -> Any:
            fetched.append(digest)
            return blob_get(ref, digest, *args, **kwargs)

        store.blob_get = spy  # type: ignore[method-assign]
        out = io.BytesIO()
        image = client.image(dst)
        result = image_rootfs(image, out)
    layers = [d.digest for d in image.layers]
    assert sorted(x for x in fetched if x in layers) == sorted(layers)  # once each
    assert untar(out.getvalue(), tmp_path / "root") == expected
    assert result.size == len(out.getvalue())


def test_an_index_exports_one_platform_and_says_which(capsysbinary: Any, tmp_path: Path) -> None:
    root = tmp_path / "samples"
    write_samples(OCIDirStore(fsync=False), layout_ref(root, "base"), layout_ref(root, "app"))
    code, out, err = run(
        capsysbinary, "image", "export", f"ocidir://{root}:base", "--rootfs", "-o", "-",
        "-p", "linux/arm64",
    )  # fmt: skip
    assert code == 0, err
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        member = tar.extractfile("etc/os-release")
        assert member is not None and b"PLATFORM=linux/arm64" in member.read()
    code, out, err = run(capsysbinary, "image", "export", f"ocidir://{root}:base", "--rootfs",
                         str(tmp_path / "x.tar"), "--format", "json")  # fmt: skip
    assert code == 0, err
    assert "(the local one; also in the index:" in err
    assert b'"files"' in out


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


class _Hashing(io.RawIOBase):
    def __init__(self, target: Any) -> None:
        self.target = target
        self.hash = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.hash.update(data)
        return int(self.target.write(data))


def test_memory_stays_bounded_for_large_files(tmp_path: Path) -> None:
    size = 512 * 1024 * 1024
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
        plain = _Hashing(gz)
        with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("big/zeros")
            info.size = size
            tar.addfile(info, _Zeros(size))
    blob = raw.getvalue()
    layer = Layer(
        blob, Descriptor.of(mt.OCI_LAYER_GZIP, blob), Digest("sha256", plain.hash.hexdigest())
    )
    top = tar_layer([f("top", b"top\n")])
    ref = write_layers(tmp_path / "big", "big", [layer, top])
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, "image", "export", ref, "--rootfs", "-o", "-"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{size + 4} bytes;".encode() in proc.stderr  # both files' bytes went through
    peak_kib = int(proc.stderr.rsplit(b"VmHWM:", 1)[1].split()[0])
    print(f"peak RSS {peak_kib} KiB exporting a {size} byte file")
    assert peak_kib < 150 * 1024, f"peak RSS {peak_kib} KiB for a {size} byte file"


_PEAK = """
import sys
from hoist.cli.main import main
try:
    main(sys.argv[1:])
finally:  # the peak resident size of this process (ru_maxrss would count the parent's fork)
    status = open("/proc/self/status").read()
    print(next(x for x in status.splitlines() if x.startswith("VmHWM")), file=sys.stderr)
"""
