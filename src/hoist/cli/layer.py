"""``hoist layer``: one layer blob as a filesystem changeset."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from hoist.cli.common import format_option, get_client
from hoist.cli.image_insight import max_size_option, print_entries

if TYPE_CHECKING:
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest
    from hoist.model.reference import LayoutReference, Reference
    from hoist.store.base import Store

    Ref = Reference | LayoutReference


@click.group("layer")
def layer() -> None:
    """List the files of a layer."""


def _layer_descriptors(store: Store, ref: Ref) -> list[Descriptor]:
    """Every layer descriptor under ``ref`` (all platforms of an index)."""
    from hoist.model.manifest import ImageManifest, Index

    out: list[Descriptor] = []
    todo = [store.manifest_get(ref)]
    seen = set()
    while todo:
        manifest = todo.pop()
        if manifest.digest in seen:
            continue
        seen.add(manifest.digest)
        if isinstance(manifest, ImageManifest):
            out.extend(manifest.layers)
        elif isinstance(manifest, Index):
            todo.extend(store.manifest_get(ref.by_digest(d.digest)) for d in manifest.manifests)
    return out


def _find(descs: list[Descriptor], text: str) -> tuple[Digest, Descriptor | None]:
    from hoist.model.digest import Digest

    try:
        digest = Digest.parse(text)
    except ValueError:
        digest = None
    if digest is not None:
        return digest, next((d for d in descs if d.digest == digest), None)
    wanted = text if ":" in text else f"sha256:{text}"
    matches = {d.digest: d for d in descs if str(d.digest).startswith(wanted)}
    if len(matches) == 1:
        return next(iter(matches.items()))
    if not matches:
        raise click.BadParameter(f"no layer of the image starts with {text!r}")
    raise click.BadParameter(f"{text!r} matches {len(matches)} layers; give more of the digest")


@layer.command("ls")
@click.argument("reference")
@click.argument("digest")
@max_size_option
@format_option("text", "json")
@click.pass_context
def layer_ls(
    ctx: click.Context, reference: str, digest: str, max_size: int | None, fmt: str
) -> None:
    """List the entries of the layer DIGEST of REFERENCE, deletions (whiteouts) included.

    DIGEST may be a unique prefix of one of the image's layers (any platform). A blob that
    no manifest lists is read too, its compression recognised from its first bytes.
    """
    from hoist.layers import blob_listing

    client = get_client(ctx)
    ref = client.ref(reference)
    store = client.store(ref)
    found, desc = _find(_layer_descriptors(store, ref), digest)
    listing = blob_listing(
        store,
        ref,
        found,
        media_type=desc.media_type if desc else None,
        size=desc.size if desc else None,
        max_bytes=max_size,
    )
    print_entries(listing.entries, fmt)
