"""The insight commands in-process on OCI layouts: output, formats, exit codes, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support.cli import run
from support.layers import (
    BASE,
    EXPECTED_FILES,
    MIDDLE,
    TOP,
    d,
    f,
    sym,
    tar_layer,
    write_layers,
)

from hoist.client import Client
from hoist.errors import InvalidInput, NotFound
from hoist.files import find_layer, layer_descriptors, match_layer
from hoist.model.digest import digest_of

Capture = pytest.CaptureFixture[bytes]


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli-rich") / "layout"
    return write_layers(
        root,
        "rich",
        [tar_layer(BASE, "gzip"), tar_layer(MIDDLE, "zstd"), tar_layer(TOP, "none")],
        config={"Env": ["A=1"]},
    )


def at(root: Path, tag: str) -> str:
    return f"ocidir://{root}:{tag}"


# --------------------------------------------------------------------------- tree


def test_tree_text_json_dot_svg(capsysbinary: Capture, samples: Path) -> None:
    code, out, _ = run(capsysbinary, "image", "tree", at(samples, "base"), at(samples, "app"))
    text = out.decode()
    assert code == 0 and text.count("[shared by 2]") == 2
    assert "linux/arm64/v8" in text and "oci tar+gzip" in text
    code, out, _ = run(capsysbinary, "image", "tree", at(samples, "app"), "--format", "json")
    (tree,) = json.loads(out)
    assert tree["kind"] == "manifest" and tree["children"][0]["kind"] == "config"
    code, out, _ = run(
        capsysbinary, "image", "tree", at(samples, "base"), at(samples, "app"), "--format", "dot"
    )
    proc = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, check=False)
    assert code == 0 and proc.returncode == 0 and b"<svg" in proc.stdout
    code, out, _ = run(capsysbinary, "image", "tree", at(samples, "app"), "--format", "svg")
    assert code == 0 and out.startswith(b"<?xml") and b"shared by" not in out
    code, out, _ = run(capsysbinary, "image", "tree", at(samples, "app"), "--referrers")
    assert "referrer" in out.decode() and ".sig" in out.decode()


def test_tree_svg_without_graphviz(
    capsysbinary: Capture,
    samples: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = run(capsysbinary, "image", "tree", at(samples, "app"), "--format", "svg")
    assert code == 1 and out == b""
    assert err.strip().splitlines() == [
        "error: svg output needs Graphviz's 'dot' program: apt-get install graphviz "
        "(or use --format dot)"
    ]


# --------------------------------------------------------------------------- check-base


def test_check_base_exit_codes(capsysbinary: Capture, samples: Path) -> None:
    app = at(samples, "app")
    code, out, _ = run(capsysbinary, "image", "check-base", app, "--base", at(samples, "base"))
    assert code == 0 and ": up to date" in out.decode()
    code, out, _ = run(capsysbinary, "image", "check-base", app, "--base", at(samples, "base-plus"))
    text = out.decode()
    assert code == 3 and "rebuild needed" in text  # 3: checked, and the answer is no
    assert "the base now has:" in text and "the image has instead:" in text
    code, out, _ = run(
        capsysbinary,
        "image",
        "check-base",
        app,
        "--base",
        at(samples, "base-v2"),
        "--format",
        "json",
    )
    data = json.loads(out)
    assert code == 3 and data["up_to_date"] is False and data["shared"] == []
    code, _, err = run(capsysbinary, "image", "check-base", app)
    assert code == 2 and "--base" in err


# --------------------------------------------------------------------------- diff


def test_diff_text_and_json(capsysbinary: Capture, samples: Path) -> None:
    base, app = at(samples, "base"), at(samples, "app")
    code, out, _ = run(capsysbinary, "image", "diff", base, app, "--files")
    text = out.decode()
    assert code == 0
    assert "+ env APP_PORT: 8080" in text and "+ label maintainer: hoist" in text
    assert "= 0  sha256:" in text and "+ 1  sha256:" in text
    assert "+ /app/server.py" in text and "+ /etc/app.conf" in text
    code, out, _ = run(capsysbinary, "image", "diff", base, app, "--format", "json")
    data = json.loads(out)
    assert [x["change"] for x in data["layers"]] == ["same", "added", "added"]
    assert "files" not in data


# --------------------------------------------------------------------------- files


def test_ls_files_merged_and_one_layer(capsysbinary: Capture, rich: str) -> None:
    code, out, _ = run(capsysbinary, "image", "ls-files", rich)
    lines = out.decode().splitlines()
    assert code == 0
    paths = [line.split("  ")[-1] if "->" not in line else line for line in lines]
    assert any(line.endswith("/etc/alt  -> /usr/bin/tool") for line in lines)
    assert any(line.startswith("-rw-r--r--  0/0") and "/etc/passwd" in line for line in lines)
    assert not any("/etc/old.conf" in p for p in paths)
    code, out, _ = run(capsysbinary, "image", "ls-files", rich, "--layer", "1")
    text = out.decode()
    assert "D---------" in text and "/etc/old.conf  (deleted)" in text
    assert "O---------" in text and "/data  (opaque: lower contents hidden)" in text
    assert "/usr/bin/tool2  link to /usr/bin/tool" in text
    code, out, _ = run(capsysbinary, "image", "ls-files", rich, "--format", "json")
    entries = {e["path"]: e for e in json.loads(out)}
    assert entries["/home/u"]["mode"] == "0700" and entries["/home/u"]["uid"] == 1000
    assert entries["/etc/passwd"]["layer"] == 1
    code, _, err = run(capsysbinary, "image", "ls-files", rich, "--layer", "7")
    assert code == 2 and "the image has 3 layers" in err


def test_layer_ls_by_digest_or_prefix(capsysbinary: Capture, rich: str) -> None:
    digest = Client().image(rich).layers[1].digest
    code, full, _ = run(capsysbinary, "layer", "ls", rich, str(digest))
    code2, short, _ = run(capsysbinary, "layer", "ls", rich, digest.hex[:10])
    assert code == code2 == 0 and full == short and b"(deleted)" in full
    code, out, _ = run(capsysbinary, "layer", "ls", rich, digest.hex[:10], "--format", "json")
    assert {"path": "/etc/old.conf", "type": "whiteout"} in json.loads(out)
    code, _, err = run(capsysbinary, "layer", "ls", rich, "0000000")
    assert code == 2 and "no layer of the image starts with" in err


def test_find_layer_library(rich: str) -> None:
    with Client() as client:
        where = client.at(rich)
        layers = client.image(where).layers
        assert layer_descriptors(where) == list(layers)
        desc = layers[1]
        assert find_layer(where, desc.digest.hex[:10]) == (desc.digest, desc)
        assert find_layer(where, str(desc.digest)[:20]) == (desc.digest, desc)
        other = digest_of(b"not a layer of this image")
        assert find_layer(where, str(other)) == (other, None)  # any blob, by full digest
        with pytest.raises(NotFound, match="no layer of the image starts with '0000000'"):
            find_layer(where, "0000000")
        with pytest.raises(InvalidInput, match="matches 3 layers"):
            match_layer(layers, "sha256:")


def test_get_file_stdout_and_output(capsysbinary: Capture, rich: str, tmp_path: Path) -> None:
    code, out, _ = run(capsysbinary, "image", "get-file", rich, "/link1")
    assert code == 0 and out == EXPECTED_FILES["etc/passwd"]
    target = tmp_path / "tool"
    code, out, _ = run(capsysbinary, "image", "get-file", rich, "bin/tool2", "-o", str(target))
    assert code == 0 and out == b"" and target.read_bytes() == EXPECTED_FILES["usr/bin/tool2"]
    code, _, err = run(capsysbinary, "image", "get-file", rich, "/etc/old.conf", "-o", str(target))
    assert code == 1 and err.strip() == f"error: /etc/old.conf: no such file in {rich}"
    assert target.read_bytes() == EXPECTED_FILES["usr/bin/tool2"]  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tool"]  # no temporary file left


def test_unpack_and_hostile_layers(capsysbinary: Capture, rich: str, tmp_path: Path) -> None:
    code, out, _ = run(capsysbinary, "image", "unpack", rich, str(tmp_path / "root"))
    assert code == 0 and out.decode().startswith("unpacked 3 layers into ")
    assert (tmp_path / "root/usr/lib/libbar.so").read_bytes() == b"\x7fELF bar"
    code, out, _ = run(
        capsysbinary, "image", "unpack", rich, str(tmp_path / "again"), "--format", "json"
    )
    assert code == 0 and json.loads(out)["hardlinks"] == 2
    evil = write_layers(
        tmp_path / "evil",
        "evil",
        [tar_layer([d("x"), sym("x/up", "../../../../../../../../tmp"), f("x/up/pwned", b"!")])],
    )
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run(capsysbinary, "image", "unpack", evil, str(tmp_path / "evil-root"))
    assert code == 1 and "a symlink points above the image root" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "evil-root"])
    assert not Path("/tmp/pwned").exists()
    bomb = write_layers(tmp_path / "bomb", "bomb", [tar_layer([f("z", bytes(4 << 20))])])
    code, _, err = run(
        capsysbinary, "image", "unpack", bomb, str(tmp_path / "b"), "--max-size", "1M"
    )
    assert code == 1 and "exceeds the limit of 1048576 bytes" in err
    code, _, err = run(capsysbinary, "image", "ls-files", bomb, "--max-size", "lots")
    assert code == 2 and "is not a size" in err


# --------------------------------------------------------------------------- verify, layers


def test_verify_exit_codes(capsysbinary: Capture, samples: Path, tmp_path: Path) -> None:
    code, out, _ = run(capsysbinary, "image", "verify", at(samples, "base"))
    text = out.decode()
    assert code == 0 and "FAIL" not in text and text.rstrip().endswith("checks, verified")
    copy = tmp_path / "copy"
    shutil.copytree(samples, copy)
    config = Client().image(f"ocidir://{copy}:app").manifest.config
    (copy / "blobs/sha256" / config.digest.hex).write_bytes(b"{}")
    code, out, _ = run(capsysbinary, "image", "verify", f"ocidir://{copy}:app")
    assert code == 3 and "FAIL  image config" in out.decode()  # 3: checked, and no
    code, out, _ = run(capsysbinary, "image", "verify", f"ocidir://{copy}:app", "--format", "json")
    data = json.loads(out)
    assert code == 3 and data["ok"] is False
    assert [c["check"] for c in data["checks"] if not c["ok"]] == ["digest"]


def test_layers_diff_ids(capsysbinary: Capture, samples: Path, tmp_path: Path) -> None:
    code, out, _ = run(capsysbinary, "image", "layers", at(samples, "app"), "--diff-ids")
    text = out.decode()
    assert code == 0 and "COMPUTED" in text and text.count(" ok ") == 3
    layer = tar_layer([f("a", b"1")])
    wrong = write_layers(tmp_path / "l", "x", [layer], diff_ids=[digest_of(b"nope")])
    code, out, _ = run(capsysbinary, "image", "layers", wrong, "--diff-ids")
    assert "MISMATCH" in out.decode()
    code, out, _ = run(capsysbinary, "image", "layers", wrong, "--diff-ids", "--format", "json")
    (row,) = [r for r in json.loads(out) if r["index"] is not None]
    assert row["computed_diff_id"] == str(layer.diff_id) and row["diff_id_match"] is False
    assert row["diff_id"] == str(digest_of(b"nope"))


def test_diff_exit_code(capsysbinary: Capture, samples: Path) -> None:
    """--exit-code: 3 when the images differ (checked, and the answer is no), 0 when not."""
    base, app = at(samples, "base"), at(samples, "app")
    assert run(capsysbinary, "image", "diff", app, app, "--exit-code")[0] == 0
    code, out, _ = run(capsysbinary, "image", "diff", base, app, "--exit-code")
    assert code == 3 and "+ env APP_PORT: 8080" in out.decode()
    assert run(capsysbinary, "image", "diff", base, app)[0] == 0  # without it: 0, as before
    code, out, _ = run(capsysbinary, "image", "diff", base, app, "--exit-code", "--format", "json")
    assert code == 3 and json.loads(out)["identical"] is False


def test_unpack_refuses_a_directory_that_is_not_empty(
    capsysbinary: Capture, samples: Path, tmp_path: Path
) -> None:
    target = tmp_path / "root"
    target.mkdir()
    (target / "mine.txt").write_text("keep me\n")
    code, _, err = run(capsysbinary, "image", "unpack", at(samples, "app"), str(target))
    assert code == 1 and "is not empty" in err and "--force" in err
    assert sorted(p.name for p in target.iterdir()) == ["mine.txt"]
    code, _, err = run(capsysbinary, "image", "unpack", at(samples, "app"), str(target), "--force")
    assert code == 0, err
    assert (target / "mine.txt").read_text() == "keep me\n" and (target / "etc/app.conf").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(capsysbinary, "image", "unpack", at(samples, "app"), str(empty))[0] == 0
