"""The web view of ``hoist serve``: pages checked against the manifests pushed, auth, no writes,
and the time a 250-tag repository page takes."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import urllib3
from click.testing import CliRunner
from support.registry_fixtures import htpasswd_line
from support.ui_registry import MANY, MANY_COUNT, Pushed, many_tags, populate, store_for

from hoist.model.config import parse_config
from hoist.model.digest import digest_of
from hoist.model.platform import Platform
from hoist.model.reference import Reference
from hoist.server.run import ServerThread
from hoist.server.storage import Storage
from hoist.server.ui.render import Pages, human_size, short_digest
from hoist.server.ui.sorting import paginate, semver_key, sort_tags
from hoist.server.ui.views import Views
from hoist.testing.sample import build_image, make_layer, write_image

HTTP = urllib3.PoolManager(retries=False, timeout=30.0)


# ---------------------------------------------------------------------- helpers


class _Tables(HTMLParser):
    """Every table of a page as rows of cell texts (th and td alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def table_with(html: str, caption_word: str) -> list[list[str]]:
    """The rows (header row dropped) of the first table whose header has ``caption_word``."""
    for table in tables(html):
        if table and any(caption_word in cell for cell in table[0]):
            return table[1:]
    raise AssertionError(f"no table with a {caption_word!r} column")


def text_of(html: str) -> str:
    """The page's text, tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def get(server: ServerThread, path: str, **headers: str) -> urllib3.BaseHTTPResponse:
    return HTTP.request("GET", server.url + path, headers=headers, redirect=False)


def page(server: ServerThread, path: str, **headers: str) -> str:
    r = get(server, path, **headers)
    assert r.status == 200, (path, r.status, r.data[:500])
    assert r.headers["Content-Type"].startswith("text/html")
    return r.data.decode()


def image_path(name: str, digest: object, child: object = None) -> str:
    return f"/ui/r/{name}/-/image/{digest}" + (f"?manifest={child}" if child else "")


def tree_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            out[os.path.join(dirpath, f)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Pushed]]:
    root = tmp_path_factory.mktemp("ui") / "registry"
    with ServerThread(root, ui=True, fsync=False) as server:
        yield server, populate(server.host)


# ---------------------------------------------------------------------- sorting


def test_semver_order_and_pages() -> None:
    tags = ["latest", "1.10.0", "1.2.0", "v1.2.0-rc.10", "1.2.0-rc.2", "1.2.0-alpha", "2", "main"]
    ordered = sorted(tags, key=semver_key)
    assert ordered[:6] == ["1.2.0-alpha", "1.2.0-rc.2", "v1.2.0-rc.10", "1.2.0", "1.10.0", "2"]
    assert ordered[6:] == ["latest", "main"]
    pairs = [(t, float(i)) for i, t in enumerate(tags)]
    newest_first = [t for t, _ in sort_tags(pairs, "semver", "desc")]
    assert newest_first[:2] == ["2", "1.10.0"] and newest_first[-2:] == ["latest", "main"]
    assert next(t for t, _ in sort_tags(pairs, "pushed", "desc")) == "main"
    items, where = paginate(list(range(120)), 3, 50)
    assert items == list(range(100, 120)) and (where.number, where.count) == (3, 3)
    assert (where.first, where.last, where.has_next, where.has_previous) == (101, 120, False, True)
    assert paginate([], 5, 50)[1].number == 1
    assert paginate(list(range(10)), 99, 5)[1].number == 2


# ---------------------------------------------------------------------- pages


def test_root_and_ui_redirect_to_the_repositories(served: tuple[ServerThread, Pushed]) -> None:
    server, _ = served
    for path in ("/", "/ui"):
        r = get(server, path)
        assert r.status == 302 and r.headers["Location"] == "/ui/"
    assert get(server, "/v2/").status == 200  # the registry is still the registry


def test_repositories_count_tags_and_storage_once(served: tuple[ServerThread, Pushed]) -> None:
    server, _ = served
    html = page(server, "/ui/")
    assert "<title>Repositories · hoist serve</title>" in html
    rows = {r[0]: r for r in table_with(html, "Repository") if r and "/" in r[0]}
    assert {name: row[1] for name, row in rows.items()} == {
        "demo/app": "3",
        "demo/base": "1",
        "many/tags": str(MANY_COUNT),
        "mirror/base": "1",
    }
    storage = Storage(server.root)
    on_disk = [storage.blob_path(d).stat().st_size for d in storage.all_blobs()]
    for name, row in rows.items():
        linked = set(storage.layer_links(name)) | set(storage.revisions(name))
        size = sum(storage.blob_path(d).stat().st_size for d in linked)
        assert row[2] == str(len(storage.revisions(name)))
        assert row[4] == human_size(size)
    # base and its mirror share every blob: the disk holds them once
    assert f"{human_size(sum(on_disk))} on disk in {len(on_disk)} blobs" in text_of(html)
    assert "saved by sharing" in html
    # last push: when the repository last changed, as a time element and "... ago"
    now = datetime.now(UTC)
    for name, row in rows.items():
        assert re.fullmatch(r"just now|\d+ (minute|hour|day)s? ago", row[5]), row
        newest = max(storage.stamp(name)) / 1e9
        stamp = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        assert f'<time datetime="{stamp}"' in html
        pushed = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
        assert timedelta(seconds=-5) < now - pushed < timedelta(hours=1)


def test_repository_lists_tags_with_digest_platforms_size_and_referrers(
    served: tuple[ServerThread, Pushed],
) -> None:
    server, pushed = served
    html = page(server, "/ui/r/demo/app")
    rows = {r[0].split()[0]: r for r in table_with(html, "Digest")}
    app = pushed.app
    config = parse_config(pushed.blobs[str(app.config.digest)])
    size = app.size + sum(d.size for d in app.referenced())
    for tag in ("v1", "stable"):
        row = rows[tag]
        assert row[1] == short_digest(app.digest)
        assert row[2] == "image" and row[3] == "linux/amd64"
        assert row[4] == human_size(size)
        assert row[5] == "2024-01-01 00:00:00 UTC" == config.created.replace("T", " ")[:-1] + " UTC"
        assert row[7] == "1"  # the SBOM
    cosign = next(r for t, r in rows.items() if t.startswith("sha256-"))
    assert "digest tag" in cosign[0] and cosign[1] == short_digest(pushed.cosign.digest)
    # referrers: the SBOM under the app, the signature under the SBOM, the .sig tag
    section = html[html.index('id="referrers-h"') :]
    sbom, sig = (
        section.index(pushed.sbom.digest.hex[:12]),
        section.index(pushed.signature.digest.hex[:12]),
    )
    assert sbom < sig and "application/spdx+json" in section
    assert "application/vnd.example.signature" in section and "digest tag" in section
    assert section.count(f'href="{image_path("demo/app", pushed.signature.digest)}"') == 1


def test_tags_sort_by_name_semver_and_push_time_in_pages(
    served: tuple[ServerThread, Pushed],
) -> None:
    server, pushed = served

    def tags_on(query: str) -> tuple[list[str], str]:
        html = page(server, f"/ui/r/{MANY}?{query}")
        return [r[0] for r in table_with(html, "Digest")], html

    first, html = tags_on("")
    assert len(first) == 50 and first == sorted(many_tags())[:50]
    assert "Page 1 of 5" in html and 'rel="next"' in html
    second, html = tags_on("page=2")
    assert second == sorted(many_tags())[50:100] and 'rel="prev"' in html
    last, html = tags_on("page=99")
    assert "Page 5 of 5" in html and last == sorted(many_tags())[200:]
    everything, _ = tags_on("sort=semver&order=asc&n=250")
    assert len(everything) == MANY_COUNT
    pos = everything.index
    assert pos("0.0.0") == 0 and pos("0.4.9") < pos("v0.10.0") < pos("1.0.0")
    assert pos("5.0.0-rc.1") < pos("5.0.0-rc.2") < pos("5.0.0")
    assert everything[-2:] == ["latest", "main"]
    newest, _ = tags_on("sort=pushed")
    assert newest[0] == "5.0.0" and newest[1] == "v0.10.0"  # the last pushed first
    # each row shows the digest of the manifest its tag was pushed as
    html = page(server, f"/ui/r/{MANY}?sort=semver&order=desc&n=25")
    for row in table_with(html, "Digest"):
        assert row[1] == short_digest(pushed.many[row[0]].digest)
    assert 'aria-sort="descending"' in html


def test_index_page_shows_platforms_then_the_chosen_manifest_and_config(
    served: tuple[ServerThread, Pushed],
) -> None:
    server, pushed = served
    html = page(server, image_path("demo/base", pushed.base.digest))
    assert "<title>index demo/base:v1 · hoist serve</title>" in html
    rows = table_with(html, "Platform")
    assert [(r[0].split()[0], r[1]) for r in rows] == [
        (str(d.platform), short_digest(d.digest)) for d in pushed.base.manifests
    ]
    amd64, arm64 = pushed.base_children
    assert "shown below" in rows[0][0] and amd64.digest.hex[:12] in html
    config = parse_config(pushed.blobs[str(amd64.config.digest)])
    assert str(config.digest) in html and '["/bin/sh"]' in unescape(html)
    assert "PATH" in text_of(html) and "/usr/local/bin:/usr/bin:/bin" in html
    html = page(server, image_path("demo/base", pushed.base.digest, arm64.digest))
    rows = table_with(html, "Platform")
    assert "shown below" in rows[1][0] and "shown below" not in rows[0][0]
    assert "linux/arm64/v8" in text_of(html) and arm64.layers[0].digest.hex[:12] in html
    # the platform manifest alone has a page too
    html = page(server, image_path("demo/base", arm64.digest))
    assert "<title>image demo/base@" in html and "Platform manifest" not in html


def test_image_page_puts_layers_beside_the_steps_that_made_them(
    served: tuple[ServerThread, Pushed],
) -> None:
    server, pushed = served
    app = pushed.app
    config = parse_config(pushed.blobs[str(app.config.digest)])
    html = page(server, image_path("demo/app", app.digest))
    assert "<title>image demo/app:stable · hoist serve</title>" in html
    rows = table_with(html, "Created by")
    assert [r[1] for r in rows] == [h.created_by for h in config.history]
    layer = 0
    for row, step in zip(rows, config.history, strict=True):
        if step.empty_layer:
            assert "config only" in row[3], row
            continue
        desc = app.layers[layer]
        assert row[2] == str(layer)
        assert row[3] == short_digest(desc.digest)  # the manifest's blob digest
        assert row[4] == short_digest(config.diff_ids[layer])  # the config's diff_id
        assert row[5] == human_size(desc.size)
        layer += 1
    assert layer == len(app.layers) == 3
    # the base layer is shared with the base (and its mirror); the app's own layers are not
    assert "demo/base:v1 (linux/amd64)" in rows[0][6] and "mirror/base:v1" in rows[0][6]
    assert all("no other image" in r[6] for r in rows if r[2] in ("1", "2"))
    text = text_of(html)
    assert '["python3", "/app/server.py"]' in unescape(html) and "not set (root)" in text
    assert "APP_PORT 8080" in text and "maintainer hoist" in text and "8080/tcp" in text
    # referrers as a tree: the SBOM, the signature inside it, the cosign tag
    tree = html[html.index('id="referrers-h"') : html.index('id="picture-h"')]
    assert tree.index(pushed.sbom.digest.hex[:12]) < tree.index(pushed.signature.digest.hex[:12])
    assert tree.count('<ul class="tree">') >= 2 and "digest tag" in tree
    # the raw JSON of the manifest and config, and commands to copy
    for d in (app.digest, app.config.digest):
        assert f'href="/ui/r/demo/app/-/json/{d}"' in html
    assert f'href="/v2/demo/app/manifests/{app.digest}"' in html
    assert f'href="/v2/demo/app/blobs/{app.config.digest}"' in html
    assert f"hoist image copy {server.host}/demo/app@{app.digest} ocidir://./app:stable" in html
    assert f"docker pull {server.host}/demo/app@{app.digest}" in html
    assert f'src="/ui/r/demo/app/-/tree/{app.digest}.svg"' in html


def test_a_referrer_page_links_back_to_its_subject(served: tuple[ServerThread, Pushed]) -> None:
    server, pushed = served
    html = page(server, image_path("demo/app", pushed.signature.digest))
    assert "<title>artifact demo/app@" in html
    assert f'href="{image_path("demo/app", pushed.sbom.digest)}"' in html
    assert "a referrer of" in html and "application/vnd.example.signature" in html
    rows = table_with(html, "Media type")
    assert rows[0][1] == short_digest(pushed.signature.layers[0].digest)


def test_layer_page_shows_both_digests_files_and_sharing_images(
    served: tuple[ServerThread, Pushed],
) -> None:
    server, pushed = served
    app = pushed.app
    config = parse_config(pushed.blobs[str(app.config.digest)])
    desc = app.layers[0]
    html = page(server, f"/ui/r/demo/app/-/layer/{desc.digest}?image={app.digest}")
    assert f"<title>layer {short_digest(desc.digest)} of demo/app · hoist serve</title>" in html
    tar = gzip.decompress(pushed.blobs[str(desc.digest)])
    assert digest_of(tar) == config.diff_ids[0]
    assert str(desc.digest) in html and html.count(str(config.diff_ids[0])) == 2
    assert "matches the config" in html and "ADD rootfs-amd64.tar /" in html
    files = [r[1] for r in table_with(html, "Path")]
    assert files == ["/bin", "/bin/hello", "/etc", "/etc/os-release"]
    assert "demo/base:v1" in html and "mirror/base:v1" in html
    assert f"{human_size(desc.size)} compressed ({desc.size} bytes)" in html
    assert f"{human_size(len(tar))} as a tar (gzip)" in html


def test_json_pages_link_every_digest_by_what_it_is(served: tuple[ServerThread, Pushed]) -> None:
    server, pushed = served
    app = pushed.app
    html = page(server, f"/ui/r/demo/app/-/json/{app.digest}")
    assert f'<a href="/ui/r/demo/app/-/json/{app.config.digest}">{app.config.digest}</a>' in html
    for d in app.layers:
        assert f'<a href="/ui/r/demo/app/-/layer/{d.digest}?image={app.digest}">' in html
    # the JSON shown is the stored manifest's, re-indented
    shown = re.search(r'<pre class="json"><code>(.*?)</code></pre>', html, re.S)
    assert shown is not None
    assert json.loads(re.sub(r"<[^>]+>", "", shown[1]).replace("&#34;", '"')) == app.json()
    html = page(server, f"/ui/r/demo/app/-/json/{app.config.digest}")
    assert "diff_ids" in html and "Blob" in html
    html = page(server, f"/ui/r/demo/base/-/json/{pushed.base.digest}")
    for child in pushed.base.manifests:
        assert f'<a href="{image_path("demo/base", child.digest)}">{child.digest}</a>' in html


def test_the_picture_is_image_tree_as_svg(served: tuple[ServerThread, Pushed]) -> None:
    server, pushed = served
    if not __import__("shutil").which("dot"):
        pytest.skip("Graphviz's dot is not installed")
    r = get(server, f"/ui/r/demo/app/-/tree/{pushed.app.digest}.svg")
    assert r.status == 200 and r.headers["Content-Type"] == "image/svg+xml"
    svg = r.data.decode()
    assert "<svg" in svg and short_digest(pushed.app.digest) in svg
    assert short_digest(pushed.app.layers[0].digest) in svg and "shared by" in svg
    assert f"{server.host}/demo/app:stable" in svg and "demo/base" in svg
    assert short_digest(pushed.sbom.digest) in svg  # referrers drawn too


def test_no_dot_no_picture(served: tuple[ServerThread, Pushed], monkeypatch: Any) -> None:
    server, pushed = served
    monkeypatch.setenv("PATH", "/nonexistent")
    views = Views(Storage(server.root))
    image = views.image(server.host, "demo/app", pushed.app.digest)
    assert not image.picture
    html = Pages().render("image.html", page=image, **_ctx(server))
    assert "No picture" in html and "<img" not in html


def _ctx(server: ServerThread) -> dict[str, Any]:
    return {
        "user": None,
        "auth": False,
        "anonymous": False,
        "read_only": False,
        "host": server.host,
    }


def test_pages_escape_what_was_pushed(served: tuple[ServerThread, Pushed]) -> None:
    server, _ = served
    store = store_for(server.host)
    layer = make_layer({"x": b"x"})
    hostile = "<script>alert(1)</script>"
    manifest, blobs = build_image(
        [layer],
        [],
        platform=Platform("linux", "amd64"),
        config={"Labels": {"evil": hostile}, "Env": [f"X={hostile}"]},
        annotations={"org.example": hostile},
    )
    from hoist.testing.sample import SampleImage

    write_image(
        store, Reference(server.host, "demo/hostile", "v1"), SampleImage(blobs, [], manifest)
    )
    html = page(server, image_path("demo/hostile", manifest.digest))
    assert hostile not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    r = get(server, image_path("demo/hostile", manifest.digest))
    assert "script-src" not in r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]


def test_unknown_things_are_404_pages(served: tuple[ServerThread, Pushed]) -> None:
    server, pushed = served
    for path in (
        "/ui/r/nope",
        "/ui/r/demo/app/-/image/sha256:" + "0" * 64,
        "/ui/r/demo/app/-/image/notadigest",
        "/ui/r/demo/app/-/layer/sha256:" + "1" * 64,
        f"/ui/r/demo/base/-/layer/{pushed.sbom.layers[0].digest}",  # not linked there
        "/ui/r/demo/app/-/nothing/x",
        "/ui/r/Not_A_Name",
        "/ui/nothing",
    ):
        r = get(server, path)
        assert r.status == 404, path
        assert r.headers["Content-Type"].startswith("text/html"), path
        assert "<h1>Not found</h1>" in r.data.decode(), path
    r = get(server, "/ui/r/demo/app/-/tag/v1")
    assert r.status == 302 and r.headers["Location"] == image_path("demo/app", pushed.app.digest)


def test_the_view_never_writes(served: tuple[ServerThread, Pushed]) -> None:
    server, pushed = served
    before = tree_snapshot(Path(server.root))
    for path in (
        "/ui/",
        "/ui/r/demo/app",
        image_path("demo/app", pushed.app.digest),
        image_path("demo/base", pushed.base.digest),
        f"/ui/r/demo/app/-/layer/{pushed.app.layers[1].digest}?image={pushed.app.digest}",
        f"/ui/r/demo/app/-/json/{pushed.app.digest}",
        f"/ui/r/demo/app/-/tree/{pushed.app.digest}.svg",
    ):
        assert get(server, path).status == 200
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            r = HTTP.request(method, server.url + path, body=b"x", redirect=False)
            assert r.status == 405, (method, path)
    assert tree_snapshot(Path(server.root)) == before


# ---------------------------------------------------------------------- auth and switches


def test_htpasswd_users_log_in_and_anonymous_read_is_honoured(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(htpasswd_line("alice", "s3cret"))
    basic = {"Authorization": "Basic " + base64.b64encode(b"alice:s3cret").decode()}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"alice:nope").decode()}
    with ServerThread(tmp_path / "reg", ui=True, fsync=False, htpasswd=htpasswd) as server:
        populate(server.host, many=False, store=store_for(server.host, "alice", "s3cret"))
        for path in ("/ui/", "/ui/r/demo/app", "/"):
            r = get(server, path)
            assert r.status == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="hoist"'
            assert r.headers["Content-Type"].startswith("text/html")
            assert "Login needed" in r.data.decode()
        assert get(server, "/ui/", **wrong).status == 401
        html = page(server, "/ui/r/demo/app", **basic)
        assert "signed in as <strong>alice</strong>" in html
        assert get(server, "/ui/static/hoist.css").status == 401
    with ServerThread(
        tmp_path / "reg", ui=True, fsync=False, htpasswd=htpasswd, anonymous_read=True
    ) as server:
        html = page(server, "/ui/r/demo/app")
        assert "anonymous (read only)" in html and "stable" in html
        assert get(server, "/ui/", **wrong).status == 401  # wrong credentials stay wrong


def test_the_view_is_off_unless_asked(tmp_path: Path) -> None:
    with ServerThread(tmp_path / "reg", fsync=False) as server:
        r = get(server, "/ui/")
        assert r.status == 404 and r.headers["Content-Type"].startswith("application/json")
        assert get(server, "/").status == 404
    from hoist.cli.serve import serve

    help_text = CliRunner().invoke(serve, ["--help"]).output
    assert "--ui / --no-ui" in help_text


# ---------------------------------------------------------------------- speed


def _median_ms(fn: Any, runs: int = 15) -> tuple[float, float]:
    """Median wall-clock and CPU (this thread's) milliseconds of ``runs`` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def _best(fn: Any, rounds: int = 3) -> tuple[float, float]:
    results = [_median_ms(fn) for _ in range(rounds)]
    return min(r[0] for r in results), min(r[1] for r in results)


def test_a_250_tag_repository_page_does_bounded_work(
    served: tuple[ServerThread, Pushed], record_property: Any
) -> None:
    """In-process, storage to HTML: the tag page of a 250-tag repository (the default page of
    50 rows from cold caches every time: no tag, manifest or config read before), and all 250
    rows on one page (cold, and warm: manifests and configs cached as a running server has
    them). The machine is shared with other work: the best of three medians of 15; when other
    processes keep every core busy, the page's own CPU time stands for it."""
    server, _ = served
    views = Views(Storage(server.root))
    pages = Pages()
    ctx = _ctx(server)

    def render(cold: bool, per_page: int) -> None:
        if cold:
            views.clear()
        html = pages.render(
            "repository.html", page=views.repository(MANY, per_page=per_page), **ctx
        )
        assert html.count('class="tag"') >= per_page

    render(True, 50)  # templates compiled, files in the page cache
    cold, cold_cpu = _best(lambda: render(True, 50))
    cold_all, cold_all_cpu = _median_ms(lambda: render(True, 250))
    warm_all, warm_all_cpu = _best(lambda: render(False, 250))
    busy = os.getloadavg()[0] > (os.cpu_count() or 1)
    measured = {
        "cold_50_ms": cold,
        "cold_50_cpu_ms": cold_cpu,
        "cold_250_ms": cold_all,
        "cold_250_cpu_ms": cold_all_cpu,
        "warm_250_ms": warm_all,
        "warm_250_cpu_ms": warm_all_cpu,
    }
    for key, value in measured.items():
        record_property(key, round(value, 2))
    print(
        "\n250-tag repository page, median ms (wall/cpu): "
        f"50 rows cold {cold:.1f}/{cold_cpu:.1f}; all 250 rows cold {cold_all:.1f}/"
        f"{cold_all_cpu:.1f}, warm {warm_all:.1f}/{warm_all_cpu:.1f}; "
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    del busy  # time is measured and reported here, asserted nowhere: benchmarks judge speed

    # What is asserted is bounded work: a page reads what its rows show, not the repository.
    calls: list[str] = []
    storage = Storage(server.root)
    for name in dir(storage):
        method = getattr(storage, name)
        if name.startswith("_") or not callable(method):
            continue

        def counted(*args: Any, _name: str = name, _method: Any = method, **kw: Any) -> Any:
            calls.append(_name)
            return _method(*args, **kw)

        setattr(storage, name, counted)
    counting = Views(storage)
    work = {}
    for per_page in (10, 50):
        counting.clear()
        calls.clear()
        html = pages.render(
            "repository.html", page=counting.repository(MANY, per_page=per_page), **ctx
        )
        assert html.count('class="tag"') >= per_page
        work[per_page] = len(calls)
    record_property("storage_calls", work)
    assert work[10] < 250 and work[50] < 5 * 250 // 2
    assert work[50] > work[10]  # the rows shown cost the work, not the 250 tags


def test_manifest_digests_on_the_page_are_the_stored_ones(
    served: tuple[ServerThread, Pushed],
) -> None:
    """What the registry API answers for each tag is what the repository page shows."""
    server, _ = served
    html = page(server, f"/ui/r/{MANY}?n=250")
    shown = {r[0]: r[1] for r in table_with(html, "Digest")}
    for tag in many_tags()[::25]:
        r = HTTP.request(
            "GET",
            f"{server.url}/v2/{MANY}/manifests/{tag}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert shown[tag] == short_digest(r.headers["Docker-Content-Digest"])


# ---------------------------------------------------------------------- the commands


def _line_with(stream: Any, pattern: str, timeout: float = 120.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


def test_hoist_serve_says_where_the_view_is(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    serve = [sys.executable, "-m", "hoist", "serve", "--addr", "127.0.0.1:0", "--root"]
    proc = subprocess.Popen(
        [*serve, str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _line_with(proc.stderr, r"listening on .*web view at (http://\S+/ui/)\)")[1]
        r = HTTP.request("GET", url)
        assert r.status == 200 and "Nothing was pushed here yet" in r.data.decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    proc = subprocess.Popen(
        [*serve, str(tmp_path), "--no-ui"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        match = _line_with(proc.stderr, r"listening on (http://\S+) (.*)")
        url = match[1]
        assert "web view" not in match[2]
        assert HTTP.request("GET", url + "/ui/").status == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_the_demo_prints_the_view_and_keeps_it_until_ctrl_c(stop: str) -> None:
    import signal
    import subprocess
    import sys

    # faulthandler: a demo that does not stop is aborted below and prints where each thread was
    env = {**os.environ, "COLUMNS": "200", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hoist", "demo", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # as a background job of a shell without job control starts it (CI did): SIGINT
        # ignored, so Python alone would never turn it into KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        url = _line_with(proc.stdout, r"web view: (http://\S+/ui/)")[1]
        html = HTTP.request("GET", url).data.decode()
        assert "demo/app" in html and "demo/base" in html and "mirror/base" in html
        html = HTTP.request("GET", url + "r/demo/app").data.decode()
        assert "stable" in html and "v1" in html
    finally:
        proc.send_signal(getattr(signal, stop))
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"the demo did not stop on Ctrl-C within 60 s:\n{err}") from None
    assert proc.returncode == 0, err
    assert "Stopped the registry and removed its files." in out
