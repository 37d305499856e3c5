"""Planning against real registries: what it decides, and what it asks to decide it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from support.registry_fixtures import RegistryServer, unique_repo_name
from support.sync_images import AccessLog, count, image, push, registry_client

from hoist.client import Client
from hoist.errors import InvalidInput
from hoist.model.platform import Platform
from hoist.model.reference import Reference
from hoist.sync.apply import sync_apply
from hoist.sync.config import parse_config
from hoist.sync.plan import Plan, sync_plan
from hoist.sync.select import Version
from hoist.testing.sample import SampleImage, base_image

NOW = datetime(2024, 12, 31, tzinfo=UTC)


def _tag(i: int) -> str:
    """250 tags: versions 1.0.0 ... 1.4.49, every tenth one also with a -rc suffix."""
    version = f"1.{i // 50}.{i % 50}"
    return f"{version}-rc1" if i % 10 == 9 else version


def _created(i: int) -> str:
    return (NOW - timedelta(days=250 - i)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def big(registry_anon: RegistryServer) -> Iterator[tuple[str, dict[str, SampleImage]]]:
    """A 250-tag repository on registry_anon, each tag its own image created a day apart,
    plus ``latest`` and ``main`` naming the newest image."""
    repo = unique_repo_name("sync-big")
    images = {_tag(i): image(f"big-{i}", created=_created(i)) for i in range(250)}
    images["latest"] = images[_tag(248)]
    images["main"] = images[_tag(248)]
    with registry_client(registry_anon) as client:
        push(client.store(Reference(registry_anon.host, repo)), registry_anon.host, repo, images)
    yield repo, images


@pytest.fixture
def client(
    registry_anon: RegistryServer, registry_anon2: RegistryServer, registry_basic: RegistryServer
) -> Iterator[Client]:
    with registry_client(registry_anon, registry_anon2, registry_basic) as c:
        yield c


def _config(src: str, dst: str, tags: str = "{}", extra: str = "") -> str:
    return f"sync:\n  - source: {src}\n    target: {dst}\n    tags: {tags}\n{extra}"


def test_a_250_tag_repository_is_planned_with_heads(
    big: tuple[str, dict[str, SampleImage]],
    client: Client,
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    repo_name: str,
) -> None:
    repo, images = big
    config = parse_config(
        _config(
            f"{registry_anon.host}/{repo}",
            f"{registry_anon2.host}/{repo_name}",
            "{semver: '>=1.2 <1.4', deny: ['^1\\.3\\.4']}",
        )
    )
    source, target = AccessLog(registry_anon), AccessLog(registry_anon2)
    plan = sync_plan(client, config, now=NOW)
    expected = [
        t
        for t in sorted(images)
        if (v := Version.parse(t))
        and not v.prerelease
        and (1, 2, 0) <= v.core < (1, 4, 0)
        and not t.startswith("1.3.4")
    ]
    assert [Reference.parse(i.source).tag for i in plan.images] == expected
    assert all(i.status == "missing" and i.kind == "tag" for i in plan.images)
    assert plan.errors == ()
    at_source = source.requests(repo)
    assert count(at_source, "GET", "tags") == 1
    assert count(at_source, "HEAD", "manifests") == len(expected)  # one per chosen tag only
    assert count(at_source, "GET", "manifests") == len(expected)  # to count blobs: missing
    assert count(at_source, "GET", "blobs") == 0  # never a layer (nor a config here)
    at_target = target.requests(repo_name)
    assert count(at_target, "GET", "tags") == 1  # not there yet: every tag missing
    assert count(at_target, "HEAD", "manifests") == 0
    summary = plan.summary
    shared = 1  # the shared layer, counted once
    assert summary.blobs == 2 * len(expected) + shared  # own layer + config each
    layer_bytes = {d.digest: d.size for s in images.values() for d in s.top.referenced()}
    assert (
        summary.bytes
        == sum(
            layer_bytes[d.digest]
            for i in plan.images
            for d in images[Reference.parse(i.source).tag or ""].top.referenced()
        )
        - (len(expected) - 1) * images[_tag(0)].top.referenced()[1].size
    )


SELECTIONS = [
    (
        "{newest: 5}",
        lambda: (
            [_tag(i) for i in (243, 244, 245, 246, 247, 248)][1:]
            and sorted([_tag(i) for i in (244, 245, 246, 247, 248)])
        ),
    ),
    ("{semver: '~1.2.3', newest: 3}", lambda: ["1.2.46", "1.2.47", "1.2.48"]),
    ("{semver: '1.0.x', allow: ['7$']}", lambda: ["1.0.17", "1.0.27", "1.0.37", "1.0.47", "1.0.7"]),
    ("{allow: ['^(latest|main)$']}", lambda: ["latest", "main"]),
    ("{deny: ['^1\\.', 'main']}", lambda: ["latest"]),
    ("{since: 3d}", lambda: sorted([_tag(247), _tag(248), _tag(249), "latest", "main"])),
    ("{newest: 2, newest-by: created, allow: ['^1\\.0\\.']}", lambda: ["1.0.48", "1.0.49-rc1"]),
    ("{semver: '>=1.4', since: 5d}", lambda: ["1.4.45", "1.4.46", "1.4.47", "1.4.48"]),
]


@pytest.mark.parametrize(("tags", "expected"), SELECTIONS)
def test_selection_on_the_250_tag_repository(
    big: tuple[str, dict[str, SampleImage]],
    client: Client,
    registry_anon: RegistryServer,
    registry_anon2: RegistryServer,
    repo_name: str,
    tags: str,
    expected: object,
) -> None:
    repo, images = big
    config = parse_config(
        _config(f"{registry_anon.host}/{repo}", f"{registry_anon2.host}/{repo_name}", tags)
    )
    source = AccessLog(registry_anon)
    plan = sync_plan(client, config, now=NOW)
    got = sorted(Reference.parse(i.source).tag or "" for i in plan.images)
    assert got == sorted(expected())  # type: ignore[operator]
    requests = source.requests(repo)
    configs = {str(s.top.config.digest) for s in images.values()}  # type: ignore[union-attr]
    blob_gets = [
        r.path.rsplit("/", 1)[1] for r in requests if r.method == "GET" and "/blobs/" in r.path
    ]
    assert set(blob_gets) <= configs  # created times come from configs, never from a layer
    if "since" not in tags and "created" not in tags:
        assert blob_gets == []


def test_plan_equals_what_apply_does(
    client: Client,
    registry_anon: RegistryServer,
    registry_basic: RegistryServer,
    repo_name: str,
) -> None:
    src = f"{registry_anon.host}/{repo_name}"
    one, two, three = image("p1"), image("p2"), image("p3")
    push(
        client.store(Reference.parse(src)),
        registry_anon.host,
        repo_name,
        {"v1": one, "v2": two, "v3": three, "stable": two, "latest": three},
    )
    dst = f"{registry_basic.host}/{repo_name}"
    # the target has v1 already, and v2 naming another image: one up to date, one changed
    push(client.store(Reference.parse(dst)), registry_basic.host, repo_name, {"v1": one, "v2": one})
    config = parse_config(_config(src, dst, extra="    backup: '{tag}-was'\n"))
    plan = sync_plan(client, config)
    status = {Reference.parse(i.target).tag: i.status for i in plan.images}
    assert status == {
        "v1": "up-to-date",
        "v2": "changed",
        "v3": "missing",
        "stable": "missing",
        "latest": "missing",
    }
    changed = next(i for i in plan.images if i.status == "changed")
    assert changed.current == one.top.digest and changed.result == two.top.digest
    assert changed.backup == "v2-was"
    assert plan.summary.copies == 2  # v2+stable, v3+latest: each digest once

    # the JSON plan is the same plan
    again = Plan.from_json(plan.to_json())
    assert again == plan and again.id == plan.id

    events: list[object] = []
    result = sync_apply(client, config, again, journal=False, events=events.append)
    assert result.ok and result.copied == 4 and result.up_to_date == 1
    done = {(e.target, t) for e in events if getattr(e, "kind", "") == "image" for t in e.tags}  # type: ignore[attr-defined]
    assert done == {(dst, t) for t in ("v2", "stable", "v3", "latest")}
    target = client.at(dst)
    for tag, sample in {"v1": one, "v2": two, "v3": three, "stable": two, "latest": three}.items():
        assert target.with_tag(tag).manifest_head().digest == sample.top.digest
    assert target.with_tag("v2-was").manifest_head().digest == one.top.digest  # the backup

    source = AccessLog(registry_anon)
    after = sync_plan(client, config)
    assert {i.status for i in after.images} == {"up-to-date"}
    assert count(source.requests(repo_name), "GET", "manifests") == 0  # HEADs only


def test_an_edited_plan_is_refused(
    client: Client, registry_anon: RegistryServer, repo_name: str
) -> None:
    src = f"{registry_anon.host}/{repo_name}"
    push(client.store(Reference.parse(src)), registry_anon.host, repo_name, {"v1": image("e1")})
    plan = sync_plan(client, parse_config(_config(src, f"{src}-mirror")))
    data = plan.to_dict()
    data["images"][0]["target"] = f"{src}-elsewhere:v1"
    with pytest.raises(InvalidInput, match="does not match"):
        Plan.from_dict(data)
    del data["id"]
    assert Plan.from_dict(data).images[0].target.endswith("-elsewhere:v1")
    with pytest.raises(InvalidInput, match=r"images\[0\]: status"):
        Plan.from_dict({**data, "images": [{**data["images"][0], "status": "maybe"}]})


def test_platforms_make_a_new_index(
    client: Client, registry_anon: RegistryServer, registry_anon2: RegistryServer, repo_name: str
) -> None:
    sample = base_image(
        [
            Platform("linux", "amd64"),
            Platform("linux", "arm64", "v8"),
            Platform("linux", "arm", "v7"),
        ]
    )
    src = f"{registry_anon.host}/{repo_name}"
    from hoist.testing.sample import write_image

    write_image(client.store(Reference.parse(src)), Reference.parse(f"{src}:v1"), sample)
    dst = f"{registry_anon2.host}/{repo_name}"
    config = parse_config(_config(src, dst, extra="    platforms: [linux/amd64, linux/arm64]\n"))
    plan = sync_plan(client, config)
    (item,) = plan.images
    assert item.digest == sample.top.digest and item.result != sample.top.digest
    assert item.platforms == ("linux/amd64", "linux/arm64")
    assert item.blobs == 2 * 2  # two platforms: a layer and a config each
    result = sync_apply(client, config, plan, journal=False)
    assert result.ok
    written = client.at(f"{dst}:v1").manifest_get()
    assert written.digest == item.result
    assert [str(p) for p in written.platforms()] == ["linux/amd64", "linux/arm64/v8"]  # type: ignore[union-attr]
    assert {i.status for i in sync_plan(client, config).images} == {"up-to-date"}


def test_digest_tags_and_referrers_follow_their_images(
    client: Client, registry_anon: RegistryServer, registry_anon2: RegistryServer, repo_name: str
) -> None:
    from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
    from hoist.model.manifest import ImageManifest

    src = f"{registry_anon.host}/{repo_name}"
    app = image("signed")
    other = image("unsigned")
    store = client.store(Reference.parse(src))
    push(store, registry_anon.host, repo_name, {"v1": app, "v2": other})
    ref = Reference.parse(src)
    store.blob_put(ref, b"{}")
    store.blob_put(ref, b"signature")
    sig = ImageManifest.build(
        EMPTY_DESCRIPTOR,
        [Descriptor.of("application/vnd.example.signature", b"signature")],
        artifact_type="application/vnd.example.signature",
        subject=app.top.descriptor(),
    )
    store.manifest_put(ref.by_digest(sig.digest), sig)
    cosign = ImageManifest.build(
        EMPTY_DESCRIPTOR, [Descriptor.of("application/vnd.example.cosign", b"signature")]
    )
    store.manifest_put(ref.with_tag(f"sha256-{app.top.digest.hex}.sig"), cosign)
    dst = f"{registry_anon2.host}/{repo_name}"
    config = parse_config(
        _config(src, dst, "{allow: ['^v']}", "    referrers: true\n    digest-tags: true\n")
    )
    plan = sync_plan(client, config)
    kinds = sorted((i.kind, Reference.parse(i.target).tag or "") for i in plan.images)
    assert kinds == [
        ("digest-tag", f"sha256-{app.top.digest.hex}.sig"),
        ("referrer", ""),
        ("tag", "v1"),
        ("tag", "v2"),
    ]
    referrer = next(i for i in plan.images if i.kind == "referrer")
    assert referrer.digest == sig.digest and referrer.target == f"{dst}@{sig.digest}"
    assert sync_apply(client, config, plan, journal=False).ok
    target = client.at(dst)
    assert target.by_digest(sig.digest).manifest_head().digest == sig.digest
    assert [d.digest for d in target.by_digest(app.top.digest).referrers_list()] == [sig.digest]
    assert (
        target.with_tag(f"sha256-{app.top.digest.hex}.sig").manifest_head().digest == cosign.digest
    )
    assert {i.status for i in sync_plan(client, config).images} == {"up-to-date"}


def test_a_registry_with_prefixes(
    client: Client, registry_anon: RegistryServer, registry_anon2: RegistryServer, repo_name: str
) -> None:
    team = repo_name.replace("test/", "team-")
    store = client.store(Reference(registry_anon.host, "x"))
    for name in ("app", "db", "old-tool"):
        push(store, registry_anon.host, f"{team}/{name}", {"v1": image(f"{team}-{name}")})
    config = parse_config(
        f"sync:\n  - source: {registry_anon.host}\n    target: {registry_anon2.host}\n"
        f"    repositories: {{allow: ['^{team}/'], deny: ['/old-']}}\n"
        f"    strip-prefix: {team}\n    add-prefix: mirror/{team}\n"
    )
    plan = sync_plan(client, config)
    assert sorted(i.target for i in plan.images) == [
        f"{registry_anon2.host}/mirror/{team}/app:v1",
        f"{registry_anon2.host}/mirror/{team}/db:v1",
    ]
    # the shared layer moves once; the second repository gets it by a mount
    assert plan.summary.blobs == 2 * 2 + 1
    result = sync_apply(client, config, plan, journal=False)
    assert result.ok and result.mounted == 1 and result.bytes == plan.summary.bytes


def test_sources_that_cannot_be_read_are_errors_not_the_end(
    client: Client, registry_anon: RegistryServer, registry_anon2: RegistryServer, repo_name: str
) -> None:
    src = f"{registry_anon.host}/{repo_name}"
    push(client.store(Reference.parse(src)), registry_anon.host, repo_name, {"v1": image("ok")})
    config = parse_config(
        f"sync:\n  - {{source: {src}-absent, target: {registry_anon2.host}/{repo_name}-a}}\n"
        f"  - {{source: {src}, target: {registry_anon2.host}/{repo_name}}}\n"
        f"  - {{source: {src}:nope, target: {registry_anon2.host}/{repo_name}-b}}\n"
    )
    plan = sync_plan(client, config)
    assert [e.rule for e in plan.errors] == [0, 2]
    assert re.search("NAME_UNKNOWN|not found|unknown", plan.errors[0].error, re.I)
    assert [i.rule for i in plan.images] == [1]
