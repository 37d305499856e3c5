"""The sync config: what a valid file means, and errors that name the line and the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hoist.model.platform import Platform
from hoist.sync.config import (
    MAX_CONFIG_BYTES,
    InvalidSyncConfig,
    load_config,
    parse_config,
    parse_duration,
    render_backup,
)

FULL = """\
version: 1
defaults:
  jobs: 8
  concurrency: 2
  ratelimit: {min: 50, action: stop, poll: 30s, max-wait: 1h}
  schedule: {cron: "*/30 * * * *"}
  journal: state/sync.journal
  tags:
    deny: ['-rc\\d*$']
  platforms: [linux/amd64, linux/arm64]
  referrers: true
registries:
  docker.io: {jobs: 2, username-env: HUB_USER, password-env: HUB_TOKEN}
  127.0.0.1:5001: {jobs: 3}
sync:
  - source: docker.io/library/alpine
    target: 127.0.0.1:5001/hub/alpine
    tags:
      allow: ['^3\\.']
      semver: '>=3.18 <4'
      newest: 3
  - source: 127.0.0.1:5000
    target: 127.0.0.1:5001
    strip-prefix: team/
    add-prefix: mirror
    repositories: {allow: ['^team/'], deny: ['-old$']}
    platforms: all
    digest-tags: true
    backup: '{tag}-prev-{date}'
  - source: 127.0.0.1:5000/tools/jq:1.7
    target: 127.0.0.1:5001/tools/jq:stable
    referrers: false
"""


def test_a_full_config(tmp_path: Path) -> None:
    path = tmp_path / "sync.yaml"
    path.write_text(FULL)
    config = load_config(path)
    assert config.jobs == 8 and config.concurrency == 2
    assert config.ratelimit.min == 50 and config.ratelimit.action == "stop"
    assert config.ratelimit.poll == timedelta(seconds=30)
    assert config.ratelimit.max_wait == timedelta(hours=1)
    assert config.schedule is not None and str(config.schedule) == "cron */30 * * * *"
    assert config.journal == tmp_path / "state/sync.journal"  # relative to the config file
    assert config.registries["docker.io"].jobs == 2
    assert config.registries["docker.io"].password_env == "HUB_TOKEN"
    assert len(config.digest) == 64

    hub, registry, one = config.rules
    assert hub.kind == "repository" and not hub.target_is_registry
    assert hub.tags.allow == ("^3\\.",) and hub.tags.deny == ("-rc\\d*$",)  # defaults merged
    assert hub.tags.semver is not None and hub.tags.newest == 3
    assert hub.platforms == (Platform("linux", "amd64"), Platform("linux", "arm64"))
    assert hub.referrers and not hub.digest_tags
    assert hub.line == 16

    assert registry.kind == "registry" and registry.target_is_registry
    assert registry.platforms is None  # all
    assert registry.digest_tags and registry.backup == "{tag}-prev-{date}"
    assert registry.target_repository("team/app") == "mirror/app"
    assert registry.target_repository("other/app") == "mirror/other/app"
    assert registry.repositories.allow == ("^team/",)

    assert one.kind == "image" and one.target_names_image and not one.referrers


def test_defaults_of_a_small_config() -> None:
    config = parse_config("sync:\n  - {source: reg.example/app, target: mirror.example}\n")
    assert config.jobs == 4 and config.concurrency == 4 and config.ratelimit.min == 0
    assert config.schedule is None and config.journal is None
    (rule,) = config.rules
    assert rule.kind == "repository" and rule.target_is_registry
    assert rule.target_repository("app") == "app"  # the path kept
    assert rule.tags.allow == () and rule.platforms is None and rule.backup is None


BAD = [
    # (config, line, text expected in the message)
    ("", 0, "the config is empty"),
    ("sync: []\n", 1, "sync: want a list of rules"),
    ("defaults: {}\n", 1, "no sync: list"),
    ("sync:\n  - source: a.io/x\n", 2, "sync[0]: no target"),
    ("sync:\n  - source: a.io/x\n    target: b.io\n    tagz: {}\n", 4, "did you mean 'tags'"),
    (
        "sync:\n  - source: a.io/x\n    target: b.io\n    tags:\n      newest: 0\n",
        5,
        "sync[0].tags.newest: want a whole number from 1",
    ),
    (
        "sync:\n  - source: a.io/x\n    target: b.io\n    tags:\n      semver: '>=1.x.2'\n",
        5,
        "sync[0].tags.semver",
    ),
    (
        "sync:\n  - source: a.io/x\n    target: b.io\n    tags:\n      allow: ['(']\n",
        5,
        "bad regular expression",
    ),
    (
        "sync:\n  - source: a.io/x\n    target: b.io\n    tags:\n      since: 30\n",
        5,
        "want a duration",
    ),
    (
        "sync:\n  - source: a.io/x\n    target: b.io\n    tags: {allow: [3.10]}\n",
        4,
        "quote it",
    ),
    ("sync:\n  - source: a.io/x\n    target: b.io\n    password: hunter2\n", 4, "credentials"),
    (
        "registries:\n  a.io:\n    password: x\nsync:\n  - {source: a.io/x, target: b.io}\n",
        3,
        "registries.a.io.password: credentials never go in the sync config",
    ),
    (
        "sync:\n  - source: a.io\n    target: b.io/some/repo\n",
        3,
        "a registry source needs a registry target",
    ),
    ("sync:\n  - source: a.io/x\n    target: b.io/y:v1\n", 3, "needs one image as the source"),
    (
        "sync:\n  - source: a.io/x\n    target: b.io/y\n    add-prefix: m\n",
        4,
        "prefixes apply when the target is a registry host",
    ),
    ("sync:\n  - source: a.io/x\n    target: b.io\n    jobs: 3\n", 4, "put it under defaults"),
    (
        "sync:\n  - source: a.io/x\n    target: b.io\n    backup: '{old}'\n",
        4,
        "unknown field {old}",
    ),
    (
        "sync:\n  - source: a.io/x\n    target: b.io\n    backup: 'keep'\n",
        4,
        "must hold {tag}",
    ),
    (
        "sync:\n  - source: a.io/x\n    target: b.io\n    platforms: [linux]\n",
        4,
        "sync[0].platforms[0]",
    ),
    (
        "defaults:\n  schedule: {cron: '* * *'}\nsync: [{source: a.io/x, target: b.io}]\n",
        2,
        "5 fields",
    ),
    (
        "defaults:\n  ratelimit: {action: pray}\nsync: [{source: a.io/x, target: b.io}]\n",
        2,
        "want wait or stop",
    ),
    ("sync:\n  - source: a.io/x\n    source: a.io/y\n", 3, "given twice"),
    ("sync: [\n", 2, "not valid YAML"),
    ("sync:\n  - source: 'UPPER/Case'\n    target: b.io\n", 2, "sync[0].source"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD)
def test_errors_name_the_line_and_the_key(text: str, line: int, message: str) -> None:
    with pytest.raises(InvalidSyncConfig) as info:
        parse_config(text, name="sync.yaml")
    assert message in str(info.value)
    assert info.value.line == line, str(info.value)
    prefix = f"sync.yaml:{line}: " if line else "sync.yaml: "
    assert str(info.value).startswith(prefix)


def test_the_file_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(InvalidSyncConfig, match="limit"):
        load_config(path)
    with pytest.raises(InvalidSyncConfig, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_aliases_cannot_blow_up() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    text = "\n".join(lines) + "\nsync: [{source: a.io/x, target: b.io}]\n"
    with pytest.raises(InvalidSyncConfig, match="YAML nodes"):
        parse_config(text)


def test_unsafe_yaml_tags_are_refused() -> None:
    with pytest.raises(InvalidSyncConfig, match="not valid YAML"):
        parse_config("sync: !!python/object/apply:os.system ['true']\n")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("1h30m", 5400), ("90s", 90), ("2w", 14 * 86400), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "1x", "1h 30"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_backup_template() -> None:
    digest = "sha256:" + "ab" * 32
    assert render_backup("{tag}-{date}", tag="v1", now=0) == "v1-19700101"
    assert render_backup("{tag}.{digest}", tag="v1", digest=digest) == "v1.abababababab"
    assert render_backup("old-{tag}-{time}", tag="3", now=3661) == "old-3-010101"


def test_environment_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(
        "registries:\n  docker.io: {username-env: U, password-env: P}\n"
        "  reg.example: {jobs: 1}\n"
        "sync: [{source: alpine, target: reg.example}]\n"
    )
    creds = config.credentials()
    assert creds.get("registry-1.docker.io") is None  # the variables are not set
    monkeypatch.setenv("U", "me")
    monkeypatch.setenv("P", "secret")
    found = creds.get("registry-1.docker.io")
    assert found is not None and found.username == "me" and found.password == "secret"
    assert creds.get("reg.example") is None and creds.get("other.example") is None
