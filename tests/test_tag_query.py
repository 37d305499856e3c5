"""tag ls --sort semver|created|name [--reverse], tag ls --digest: on a real registry and a
layout, the created times being the images' own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.cli import run
from support.registry_fixtures import RegistryServer, registry_store_options
from support.samples import layout_ref
from support.skopeo import skopeo

from hoist.authoring.mod import Changes, image_mod
from hoist.client import Client
from hoist.errors import InvalidInput
from hoist.model.digest import Digest
from hoist.store.ocidir import OCIDirStore
from hoist.tag_query import image_created, tag_sort, tags_at_digest, tags_created
from hoist.testing.sample import write_samples

TAGS = ["latest", "1.10.0", "1.2.0", "v1.9", "1.2.0-rc1", "2", "dev", "1.2.0-rc.10", "1.2.0-rc.2"]


def test_semver_name_and_reverse_orders() -> None:
    assert tag_sort(TAGS, "semver") == [
        "1.2.0-rc.2", "1.2.0-rc.10", "1.2.0-rc1", "1.2.0", "v1.9", "1.10.0", "2", "dev", "latest",
    ]  # fmt: skip
    assert tag_sort(TAGS, "semver", reverse=True)[:3] == ["2", "1.10.0", "v1.9"]
    assert tag_sort(TAGS, "semver", reverse=True)[-2:] == ["dev", "latest"]  # not versions: last
    assert tag_sort(TAGS) == sorted(TAGS)
    assert tag_sort(TAGS, reverse=True) == sorted(TAGS, reverse=True)
    when = {"a": datetime(2024, 1, 2, tzinfo=UTC), "b": datetime(2023, 1, 1, tzinfo=UTC)}
    assert tag_sort(["c", "a", "b"], "created", created=when) == ["b", "a", "c"]
    assert tag_sort(["c", "a", "b"], "created", created=when, reverse=True) == ["a", "b", "c"]
    with pytest.raises(InvalidInput):
        tag_sort(TAGS, "size")


@pytest.fixture
def layout(tmp_path: Path) -> str:
    """A layout with tags of images created at different times (and an index, tag base)."""
    root = tmp_path / "layout"
    write_samples(OCIDirStore(fsync=False), layout_ref(root, "base"), layout_ref(root, "app"))
    client = Client()
    app = client.at(f"ocidir://{root}:app")
    for tag, created in [("v1", "2022-05-01T00:00:00Z"), ("v2", "2021-01-01T12:00:00Z"),
                         ("v3", "2023-03-03T03:03:03.5+02:00")]:  # fmt: skip
        image_mod(app, app.with_tag(tag), Changes(created=created))
    same_time = Changes(created="2021-01-01T12:00:00Z", labels={"again": "yes"})
    image_mod(app, app.with_tag("v2-again"), same_time)
    return f"ocidir://{root}"


def test_created_times_of_images_and_indexes(layout: str) -> None:
    client = Client()
    where = client.at(layout + ":app")
    times = tags_created(where, ["v1", "v2", "v3", "base", "gone"])
    assert times["v1"] == datetime(2022, 5, 1, tzinfo=UTC)
    assert times["v3"] == datetime(2023, 3, 3, 1, 3, 3, 500000, tzinfo=UTC)
    assert times["base"] == datetime(2024, 1, 1, tzinfo=UTC)  # its amd64 image's config
    assert times["gone"] is None
    assert image_created(client.at(layout + ":v2")) == datetime(2021, 1, 1, 12, tzinfo=UTC)
    order = tag_sort(times, "created", created=times)
    assert order == ["v2", "v1", "v3", "base", "gone"]


def test_cli_sort_reverse_last_limit_on_a_layout(capsysbinary: Any, layout: str) -> None:
    code, out, err = run(capsysbinary, "tag", "ls", layout + ":app", "--sort", "created")
    assert code == 0, err
    # v2 and v2-again are the same time: by name then; the sample app and base are 2024
    assert out.decode().split() == ["v2", "v2-again", "v1", "v3", "app", "base"]
    code, out, err = run(capsysbinary, "tag", "ls", layout, "--sort", "created", "--reverse",
                         "--last", "v3", "--limit", "2", "--format", "json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == ["v1", "v2"]
    code, out, err = run(capsysbinary, "tag", "ls", layout, "--sort", "semver", "--reverse")
    assert out.decode().split() == [
        "v3",
        "v2",
        "v2-again",
        "v1",
        "app",
        "base",
    ]  # -again: a pre-release
    code, out, err = run(capsysbinary, "tag", "ls", layout, "--sort", "semver", "--last", "nope")
    assert code == 2 and "not among the tags" in err


def test_tags_pointing_at_a_digest_on_a_registry(
    capsysbinary: Any, layout: str, registry_anon: RegistryServer, repo_name: str
) -> None:
    repo = f"{registry_anon.host}/{repo_name}"
    tls = ("--tls", "disabled")
    for tag in ("v1", "v2", "v3", "v2-again", "base"):
        assert run(capsysbinary, "image", "copy", f"{layout}:{tag}", f"{repo}:{tag}", *tls)[0] == 0
    assert run(capsysbinary, "tag", "add", f"{repo}:v2", "stable", "2.0", *tls)[0] == 0
    digest = skopeo("inspect", "--format", "{{.Digest}}", f"docker://{repo}:v2").stdout.strip()
    code, out, err = run(capsysbinary, "tag", "ls", repo, "--digest", digest, *tls)
    assert code == 0, err
    assert out.decode().split() == ["2.0", "stable", "v2"]
    code, out, err = run(capsysbinary, "tag", "ls", repo, "--digest", digest, "--sort",
                         "semver", "--format", "json", *tls)  # fmt: skip
    assert json.loads(out) == ["v2", "2.0", "stable"]
    with Client(**registry_store_options(registry_anon)) as client:
        where = client.at(f"{repo}:v1")
        assert tags_at_digest(where, Digest.parse(digest), ["v1", "stable", "gone"]) == ["stable"]
        times = tags_created(where, client.tags(where))
    assert times["v3"] == datetime(2023, 3, 3, 1, 3, 3, 500000, tzinfo=UTC)
    code, out, err = run(capsysbinary, "tag", "ls", repo, "--sort", "created", "--reverse", *tls)
    assert code == 0, err
    assert out.decode().split() == ["base", "v3", "v1", "2.0", "stable", "v2", "v2-again"]
    code, _, err = run(capsysbinary, "tag", "ls", repo, "--digest", "nope", *tls)
    assert code == 2 and "--digest" in err
