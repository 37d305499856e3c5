"""hoist image build: real images into docker-registry and OCI layouts, checked with skopeo."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import shutil
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.registry_fixtures import RegistryServer, registry_store_options
from support.skopeo import skopeo, skopeo_raw

from hoist.authoring.builder import BuildOptions, BuildResult, Step, image_build
from hoist.authoring.dockerfile import parse_dockerfile
from hoist.client import Client
from hoist.errors import InvalidDockerfile
from hoist.model import mediatype as mt
from hoist.model.platform import Platform
from hoist.model.reference import LayoutReference, Reference
from hoist.store.ocidir import OCIDirStore
from hoist.testing.sample import base_image, write_image

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")

FULL = """\
# syntax=docker/dockerfile:1
ARG VERSION=1.0
FROM scratch
ARG VERSION
LABEL org.opencontainers.image.version=$VERSION
ENV APP_HOME=/app \\
    GREETING="hello world"
WORKDIR $APP_HOME
COPY src/ ./
COPY --chown=1000:1000 --chmod=0600 docs /docs/
ADD rootfs.tar.gz /opt/
EXPOSE 8080 53/udp
USER 1000
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --retries=3 CMD ["/app/health"]
ONBUILD COPY . /app/
ENTRYPOINT ["/app/app.py"]
CMD ["--port", "8080"]
"""


def _tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.mode = len(data), 7, 0o640
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def make_context(root: Path, dockerfile: str, files: dict[str, bytes | str] | None = None) -> Path:
    """A context directory: the Dockerfile and files (str content is text)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    for name, content in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
        path.chmod(0o644)
    return root


def full_context(root: Path) -> Path:
    ctx = make_context(
        root,
        FULL,
        {
            "src/app.py": "print('hi')\n",
            "src/sub/data.txt": "data\n",
            "src/secret.key": "nope\n",
            "docs/README.md": "readme\n",
            "docs/other.md": "other\n",
            ".dockerignore": "src/*.key\ndocs\n!docs/README.md\n",
            "rootfs.tar.gz": _tar_gz({"d/f": b"from the tar\n"}),
        },
    )
    (ctx / "src" / "link.py").symlink_to("app.py")
    return ctx


@pytest.fixture
def client() -> Iterator[Client]:
    with Client() as c:
        yield c


def layout_blobs(path: Path, manifest_digest: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def blob(digest: str) -> bytes:
        return (path / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()

    manifest = json.loads(blob(manifest_digest))
    return manifest, json.loads(blob(manifest["config"]["digest"]))


def layer_tar(blob: bytes, media_type: str) -> bytes:
    if media_type.endswith("gzip"):
        return gzip.decompress(blob)
    if media_type.endswith("zstd"):
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompress(blob, max_output_size=1 << 26))
    return blob


def members(tar_bytes: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return {m.name: m for m in tar.getmembers()}


# --------------------------------------------------------------------------- OCI layouts


def test_scratch_build_config_history_layers(tmp_path: Path, client: Client) -> None:
    ctx = full_context(tmp_path / "ctx")
    out = tmp_path / "out"
    steps: list[Step] = []
    result = image_build(client, ctx, client.at(f"ocidir://{out}:v1"), progress=steps.append)
    assert result.descriptor.media_type == mt.OCI_MANIFEST
    assert [s.text.split()[0] for s in steps][:3] == ["FROM", "ARG", "LABEL"]

    config = json.loads(skopeo("inspect", "--config", f"oci:{out}:v1").stdout)
    conf = config["config"]
    assert config["created"] == "1970-01-01T00:00:00Z"
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert conf["Env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "APP_HOME=/app",
        "GREETING=hello world",
    ]
    assert conf["WorkingDir"] == "/app"
    assert conf["Labels"] == {"org.opencontainers.image.version": "1.0"}
    assert conf["ExposedPorts"] == {"53/udp": {}, "8080/tcp": {}}
    assert conf["Volumes"] == {"/data": {}}
    assert (conf["User"], conf["StopSignal"]) == ("1000", "SIGINT")
    assert conf["Entrypoint"] == ["/app/app.py"] and conf["Cmd"] == ["--port", "8080"]

    manifest, raw_config = layout_blobs(out, str(result.descriptor.digest))
    assert raw_config["config"]["Healthcheck"] == {
        "Test": ["CMD", "/app/health"],
        "Interval": 30_000_000_000,
        "Retries": 3,
    }
    assert raw_config["config"]["OnBuild"] == ["COPY . /app/"]

    history = config["history"]
    # every instruction after FROM but ONBUILD (BuildKit records none for it)
    instructions = parse_dockerfile(FULL).stages[0].instructions
    assert len(history) == len(instructions) - 1 == 14
    assert [h["created_by"] for h in history if not h.get("empty_layer")] == [
        "COPY src/ ./ # buildkit",
        "COPY --chown=1000:1000 --chmod=0600 docs /docs/ # buildkit",
        "ADD rootfs.tar.gz /opt/ # buildkit",
    ]
    assert history[0]["created_by"] == "ARG VERSION=1.0"
    assert 'HEALTHCHECK &{["CMD" "/app/health"] "30s" "0s" "0s" "0s" \'\\x03\'}' in [
        h["created_by"] for h in history
    ]
    assert all(h["comment"] == "buildkit.dockerfile.v0" for h in history)

    tars = []
    for desc, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
        blob = (out / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes()
        tar = layer_tar(blob, desc["mediaType"])
        assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff_id
        tars.append(members(tar))
    src, docs, opt = tars
    assert sorted(src) == ["app", "app/app.py", "app/link.py", "app/sub", "app/sub/data.txt"]
    assert src["app/link.py"].issym() and src["app/link.py"].linkname == "app.py"
    assert all(m.mtime == 0 and (m.uid, m.gid) == (0, 0) for m in src.values())
    assert sorted(docs) == ["docs", "docs/README.md"]  # .dockerignore: ! re-includes one
    assert (docs["docs/README.md"].mode, docs["docs/README.md"].uid) == (0o600, 1000)
    assert sorted(opt) == ["opt", "opt/d/f"]  # the .tar.gz unpacked, its owner kept
    assert (opt["opt/d/f"].uid, opt["opt/d/f"].mode) == (7, 0o640)


def test_same_digest_twice_and_in_another_directory(tmp_path: Path, client: Client) -> None:
    ctx = full_context(tmp_path / "one")
    other = tmp_path / "elsewhere" / "two"
    shutil.copytree(ctx, other, symlinks=True)
    digests = {
        str(image_build(client, c, client.at(f"ocidir://{tmp_path / o}")).descriptor.digest)
        for c, o in ((ctx, "a"), (ctx, "b"), (other, "c"))
    }
    assert len(digests) == 1
    later = image_build(
        client, ctx, client.at(f"ocidir://{tmp_path / 'd'}"), BuildOptions(epoch=1_700_000_000)
    )
    assert str(later.descriptor.digest) not in digests
    _, conf = layout_blobs(tmp_path / "d", str(later.descriptor.digest))
    assert conf["created"] == "2023-11-14T22:13:20Z"


def test_source_date_epoch_from_environment(
    tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_context(tmp_path / "ctx", "FROM scratch\nCOPY f /f\n", {"f": "x"})
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    result = image_build(client, ctx, client.at(f"ocidir://{tmp_path / 'out'}"))
    manifest, conf = layout_blobs(tmp_path / "out", str(result.descriptor.digest))
    assert conf["created"] == conf["history"][0]["created"] == "1970-01-02T00:00:00Z"
    blob = (tmp_path / "out/blobs/sha256" / manifest["layers"][0]["digest"][7:]).read_bytes()
    assert members(gzip.decompress(blob))["f"].mtime == 86400


def test_multistage_copy_from_and_target(tmp_path: Path, client: Client) -> None:
    dockerfile = """\
FROM scratch AS build
COPY bin/ /out/
COPY conf.txt /out/etc/conf.txt
FROM scratch AS unused
RUN make
FROM scratch
COPY --from=build /out/tool /usr/local/bin/
COPY --from=0 /out/etc /etc/app
"""
    ctx = make_context(
        tmp_path / "ctx", dockerfile, {"bin/tool": "#!/bin/sh\n", "conf.txt": "c=1\n"}
    )
    result = image_build(client, ctx, client.at(f"ocidir://{tmp_path / 'out'}"))
    manifest, conf = layout_blobs(tmp_path / "out", str(result.descriptor.digest))
    assert [h["created_by"] for h in conf["history"]] == [
        "COPY /out/tool /usr/local/bin/ # buildkit",
        "COPY /out/etc /etc/app # buildkit",
    ]
    blobs = [
        members(gzip.decompress((tmp_path / "out/blobs/sha256" / d["digest"][7:]).read_bytes()))
        for d in manifest["layers"]
    ]
    assert sorted(blobs[0]) == ["usr", "usr/local", "usr/local/bin", "usr/local/bin/tool"]
    assert sorted(blobs[1]) == ["etc", "etc/app", "etc/app/conf.txt"]
    target = image_build(
        client, ctx, client.at(f"ocidir://{tmp_path / 'out'}:t"), BuildOptions(target="build")
    )
    _, conf = layout_blobs(tmp_path / "out", str(target.descriptor.digest))
    assert len(conf["history"]) == 2
    with pytest.raises(InvalidDockerfile, match="Dockerfile:5: RUN needs a container"):
        image_build(
            client, ctx, client.at(f"ocidir://{tmp_path / 'out'}:u"), BuildOptions(target="unused")
        )


@pytest.mark.parametrize(
    ("name", "blob"),
    [
        ("a.tar.gz", _tar_gz({"x/y": b"1"})),
        ("a.tar.bz2", bz2.compress(gzip.decompress(_tar_gz({"x/y": b"1"})))),
        ("a.tar.xz", lzma.compress(gzip.decompress(_tar_gz({"x/y": b"1"})))),
        ("a.tar", gzip.decompress(_tar_gz({"x/y": b"1"}))),
    ],
)
def test_add_unpacks_local_archives(tmp_path: Path, client: Client, name: str, blob: bytes) -> None:
    ctx = make_context(
        tmp_path / "ctx",
        f"FROM scratch\nADD {name} /dest\nADD plain.gz /files/\nCOPY {name} /copied/\n",
        {name: blob, "plain.gz": gzip.compress(b"not a tar")},
    )
    result = image_build(client, ctx, client.at(f"ocidir://{tmp_path / 'out'}"))
    manifest, _ = layout_blobs(tmp_path / "out", str(result.descriptor.digest))
    listed = [
        sorted(
            members(gzip.decompress((tmp_path / "out/blobs/sha256" / d["digest"][7:]).read_bytes()))
        )
        for d in manifest["layers"]
    ]
    assert listed == [
        ["dest", "dest/x/y"],
        ["files", "files/plain.gz"],
        ["copied", f"copied/{name}"],
    ]


def test_context_rules_errors_and_warnings(tmp_path: Path, client: Client) -> None:
    def attempt(dockerfile: str, files: dict[str, bytes | str] | None = None) -> BuildResult:
        ctx = make_context(tmp_path / f"ctx{len(list(tmp_path.iterdir()))}", dockerfile, files)
        return image_build(client, ctx, client.at(f"ocidir://{tmp_path / 'out'}"))

    cases = [
        ("FROM scratch\nCOPY missing /x\n", "Dockerfile:2: COPY: missing: not found"),
        ("FROM scratch\nCOPY a b /x\n", "destination must be a directory"),
        ("FROM scratch\nADD https://example.com/f /x\n", "hoist builds offline"),
        ("FROM scratch\nCOPY --chown=app a /x\n", "is not numeric"),
        ("FROM scratch\nCOPY --chmod=999 a /x\n", "invalid chmod parameter"),
        ("FROM scratch\nCOPY ${A /x\n", "Dockerfile:2: COPY: syntax error: missing '}'"),
        (f"FROM scratch\nCOPY --from=ocidir://{tmp_path}/none a /x\n", "none"),
        ("FROM scratch AS a\nCOPY --from=a f /x\n", "circular dependency detected on stage: a"),
    ]
    for dockerfile, message in cases:
        with pytest.raises(Exception, match=message.replace("$", "\\$").replace("{", "\\{")):
            attempt(dockerfile, {"a": "1", "b": "2"})
    ok = attempt("FROM scratch\nCOPY *.none /x/\nARG X\n", {"a": "1"})
    assert len(ok.images[0].manifest.layers) == 1  # an empty wildcard copies nothing
    warned = attempt("FROM scratch\nCOPY a /x\n", {"a": "1"})
    assert warned.warnings == []


def test_destinations_on_a_base_image_keep_its_directories(tmp_path: Path, client: Client) -> None:
    base = LayoutReference("ocidir", str(tmp_path / "base"), "v1")
    write_image(OCIDirStore(), base, base_image([AMD64]))
    ctx = make_context(
        tmp_path / "ctx",
        f"FROM {base}\nCOPY tool /usr/local/bin\nCOPY conf.yaml /etc/myapp\n"
        "COPY --chown=5:5 site/ /srv/www/\nWORKDIR /app\nCOPY tool .\n",
        {"tool": "#!/bin/sh\n", "conf.yaml": "a: 1\n", "site/index.html": "<p>hi</p>\n"},
    )
    result = image_build(client, ctx, client.at(f"ocidir://{tmp_path / 'out'}"))
    manifest, _ = layout_blobs(tmp_path / "out", str(result.descriptor.digest))
    listed = [
        members(gzip.decompress((tmp_path / "out/blobs/sha256" / d["digest"][7:]).read_bytes()))
        for d in manifest["layers"][1:]
    ]
    # parents the base may have are left out, so its owners and modes stay
    assert [sorted(m) for m in listed] == [
        ["usr/local/bin/tool"],
        ["etc/myapp"],
        ["srv/www", "srv/www/index.html"],
        ["app/tool"],
    ]
    assert listed[2]["srv/www"].uid == 5
    assert result.warnings == [
        "Dockerfile:3: /etc/myapp is taken as the new path of conf.yaml (hoist does not read the "
        "base image's files); write /etc/myapp/ to copy into a directory"
    ]


def test_onbuild_triggers_of_the_base_run_first(tmp_path: Path, client: Client) -> None:
    parent = make_context(
        tmp_path / "parent", "FROM scratch\nONBUILD COPY marker /marker\nONBUILD LABEL x=y\n"
    )
    image_build(client, parent, client.at(f"ocidir://{tmp_path / 'base'}:v1"))
    child = make_context(
        tmp_path / "child", f"FROM ocidir://{tmp_path / 'base'}:v1\nENV A=1\n", {"marker": "m"}
    )
    steps: list[Step] = []
    result = image_build(
        client, child, client.at(f"ocidir://{tmp_path / 'out'}"), progress=steps.append
    )
    assert [s.text for s in steps][1:] == [
        "ONBUILD COPY marker /marker",
        "ONBUILD LABEL x=y",
        "ENV A=1",
    ]
    _, conf = layout_blobs(tmp_path / "out", str(result.descriptor.digest))
    assert "OnBuild" not in conf["config"] and conf["config"]["Labels"] == {"x": "y"}
    assert [h["created_by"] for h in conf["history"]] == [
        "COPY marker /marker # buildkit",
        "LABEL x=y",
        "ENV A=1",
    ]
    (parent / "Dockerfile").write_text("FROM scratch\nONBUILD RUN make\n")
    image_build(client, parent, client.at(f"ocidir://{tmp_path / 'base'}:v2"))
    (child / "Dockerfile").write_text(f"FROM ocidir://{tmp_path / 'base'}:v2\n")
    with pytest.raises(InvalidDockerfile, match=r"RUN needs a container.*ONBUILD trigger of"):
        image_build(client, child, client.at(f"ocidir://{tmp_path / 'out'}"))


# --------------------------------------------------------------------------- registries


@pytest.fixture
def pushed_base(
    registry_anon: RegistryServer, registry_store: Callable[..., Any], repo_name: str
) -> Reference:
    """The sample two-platform base image (an OCI index) on the anonymous registry."""
    ref = Reference(registry_anon.host, repo_name + "-base", "1")
    write_image(registry_store(registry_anon), ref, base_image([AMD64, ARM64]))
    return ref


def spied_client(server: RegistryServer) -> tuple[Client, dict[str, list[Any]]]:
    client = Client(**registry_store_options(server))
    store = client.store(Reference(server.host, "x/y"))
    calls: dict[str, list[Any]] = {"blob_get": [], "blob_mount": []}

    blob_get = store.blob_get

    def get(*args: Any, **kw: Any) -> Any:
        result = blob_get(*args, **kw)
        calls["blob_get"].append((args[1], result))
        return result

    # a copy mounts through blob_receive (one request: the mount answers the existence check)
    blob_receive = store.blob_receive  # type: ignore[attr-defined]

    def receive(ref: Any, desc: Any, source: Any, **kw: Any) -> Any:
        how = blob_receive(ref, desc, source, **kw)
        if kw.get("mount_from") is not None:
            calls["blob_mount"].append((desc.digest, how == "mounted"))
        return how

    store.blob_get = get  # type: ignore[method-assign]
    store.blob_receive = receive  # type: ignore[attr-defined]
    return client, calls


def test_from_registry_base_never_downloads_layers_and_mounts(
    tmp_path: Path, registry_anon: RegistryServer, pushed_base: Reference, repo_name: str
) -> None:
    ctx = make_context(
        tmp_path / "ctx",
        f'FROM {pushed_base}\nENV A=b\nCOPY app.py /app/\nCMD ["/app/app.py"]\n',
        {"app.py": "print(1)\n"},
    )
    client, calls = spied_client(registry_anon)
    dest = f"{registry_anon.host}/{repo_name}:v1"
    with client:
        result = image_build(client, ctx, client.at(dest), BuildOptions(platforms=(AMD64,)))
        base = client.image(pushed_base, platform=AMD64)
        base_layers = [d.digest for d in base.layers]
        base_config = base.manifest.config.digest
    assert [digest for digest, _ in calls["blob_get"]] == [base_config]
    assert calls["blob_mount"] == [(d, True) for d in base_layers]

    config = json.loads(skopeo("inspect", "--config", f"docker://{dest}").stdout)
    history = config["history"]
    assert [h["created_by"] for h in history] == [
        "ADD rootfs-amd64.tar /",
        'CMD ["/bin/sh"]',
        "ENV A=b",
        "COPY app.py /app/ # buildkit",
        'CMD ["/app/app.py"]',
    ]
    assert [bool(h.get("empty_layer")) for h in history] == [False, True, True, False, True]
    assert config["config"]["Env"] == ["PATH=/usr/local/bin:/usr/bin:/bin", "A=b"]
    info = json.loads(skopeo("inspect", f"docker://{dest}").stdout)
    assert info["Layers"][0] == str(base_layers[0]) and len(info["Layers"]) == 2
    assert info["Digest"] == str(result.descriptor.digest)


def test_multi_platform_index_with_target_args(
    tmp_path: Path,
    registry_basic: RegistryServer,
    registry_anon: RegistryServer,
    pushed_base: Reference,
    repo_name: str,
) -> None:
    ctx = make_context(
        tmp_path / "ctx",
        f"FROM {pushed_base}\nARG TARGETARCH\nCOPY bin/$TARGETARCH/tool /usr/local/bin/tool\n",
        {"bin/amd64/tool": "x86\n", "bin/arm64/tool": "arm\n"},
    )
    options = registry_store_options(registry_basic)
    options["credentials"].logins.update(
        registry_store_options(registry_anon)["credentials"].logins
    )
    options["settings"].update(registry_store_options(registry_anon)["settings"])
    dest = f"{registry_basic.host}/{repo_name}:multi"
    with Client(**options) as client:
        result = image_build(client, ctx, client.at(dest), BuildOptions(platforms=(AMD64, ARM64)))
    assert result.descriptor.media_type == mt.OCI_INDEX
    index = json.loads(skopeo_raw(f"docker://{dest}", creds=registry_basic.creds))
    assert [m["platform"] for m in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    layers = set()
    for child, arch in zip(index["manifests"], ("amd64", "arm64"), strict=True):
        ref = f"docker://{registry_basic.host}/{repo_name}@{child['digest']}"
        config = json.loads(skopeo("inspect", "--config", ref, creds=registry_basic.creds).stdout)
        assert config["architecture"] == arch
        assert config["history"][-1]["created_by"] == (
            f"COPY bin/{arch}/tool /usr/local/bin/tool # buildkit"
        )
        assert config["history"][-2]["created_by"] == f"ARG TARGETARCH={arch}"
        layers.add(
            tuple(json.loads(skopeo_raw(ref, creds=registry_basic.creds))["layers"][-1].values())
        )
    assert len(layers) == 2  # different files, different layers


def test_copy_from_a_stage_on_a_base_reads_base_layers(
    tmp_path: Path, registry_anon: RegistryServer, pushed_base: Reference, repo_name: str
) -> None:
    ctx = make_context(
        tmp_path / "ctx",
        f"FROM {pushed_base} AS base\nFROM scratch\n"
        "COPY --from=base /etc/os-release /bin/hello /\n",
    )
    client, calls = spied_client(registry_anon)
    with client:
        result = image_build(
            client, ctx, client.at(f"ocidir://{tmp_path / 'out'}"), BuildOptions(platforms=(ARM64,))
        )
    assert len(calls["blob_get"]) == 1 + 2  # the config, then the layer: listed, then read
    manifest, conf = layout_blobs(tmp_path / "out", str(result.descriptor.digest))
    assert conf["architecture"] == "arm64" and conf["variant"] == "v8"
    blob = (tmp_path / "out/blobs/sha256" / manifest["layers"][0]["digest"][7:]).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        assert sorted(tar.getnames()) == ["hello", "os-release"]
        os_release = tar.extractfile("os-release")
        assert os_release is not None and b"PLATFORM=linux/arm64/v8" in os_release.read()


def test_from_ocidir_base_into_registry_copies_layers(
    tmp_path: Path, registry_anon: RegistryServer, repo_name: str
) -> None:
    base = LayoutReference("ocidir", str(tmp_path / "base"), "v1")
    write_image(OCIDirStore(), base, base_image([AMD64]))
    ctx = make_context(tmp_path / "ctx", f"FROM {base}\nLABEL a=b\n")
    dest = f"{registry_anon.host}/{repo_name}:fromdir"
    with Client(**registry_store_options(registry_anon)) as client:
        result = image_build(
            client, ctx, client.at(dest)
        )  # the index has one platform: the default
    assert result.images[0].platform == AMD64
    info = json.loads(skopeo("inspect", f"docker://{dest}").stdout)
    assert info["Labels"] == {"a": "b"} and len(info["Layers"]) == 1
    skopeo("copy", f"docker://{dest}", f"oci:{tmp_path / 'check'}:x")  # every blob is there


# --------------------------------------------------------------------------- the CLI


def test_cli_build_output_and_digest(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    ctx = full_context(tmp_path / "ctx")
    code, out, err = run(capsysbinary, "image", "build", str(ctx), "-t", f"ocidir://{tmp_path}/o")
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0] == "[ 1/16] FROM scratch"
    assert lines[5].startswith("[ 6/16] COPY src/ ./ -> layer sha256:")
    assert lines[-1] == f"wrote ocidir://{tmp_path}/o:latest (linux/amd64)"
    digest = out.decode().strip()
    index = json.loads((tmp_path / "o" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest


def test_cli_run_fails_with_the_line(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    ctx = make_context(tmp_path / "ctx", "FROM scratch\nENV A=1\nRUN apt-get install -y curl\n")
    code, out, err = run(capsysbinary, "image", "build", str(ctx), "-t", f"ocidir://{tmp_path}/o")
    assert (code, out, err) == (
        1,
        b"",
        "error: Dockerfile:3: RUN needs a container; hoist builds without one\n",
    )
    assert not (tmp_path / "o").exists()  # refused before anything was done


def test_cli_file_build_args_platforms_zstd(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    ctx = make_context(tmp_path / "ctx", "", {"f": "x"})
    (tmp_path / "Other.dockerfile").write_text(
        "ARG BASE=scratch\nFROM $BASE\nARG WHO=world\nLABEL who=$WHO\nCOPY f /f\n"
    )
    code, out, err = run(
        capsysbinary,
        "image",
        "build",
        str(ctx),
        "-f",
        str(tmp_path / "Other.dockerfile"),
        "-t",
        f"ocidir://{tmp_path}/o:x",
        "--build-arg",
        "WHO=you",
        "--build-arg",
        "NOPE=1",
        "--platform",
        "linux/amd64,linux/arm64",
        "--layer-compress",
        "zstd",
    )
    assert code == 0, err
    assert "[linux/arm64 2/4] ARG WHO=world" in err
    assert "warning: build-args not consumed by any ARG: NOPE" in err
    index = json.loads(skopeo_raw(f"oci:{tmp_path}/o:x"))
    assert "sha256:" + hashlib.sha256(skopeo_raw(f"oci:{tmp_path}/o:x")).hexdigest() == (
        out.decode().strip()
    )
    child = index["manifests"][1]
    manifest, conf = layout_blobs(tmp_path / "o", child["digest"])
    assert manifest["layers"][0]["mediaType"] == mt.OCI_LAYER_ZSTD
    assert conf["config"]["Labels"] == {"who": "you"}


def test_multistage_multiplatform_into_hoist_serve(
    tmp_path: Path, hoist_serve: Any, repo_name: str
) -> None:
    """A multi-stage, two-platform build pushed to hoist serve, read back by skopeo."""
    ctx = make_context(
        tmp_path / "ctx",
        "FROM scratch AS build\nCOPY src/ /out/\n"
        'FROM scratch\nCOPY --from=build /out/ /app/\nENV MODE=prod\nENTRYPOINT ["/app/run"]\n',
        {"src/run": "#!/bin/sh\necho ok\n"},
    )
    options = registry_store_options(hoist_serve)
    dest = f"{hoist_serve.host}/{repo_name}:v1"
    with Client(**options) as client:
        result = image_build(client, ctx, client.at(dest), BuildOptions(platforms=(AMD64, ARM64)))
    assert result.descriptor.media_type == mt.OCI_INDEX
    assert json.loads(skopeo_raw(f"docker://{dest}"))["manifests"][1]["platform"]["variant"] == "v8"
    for arch in ("amd64", "arm64"):
        config = json.loads(
            skopeo("inspect", "--config", "--override-arch", arch, f"docker://{dest}").stdout
        )
        assert config["architecture"] == arch
        assert config["config"]["Entrypoint"] == ["/app/run"]
        assert [h.get("empty_layer", False) for h in config["history"]] == [False, True, True]
        assert len(config["rootfs"]["diff_ids"]) == 1
