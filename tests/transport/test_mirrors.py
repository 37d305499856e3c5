"""Mirrors: GETs of manifests and blobs try them first, checked, and fall back to the registry;
writes and existence checks go to the registry itself."""

from __future__ import annotations

from contextlib import closing

import pytest
from support.fake_http import FakeServer, Request
from support.registry_fixtures import RegistryServer

from hoist.config.settings import Mirror, RegistrySettings
from hoist.errors import DigestMismatch, ManifestNotFound
from hoist.model.descriptor import Descriptor
from hoist.model.manifest import ImageManifest
from hoist.model.platform import Platform
from hoist.model.reference import Reference
from hoist.store.registry import RegistryStore
from hoist.testing.sample import base_image, write_image

SAMPLE = base_image([Platform("linux", "amd64")])


def _store(host: str, mirrors: list[Mirror], extra: dict[str, RegistrySettings]) -> RegistryStore:
    plain = RegistrySettings(tls="disabled")
    settings = {host: RegistrySettings(tls="disabled", mirrors=tuple(mirrors)), **extra}
    return RegistryStore(
        credentials=None,
        settings=lambda h: settings.get(h, plain),
        environ={},
        backoff=0.01,
    )


def test_reads_come_from_the_mirror_and_fall_back(
    registry_anon: RegistryServer, registry_anon2: RegistryServer, repo_name: str
) -> None:
    mirror, origin = registry_anon, registry_anon2
    with closing(_store(mirror.host, [], {})) as direct:
        pushed = write_image(direct, Reference(mirror.host, f"cache/{repo_name}", "v1"), SAMPLE)
    before = len(mirror.log_path.read_text().splitlines())
    with closing(_store(origin.host, [Mirror(f"{mirror.host}/cache", 5)], {})) as store:
        ref = Reference(origin.host, repo_name, "v1")
        got = store.manifest_get(ref)  # the origin does not have it: the mirror does
        assert got.digest == pushed.digest
        child = store.manifest_get(ref.by_digest(SAMPLE.children[0].digest))
        assert isinstance(child, ImageManifest)
        layer = child.layers[0]
        with store.blob_get(ref, layer.digest, layer.size) as blob:
            assert blob.read() == SAMPLE.blobs[layer.digest]
        # writes go to the registry itself, never to the mirror
        write_image(store, Reference(origin.host, repo_name, "pushed"), SAMPLE)
        # what the mirror lacks comes from the registry
        assert (
            store.manifest_get(Reference(origin.host, repo_name, "pushed")).digest == pushed.digest
        )
        with pytest.raises(ManifestNotFound):
            store.manifest_head(Reference(origin.host, repo_name, "v1"))  # HEAD: the origin
    with closing(_store(origin.host, [], {})) as direct:
        assert direct.tag_list(Reference(origin.host, repo_name)) == ["pushed"]
    log = "\n".join(mirror.log_path.read_text().splitlines()[before:])
    assert f"/v2/cache/{repo_name}/manifests/v1" in log
    assert f'"PUT /v2/cache/{repo_name}' not in log


def test_a_mirror_that_lies_is_not_used(registry_anon: RegistryServer, repo_name: str) -> None:
    origin = registry_anon
    with closing(_store(origin.host, [], {})) as direct:
        pushed = write_image(direct, Reference(origin.host, repo_name, "v1"), SAMPLE)

    def liar(r: Request) -> None:
        r.reply(200, b'{"schemaVersion": 2, "lies": true}', {"Content-Type": "application/json"})

    fake = FakeServer(liar)
    try:
        mirrors = [Mirror("127.0.0.1:1", 9), Mirror(fake.host, 1)]  # a dead one, then a liar
        with closing(_store(origin.host, mirrors, {})) as store:
            ref = Reference(origin.host, repo_name).by_digest(pushed.digest)
            assert store.manifest_get(ref).digest == pushed.digest
        assert [s.path for s in fake.requests()] == [f"/v2/{repo_name}/manifests/{pushed.digest}"]
    finally:
        fake.close()


def _pushed_layer(origin: RegistryServer, repo_name: str) -> Descriptor:
    """Push SAMPLE to ``origin`` directly; the descriptor of its first layer."""
    with closing(_store(origin.host, [], {})) as direct:
        write_image(direct, Reference(origin.host, repo_name, "v1"), SAMPLE)
    image = SAMPLE.children[0]
    assert isinstance(image, ImageManifest)
    return image.layers[0]


def test_a_mirror_serving_a_blob_of_another_length_is_not_used(
    registry_anon: RegistryServer, repo_name: str
) -> None:
    origin = registry_anon
    layer = _pushed_layer(origin, repo_name)

    def short(r: Request) -> None:
        r.reply(200, b"not the blob", {"Content-Type": "application/octet-stream"})

    fake = FakeServer(short)
    try:
        with closing(_store(origin.host, [Mirror(fake.host, 1)], {})) as store:
            ref = Reference(origin.host, repo_name)
            with store.blob_get(ref, layer.digest, layer.size) as reader:
                assert reader.read() == SAMPLE.blobs[layer.digest]
        assert [s.path for s in fake.requests()] == [f"/v2/{repo_name}/blobs/{layer.digest}"]
    finally:
        fake.close()


def test_a_mirror_serving_other_bytes_of_the_right_length_fails_the_read(
    registry_anon: RegistryServer, repo_name: str
) -> None:
    """Bytes are checked as they stream, so a blob can only be found wrong at its end: the
    read fails with DigestMismatch (nothing is kept), it does not silently fall back."""
    origin = registry_anon
    layer = _pushed_layer(origin, repo_name)

    def forged(r: Request) -> None:
        r.reply(200, b"x" * layer.size, {"Content-Type": "application/octet-stream"})

    fake = FakeServer(forged)
    try:
        with (
            closing(_store(origin.host, [Mirror(fake.host, 1)], {})) as store,
            pytest.raises(DigestMismatch),
            store.blob_get(Reference(origin.host, repo_name), layer.digest, layer.size) as reader,
        ):
            reader.read()
    finally:
        fake.close()


def test_mirror_order_and_settings() -> None:
    settings = RegistrySettings(mirrors=(Mirror("a.example"), Mirror("B.example/x/", 10)))
    assert [m.location for m in settings.mirrors] == ["b.example/x", "a.example"]
    assert settings.mirrors[0].host == "b.example" and settings.mirrors[0].prefix == "x"
    assert settings.with_mirror(Mirror("a.example", 20)).mirrors[0] == Mirror("a.example", 20)
    assert settings.without_mirror("a.example").mirrors == (Mirror("b.example/x", 10),)
