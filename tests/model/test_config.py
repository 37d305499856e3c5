"""Tests for hoist.model.config (image-spec config.md, Docker image config)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.json_fuzz import CONFIGISH, encoded

from hoist.errors import HoistError, InvalidConfig, InvalidInput
from hoist.model.config import ContainerConfig, History, ImageConfig, parse_config
from hoist.model.digest import Digest, digest_of
from hoist.model.platform import Platform

# The example of image-spec config.md, byte for byte (including its stray tab).
OCI_CONFIG_RAW = b"""{
    "created": "2015-10-31T22:22:56.015925234Z",
    "author": "Alyssa P. Hacker <alyspdev@example.com>",
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "User": "alice",
        "Memory": 2048,
        "MemorySwap": 4096,
        "CpuShares": 8,
        "ExposedPorts": {
            "8080/tcp": {}
        },
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "FOO=oci_is_a",
            "BAR=well_written_spec"
        ],
        "Entrypoint": [
            "/bin/my-app-binary"
        ],
        "Cmd": [
            "--foreground",
            "--config",
            "/etc/my-app.d/default.cfg"
        ],
        "Volumes": {
            "/var/job-result-data": {},
            "/var/log/my-app-logs": {}
        },
        "WorkingDir": "/home/alice",
        "Labels": {
            "com.example.project.git.url": "https://example.com/project.git",
            "com.example.project.git.commit": "45a939b2999782a3f005621a8d0f29aa387e1d6b"
\t}
    },
    "rootfs": {
      "diff_ids": [
        "sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
      ],
      "type": "layers"
    },
    "history": [
      {
        "created": "2015-10-31T22:22:54.690851953Z",
        "created_by": "/bin/sh -c #(nop) ADD file:@FILE@ in /"
      },
      {
        "created": "2015-10-31T22:22:55.613815829Z",
        "created_by": "/bin/sh -c #(nop) CMD [\\"sh\\"]",
        "empty_layer": true
      }
    ]
}
""".replace(b"@FILE@", b"a3bc1e842b69636f9df5256c49c5374fb4eef1e281fe3f282c65fb853ee171c5")

D1 = "sha256:" + hashlib.sha256(b"layer-1").hexdigest()
D2 = "sha256:" + hashlib.sha256(b"layer-2").hexdigest()
D3 = "sha256:" + hashlib.sha256(b"layer-3").hexdigest()

# Shaped like `docker inspect`-era configs pushed by the classic builder.
_DOCKER_CONTAINER_CONFIG = {
    "Hostname": "a1b2c3d4e5f6",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": ["/bin/sh", "-c", '#(nop) CMD ["nginx" "-g" "daemon off;"]'],
    "Image": "sha256:" + "1" * 64,
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": {"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
    "StopSignal": "SIGQUIT",
}
DOCKER_CONFIG_OBJ: dict[str, Any] = {
    "architecture": "amd64",
    "config": {
        **_DOCKER_CONTAINER_CONFIG,
        "Hostname": "",
        "ExposedPorts": {"80/tcp": {}},
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "NGINX_VERSION=1.25.1",
            "NJS_VERSION=0.7.12",
            "PKG_RELEASE=1~bookworm",
        ],
        "Entrypoint": ["/docker-entrypoint.sh"],
        "Cmd": ["nginx", "-g", "daemon off;"],
        "Volumes": None,
    },
    "container": "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2",
    "container_config": _DOCKER_CONTAINER_CONFIG,
    "created": "2023-06-13T23:33:45.436214578Z",
    "docker_version": "20.10.23",
    "history": [
        {
            "created": "2023-06-12T23:48:05.459193488Z",
            "created_by": "/bin/sh -c #(nop) ADD file:bc58956fa3d1aff2efb0264655d039fedfff28dd4a",
        },
        {
            "created": "2023-06-12T23:48:05.837275101Z",
            "created_by": '/bin/sh -c #(nop)  CMD ["bash"]',
            "empty_layer": True,
        },
        {
            "created": "2023-06-13T23:33:13.117541282Z",
            "created_by": "/bin/sh -c #(nop)  LABEL maintainer=NGINX Docker Maintainers",
            "empty_layer": True,
        },
        {
            "created": "2023-06-13T23:33:44.115226123Z",
            "created_by": "/bin/sh -c set -x && apt-get update && apt-get install nginx",
        },
        {
            "created": "2023-06-13T23:33:44.964843548Z",
            "created_by": "/bin/sh -c #(nop) COPY file:e57eef017a414ca7 in /docker-entrypoint.sh ",
        },
        {
            "created": "2023-06-13T23:33:45.074826532Z",
            "created_by": '/bin/sh -c #(nop)  ENTRYPOINT ["/docker-entrypoint.sh"]',
            "empty_layer": True,
        },
        {
            "created": "2023-06-13T23:33:45.436214578Z",
            "created_by": '/bin/sh -c #(nop)  CMD ["nginx" "-g" "daemon off;"]',
            "empty_layer": True,
        },
    ],
    "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": [D1, D2, D3]},
}
DOCKER_CONFIG_RAW = json.dumps(DOCKER_CONFIG_OBJ).encode()


# --------------------------------------------------------------------------- realistic configs


def test_oci_spec_example() -> None:
    c = parse_config(OCI_CONFIG_RAW)
    assert c.raw is OCI_CONFIG_RAW
    assert c.digest == Digest("sha256", hashlib.sha256(OCI_CONFIG_RAW).hexdigest())
    assert (c.architecture, c.os, c.variant, c.os_version) == ("amd64", "linux", "", "")
    assert c.created == "2015-10-31T22:22:56.015925234Z"
    assert c.author == "Alyssa P. Hacker <alyspdev@example.com>"
    assert c.platform == Platform("linux", "amd64")
    cc = c.config
    assert cc.user == "alice"
    assert cc.env == (
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "FOO=oci_is_a",
        "BAR=well_written_spec",
    )
    assert cc.entrypoint == ("/bin/my-app-binary",)
    assert cc.cmd == ("--foreground", "--config", "/etc/my-app.d/default.cfg")
    assert cc.working_dir == "/home/alice"
    assert cc.exposed_ports == ("8080/tcp",)
    assert cc.volumes == ("/var/job-result-data", "/var/log/my-app-logs")
    assert cc.labels == {
        "com.example.project.git.url": "https://example.com/project.git",
        "com.example.project.git.commit": "45a939b2999782a3f005621a8d0f29aa387e1d6b",
    }
    assert cc.stop_signal == ""
    assert [str(d) for d in c.diff_ids] == [
        "sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
    ]
    assert [h.empty_layer for h in c.history] == [False, True]
    assert c.history[1].created_by == '/bin/sh -c #(nop) CMD ["sh"]'
    assert c.history[0].created_by.endswith("c49c5374fb4eef1e281fe3f282c65fb853ee171c5 in /")
    assert OCI_CONFIG_RAW.count(b"\t") == 1
    # Two layers, one layer-making step: the second layer has no history.
    assert c.layer_history() == [(c.history[0], 0), (c.history[1], None), (None, 1)]
    # Fields hoist does not model are kept in the raw JSON.
    assert c.json()["config"]["Memory"] == 2048


def test_docker_config() -> None:
    c = parse_config(DOCKER_CONFIG_RAW)
    assert c.raw is DOCKER_CONFIG_RAW
    assert c.digest == digest_of(DOCKER_CONFIG_RAW)
    assert c.platform == Platform("linux", "amd64")
    assert c.created == "2023-06-13T23:33:45.436214578Z"
    assert c.author == ""
    cc = c.config
    assert cc.entrypoint == ("/docker-entrypoint.sh",)
    assert cc.cmd == ("nginx", "-g", "daemon off;")
    assert cc.exposed_ports == ("80/tcp",)
    assert cc.volumes == ()  # null
    assert cc.stop_signal == "SIGQUIT"
    assert cc.labels == {"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"}
    assert cc.env_dict()["NGINX_VERSION"] == "1.25.1"
    assert c.diff_ids == tuple(Digest.parse(d) for d in (D1, D2, D3))
    assert len(c.history) == 7
    assert [i for i, h in enumerate(c.history) if h.empty_layer] == [1, 2, 5, 6]
    # container_config is ignored by the model but kept, as are other extra fields.
    out = c.json()
    assert out["container_config"]["Hostname"] == "a1b2c3d4e5f6"
    assert out["docker_version"] == "20.10.23"
    assert out == DOCKER_CONFIG_OBJ
    assert [(None if h is None else c.history.index(h), n) for h, n in c.layer_history()] == [
        (0, 0),
        (1, None),
        (2, None),
        (3, 1),
        (4, 2),
        (5, None),
        (6, None),
    ]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            {},
            {
                "architecture": "",
                "os": "",
                "variant": "",
                "os_version": "",
                "created": "",
                "author": "",
                "config": ContainerConfig(),
                "diff_ids": (),
                "history": (),
                "layer_history": [],
            },
            id="empty-object",
        ),
        pytest.param(
            {"architecture": "arm64", "os": "linux", "variant": "v8"},
            {"platform": Platform("linux", "arm64", "v8"), "variant": "v8"},
            id="arm64-v8",
        ),
        pytest.param(
            {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1757"},
            {"platform": Platform("windows", "amd64", None, "10.0.17763.1757")},
            id="windows-os-version",
        ),
        pytest.param(
            {"architecture": "amd64", "os": "linux", "config": None, "rootfs": None},
            {"config": ContainerConfig(), "diff_ids": ()},
            id="nulls",
        ),
        pytest.param(
            {"config": {"Env": None, "Labels": None, "Cmd": [], "Entrypoint": [""]}},
            {"config": ContainerConfig(cmd=(), entrypoint=("",))},
            id="null-and-empty-lists",
        ),
        pytest.param(
            {"rootfs": {"type": "layers", "diff_ids": []}, "history": []},
            {"diff_ids": (), "history": (), "layer_history": []},
            id="no-layers",
        ),
        pytest.param(
            {"history": [{}, {"empty_layer": False}, {"comment": "c", "author": "a"}]},
            {"history": (History(), History(), History(author="a", comment="c"))},
            id="history-sparse",
        ),
    ],
)
def test_parse_small(obj: dict[str, Any], expected: dict[str, Any]) -> None:
    raw = json.dumps(obj).encode()
    c = parse_config(raw)
    assert c.digest == digest_of(raw)
    for key, want in expected.items():
        got = c.layer_history() if key == "layer_history" else getattr(c, key)
        assert got == want, key


# --------------------------------------------------------------------------- layer_history

# Each history pattern letter is a step: L makes a layer, E is empty_layer.
# Expected: (history index or None, layer index or None) for each entry.
LAYER_HISTORY = [
    pytest.param("", 0, [], id="nothing"),
    pytest.param("L", 1, [(0, 0)], id="one"),
    pytest.param("LLL", 3, [(0, 0), (1, 1), (2, 2)], id="all-layers"),
    pytest.param(
        "ELEELE",
        2,
        [(0, None), (1, 0), (2, None), (3, None), (4, 1), (5, None)],
        id="empty-interleaved",
    ),
    pytest.param("EEE", 0, [(0, None), (1, None), (2, None)], id="all-empty"),
    pytest.param("", 2, [(None, 0), (None, 1)], id="no-history"),
    pytest.param("L", 3, [(0, 0), (None, 1), (None, 2)], id="history-shorter"),
    pytest.param("ELE", 3, [(0, None), (1, 0), (2, None), (None, 1), (None, 2)], id="short-mixed"),
    pytest.param("EE", 1, [(0, None), (1, None), (None, 0)], id="only-empty-with-layer"),
    pytest.param("LLE", 1, [(0, 0), (1, None), (2, None)], id="history-longer"),
]


@pytest.mark.parametrize(("pattern", "layers", "expected"), LAYER_HISTORY)
def test_layer_history(pattern: str, layers: int, expected: list[tuple[Any, Any]]) -> None:
    history = [History(created_by=f"step {i}", empty_layer=c == "E") for i, c in enumerate(pattern)]
    diff_ids = [digest_of(f"layer {i}".encode()) for i in range(layers)]
    c = ImageConfig.build(architecture="amd64", os="linux", diff_ids=diff_ids, history=history)
    got = c.layer_history()
    assert [(None if h is None else history.index(h), n) for h, n in got] == expected


@given(st.lists(st.booleans(), max_size=12), st.integers(0, 12))
def test_layer_history_property(empties: list[bool], layers: int) -> None:
    history = [History(created_by=f"step {i}", empty_layer=e) for i, e in enumerate(empties)]
    c = ImageConfig.build(
        architecture="amd64",
        os="linux",
        diff_ids=[digest_of(bytes([i])) for i in range(layers)],
        history=history,
    )
    out = c.layer_history()
    making = sum(not e for e in empties)
    assert len(out) == len(history) + max(0, layers - making)
    # Steps in order, then the layers without history.
    assert [h for h, _ in out if h is not None] == history
    assert all(h is None for h, _ in out[len(history) :])
    # Every layer appears exactly once, in order; empty steps never get a layer.
    assert [n for _, n in out if n is not None] == list(range(layers))
    assert all(n is None for h, n in out if h is not None and h.empty_layer)


# --------------------------------------------------------------------------- invalid


def _cfg(**changes: Any) -> bytes:
    obj: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["A=1"]},
        "rootfs": {"type": "layers", "diff_ids": [D1]},
        "history": [{"created_by": "x"}],
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            obj[section][field] = value
        else:
            obj[section] = value
    return json.dumps(obj).encode()


INVALID = [
    pytest.param(b"not json", "not valid JSON", id="not-json"),
    pytest.param(b"", "not valid JSON", id="empty"),
    pytest.param(b'{"architecture": "amd64"', "not valid JSON", id="truncated"),
    pytest.param(b"\xff\xfe\xfa{}", "not valid JSON", id="bad-utf8"),
    pytest.param(b"{" * 50_000 + b"}" * 50_000, "not valid JSON", id="deep-nesting"),
    pytest.param(b"[]", "not a JSON object", id="array"),
    pytest.param(b'"config"', "not a JSON object", id="string"),
    pytest.param(b"null", "not a JSON object", id="null"),
    pytest.param(b"42", "not a JSON object", id="number"),
    pytest.param(_cfg(rootfs__diff_ids=["sha256:abc"]), "diff_ids", id="diff_id-short"),
    pytest.param(_cfg(rootfs__diff_ids=[D1.upper()]), "diff_ids", id="diff_id-uppercase"),
    pytest.param(_cfg(rootfs__diff_ids=[D1[7:]]), "diff_ids", id="diff_id-no-algorithm"),
    pytest.param(_cfg(rootfs__diff_ids=[D1, 5]), "diff_ids", id="diff_id-int"),
    pytest.param(_cfg(rootfs__diff_ids=[None]), "diff_ids", id="diff_id-null"),
    pytest.param(_cfg(rootfs__diff_ids=D1), "diff_ids", id="diff_ids-string"),
    pytest.param(_cfg(rootfs__diff_ids={D1: "x"}), "diff_ids", id="diff_ids-object"),
    pytest.param(_cfg(rootfs=[D1]), "rootfs", id="rootfs-list"),
    pytest.param(_cfg(rootfs=[]), "rootfs", id="rootfs-empty-list"),
    pytest.param(_cfg(rootfs="layers"), "rootfs", id="rootfs-string"),
    pytest.param(_cfg(config=["A=1"]), "config", id="config-list"),
    pytest.param(_cfg(config__Env="A=1"), "config.Env", id="env-string"),
    pytest.param(_cfg(config__Env=["A=1", 2]), "config.Env", id="env-int-item"),
    pytest.param(_cfg(config__Env=[["A", "1"]]), "config.Env", id="env-nested"),
    pytest.param(_cfg(config__Env={"A": "1"}), "config.Env", id="env-object"),
    pytest.param(_cfg(config__Cmd="sh"), "config.Cmd", id="cmd-string"),
    pytest.param(_cfg(config__Entrypoint=["sh", None]), "config.Entrypoint", id="entrypoint"),
    pytest.param(_cfg(config__Labels={"a": 1}), "Labels", id="labels-int"),
    pytest.param(_cfg(config__Labels={"a": None}), "Labels", id="labels-null-value"),
    pytest.param(_cfg(config__Labels={"a": ["b"]}), "Labels", id="labels-list-value"),
    pytest.param(_cfg(config__Labels=["a=b"]), "Labels", id="labels-list"),
    pytest.param(_cfg(config__Labels=""), "Labels", id="labels-empty-string"),
    pytest.param(_cfg(config__User=0), "config.User", id="user-int"),
    pytest.param(_cfg(config__WorkingDir=["/"]), "config.WorkingDir", id="workdir-list"),
    pytest.param(_cfg(config__StopSignal=9), "config.StopSignal", id="stopsignal-int"),
    pytest.param(_cfg(config__ExposedPorts=["80/tcp"]), "ExposedPorts", id="ports-list"),
    pytest.param(_cfg(config__Volumes=["/data"]), "Volumes", id="volumes-list"),
    pytest.param(_cfg(history="x"), "history", id="history-string"),
    pytest.param(_cfg(history={"created_by": "x"}), "history", id="history-object"),
    pytest.param(_cfg(history={}), "history", id="history-empty-object"),
    pytest.param(_cfg(history=["x"]), "history[0]", id="history-entry-string"),
    pytest.param(_cfg(history=[{}, None]), "history[1]", id="history-entry-null"),
    pytest.param(
        _cfg(history=[{"empty_layer": "true"}]), "history[0].empty_layer", id="empty_layer-str"
    ),
    pytest.param(_cfg(history=[{"empty_layer": 1}]), "history[0].empty_layer", id="empty_layer-1"),
    pytest.param(
        _cfg(history=[{"empty_layer": None}]), "history[0].empty_layer", id="empty_layer-null"
    ),
    pytest.param(_cfg(history=[{"created": 0}]), "history[0].created", id="history-created-int"),
    pytest.param(_cfg(architecture=64), "architecture", id="architecture-int"),
    pytest.param(_cfg(os=["linux"]), "os", id="os-list"),
    pytest.param(_cfg(variant=8), "variant", id="variant-int"),
    pytest.param(_cfg(created=1_700_000_000), "created", id="created-int"),
    pytest.param(_cfg(author={"name": "x"}), "author", id="author-object"),
]


@pytest.mark.parametrize(("raw", "fragment"), INVALID)
def test_parse_invalid(raw: bytes, fragment: str) -> None:
    with pytest.raises(InvalidConfig) as info:
        parse_config(raw)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, InvalidInput)
    assert isinstance(info.value, HoistError)
    assert fragment in str(info.value)


def test_invalid_helper_is_valid_when_unchanged() -> None:
    c = parse_config(_cfg())
    assert c.diff_ids == (Digest.parse(D1),)
    assert c.config.env == ("A=1",)


# --------------------------------------------------------------------------- raw bytes / digest


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(OCI_CONFIG_RAW, id="spec-example"),
        pytest.param(DOCKER_CONFIG_RAW, id="docker"),
        pytest.param(json.dumps(DOCKER_CONFIG_OBJ, indent="\t").encode(), id="tabs"),
        pytest.param(
            json.dumps(DOCKER_CONFIG_OBJ, sort_keys=True, separators=(",", ":")).encode(),
            id="sorted-compact",
        ),
        pytest.param(b"\r\n " + DOCKER_CONFIG_RAW + b"\n", id="padded"),
    ],
)
def test_raw_kept_and_digest(raw: bytes) -> None:
    c = parse_config(raw)
    assert c.raw is raw
    assert c.digest == Digest("sha256", hashlib.sha256(raw).hexdigest())
    compact = json.dumps(c.json(), separators=(",", ":")).encode()
    if compact != raw:
        assert digest_of(compact) != c.digest
    # json() is a fresh copy.
    first = c.json()
    first["os"] = "changed"
    assert c.json()["os"] != "changed"


# --------------------------------------------------------------------------- build


def test_build_round_trip() -> None:
    history = [
        History("2024-01-01T00:00:00Z", "ADD rootfs.tar /", "me", "base"),
        History("2024-01-01T00:00:01Z", "ENV A=1", empty_layer=True),
        History(created_by="RUN make"),
    ]
    c = ImageConfig.build(
        architecture="arm64",
        os="linux",
        variant="v8",
        diff_ids=[Digest.parse(D1), Digest.parse(D2)],
        history=history,
        config={"Env": ["A=1", "PATH=/bin"], "Cmd": ["sh"], "Labels": {"k": "v"}},
        created="2024-01-01T00:00:02Z",
        author="me",
    )
    assert c.digest == digest_of(c.raw)
    assert parse_config(c.raw) == c
    assert c.platform == Platform("linux", "arm64", "v8")
    assert c.history == tuple(history)
    assert c.diff_ids == (Digest.parse(D1), Digest.parse(D2))
    assert (c.created, c.author) == ("2024-01-01T00:00:02Z", "me")
    assert c.config.env_dict() == {"A": "1", "PATH": "/bin"}
    assert c.config.cmd == ("sh",)
    assert c.config.labels == {"k": "v"}
    obj = json.loads(c.raw)
    assert obj["rootfs"] == {"type": "layers", "diff_ids": [D1, D2]}
    assert obj["history"][1] == {
        "created": "2024-01-01T00:00:01Z",
        "created_by": "ENV A=1",
        "empty_layer": True,
    }
    assert obj["history"][2] == {"created_by": "RUN make"}
    assert c.raw == json.dumps(obj, separators=(",", ":")).encode()
    assert c.layer_history() == [(history[0], 0), (history[1], None), (history[2], 1)]


def test_build_minimal() -> None:
    c = ImageConfig.build(architecture="amd64", os="linux", diff_ids=[])
    assert json.loads(c.raw) == {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    assert c.config == ContainerConfig()
    assert c.history == ()


@given(
    st.lists(
        st.builds(
            History,
            created=st.text(max_size=8),
            created_by=st.text(max_size=8),
            author=st.text(max_size=8),
            comment=st.text(max_size=8),
            empty_layer=st.booleans(),
        ),
        max_size=5,
    )
)
def test_history_round_trip(history: list[History]) -> None:
    for h in history:
        assert History.from_dict(json.loads(json.dumps(h.to_dict())), "h") == h
    c = ImageConfig.build(architecture="amd64", os="linux", diff_ids=[], history=history)
    assert c.history == tuple(history)


# --------------------------------------------------------------------------- env_dict


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param([], {}, id="empty"),
        pytest.param(["A=1"], {"A": "1"}, id="one"),
        pytest.param(["A=1", "B=2"], {"A": "1", "B": "2"}, id="two"),
        pytest.param(["A=1", "A=2"], {"A": "2"}, id="later-wins"),
        pytest.param(["X=a=b=c"], {"X": "a=b=c"}, id="value-with-equals"),
        pytest.param(["EMPTY="], {"EMPTY": ""}, id="empty-value"),
        pytest.param(["NOVALUE"], {"NOVALUE": ""}, id="no-equals"),
        pytest.param(
            ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
            {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            id="realistic",
        ),
    ],
)
def test_env_dict(env: list[str], expected: dict[str, str]) -> None:
    cc = ContainerConfig.from_dict({"Env": env})
    assert cc.env == tuple(env)
    assert cc.env_dict() == expected
    assert list(cc.env_dict()) == list(expected)


def test_container_config_from_dict_none() -> None:
    assert ContainerConfig.from_dict(None) == ContainerConfig()
    cc = ContainerConfig()
    assert cc.entrypoint is None and cc.cmd is None
    assert cc.env == () and cc.labels == {}
    hash(cc)


@settings(max_examples=300, deadline=None)
@given(encoded(CONFIGISH))
def test_fuzz_parse_config_only_hoist_errors(raw: bytes) -> None:
    """Any bytes: a config whose platform, environment and history can be read, or one
    HoistError (a config without os or architecture has no platform)."""
    try:
        config = parse_config(raw)
    except HoistError:
        return
    assert isinstance(config.config.env_dict(), dict)
    for entry, index in config.layer_history():
        assert entry is None or isinstance(entry, History)
        assert index is None or index >= 0
    try:
        platform = config.platform
    except HoistError:
        return
    assert Platform.parse(str(platform)) == platform
