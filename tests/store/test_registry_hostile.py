"""The registry client against a hostile registry (tests/support/hostile_registry.py).

Each case is named after its attack and must end in one clean HoistError, with what the
client reads into memory bounded (``reg.sent`` counts what an endless body got out).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.hostile_registry import Attacks, HostileRegistry

from hoist.copy import image_copy
from hoist.errors import (
    AuthError,
    DigestMismatch,
    HoistError,
    InvalidInput,
    InvalidManifest,
    ManifestNotFound,
)
from hoist.location import Location
from hoist.model.digest import digest_of
from hoist.model.reference import LayoutReference
from hoist.store.ocidir import OCIDirStore
from hoist.store.registry import tags as tags_module

MiB = 1 << 20
LIST_CAP = 64 * MiB  # hoist.store.registry.tags.MAX_LIST_BYTES
REPLY_CAP = 4 * MiB  # hoist.transport.response.MAX_BODY
ERROR_CAP = 64 << 10  # hoist.transport.response.MAX_ERROR_BODY
SLACK = 8 * MiB
"""Bytes an endless body may get out past a cap: socket buffers on both sides."""

DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_NUMBER = b'{"errors": [{"code": "DENIED", "detail": ' + b"9" * 5000 + b"}]}"
HOSTILE_JSON = {
    "deeply-nested": DEEP,
    "5000-digit-number": HUGE_NUMBER,
    "not-utf8": b'{"tags": ["\xff\xfe"]}',
    "nan": b'{"tags": NaN}',
}


def _layout(tmp_path: Path) -> Location:
    ref = LayoutReference("ocidir", str(tmp_path / "oci"), "v1")
    return Location(OCIDirStore(fsync=False), ref)


# --------------------------------------------------------------------------- endless bodies


def test_endless_tags_body_is_capped() -> None:
    with HostileRegistry(Attacks(endless={"tags"})) as reg:
        with pytest.raises(InvalidInput, match=r"tags list from .* is over the 64 MiB limit"):
            reg.store.tag_list(reg.ref())
        assert reg.sent["tags"] <= LIST_CAP + SLACK


def test_endless_catalog_page_is_capped() -> None:
    with HostileRegistry(Attacks(endless={"catalog"})) as reg:
        with pytest.raises(InvalidInput, match=r"repositories list .* over the 64 MiB limit"):
            reg.store.repo_list(reg.ref())
        assert reg.sent["catalog"] <= LIST_CAP + SLACK


def test_endless_tag_pages_are_capped_in_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 1 MiB whose Link never ends stop at the byte budget of all pages together,
    long before the page count limit (lowered here so the old code ends too)."""
    monkeypatch.setattr(tags_module, "MAX_PAGES", 200)
    with HostileRegistry(Attacks(endless_pages=MiB)) as reg:
        with pytest.raises(InvalidInput, match="over the 64 MiB limit in all"):
            reg.store.tag_list(reg.ref())
        assert len(reg.server.requests()) <= 70


def test_endless_referrers_list_is_capped() -> None:
    with HostileRegistry(Attacks(endless={"referrers"})) as reg:
        with pytest.raises(InvalidManifest, match=r"referrers list .* over the 4 MiB limit"):
            reg.store.referrers_list(reg.ref().by_digest(reg.image.digest))
        assert reg.sent["referrers"] <= 4 * MiB + SLACK


def test_endless_upload_reply_is_capped() -> None:
    with HostileRegistry(Attacks(endless={"upload"})) as reg:
        with pytest.raises(InvalidInput, match=r"reply from .* over the 4 MiB limit"):
            reg.store.blob_put(reg.ref(), b"data", digest=digest_of(b"data"), size=4)
        assert reg.sent["upload"] <= REPLY_CAP + SLACK


def test_endless_error_body_is_bounded() -> None:
    with HostileRegistry(Attacks(endless={"error"})) as reg:
        with pytest.raises(ManifestNotFound):
            reg.store.manifest_get(reg.ref("absent"))
        assert reg.sent["error"] <= ERROR_CAP + SLACK


def test_endless_manifest_body_is_capped() -> None:
    with HostileRegistry(Attacks(endless={"manifest"})) as reg:
        with pytest.raises(InvalidManifest, match="over the 4 MiB limit"):
            reg.store.manifest_get(reg.ref())
        assert reg.sent["manifest"] <= 4 * MiB + SLACK


# --------------------------------------------------------------------------- hostile JSON


@pytest.mark.parametrize("attack", sorted(HOSTILE_JSON))
def test_hostile_json_error_body_is_a_clean_error(attack: str) -> None:
    with HostileRegistry(Attacks(bodies={"error": HOSTILE_JSON[attack]})) as reg:
        with pytest.raises(ManifestNotFound):
            reg.store.manifest_get(reg.ref("absent"))
        with pytest.raises(HoistError):
            reg.store.blob_put(reg.ref(), b"data", digest=digest_of(b"other"), size=4)


@pytest.mark.parametrize("attack", sorted(HOSTILE_JSON))
@pytest.mark.parametrize("kind", ["tags", "catalog"])
def test_hostile_json_list_is_invalid_input(kind: str, attack: str) -> None:
    with (
        HostileRegistry(Attacks(bodies={kind: HOSTILE_JSON[attack]})) as reg,
        pytest.raises(InvalidInput, match="list from"),
    ):
        if kind == "tags":
            reg.store.tag_list(reg.ref())
        else:
            reg.store.repo_list(reg.ref())


@pytest.mark.parametrize(
    "body",
    [b'{"tags": "v1"}', b'{"tags": [1, 2]}', b'{"tags": [{"name": "v1"}]}', b"[]"],
    ids=["string", "numbers", "objects", "array"],
)
def test_tags_list_of_the_wrong_shape_is_invalid_input(body: bytes) -> None:
    with HostileRegistry(Attacks(bodies={"tags": body})) as reg, pytest.raises(InvalidInput):
        reg.store.tag_list(reg.ref())


@pytest.mark.parametrize("attack", ["deeply-nested", "5000-digit-number"])
def test_hostile_json_referrers_list_is_invalid_manifest(attack: str) -> None:
    with (
        HostileRegistry(Attacks(bodies={"referrers": HOSTILE_JSON[attack]})) as reg,
        pytest.raises(InvalidManifest),
    ):
        reg.store.referrers_list(reg.ref().by_digest(reg.image.digest))


# --------------------------------------------------------------------------- lies


def test_unauthorized_for_ever_is_one_auth_error() -> None:
    with HostileRegistry(Attacks(unauthorized=True)) as reg:
        with pytest.raises(AuthError):
            reg.store.manifest_get(reg.ref())
        assert len(reg.server.seen) <= 6  # ping, a token, a try, a wider token, one more try


def test_lying_manifest_digest_is_refused(tmp_path: Path) -> None:
    with HostileRegistry(Attacks(manifest_digest_lie=True)) as reg, pytest.raises(DigestMismatch):
        image_copy(reg.at(), _layout(tmp_path))
    assert not (tmp_path / "oci").exists()  # the manifest is checked before anything is written


@pytest.mark.parametrize(
    "attacks", [Attacks(blob_digest_lie=True), Attacks(blob_size_lie=100)], ids=["digest", "size"]
)
def test_lying_blob_is_refused_and_never_tagged(attacks: Attacks, tmp_path: Path) -> None:
    dst = _layout(tmp_path)
    with HostileRegistry(attacks) as reg, pytest.raises(DigestMismatch):
        image_copy(reg.at(), dst)
    index = tmp_path / "oci" / "index.json"
    assert not index.exists() or json.loads(index.read_bytes())["manifests"] == []
