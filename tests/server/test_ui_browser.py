"""The web view in a real browser: Debian's chromium, headless, driven by Playwright.

From the repository list to a tag, an image, a layer and a referrer by clicking, each page
checked against the manifests pushed; basic accessibility (titles, landmarks, labels, alt
texts, captions) and keyboard navigation (Tab, Enter). JavaScript is off: the pages need none.
A screenshot of each page goes to ``$HOIST_SCREENSHOTS`` (default ``tests-output/screenshots``,
kept by the run, ignored by git).

Needs ``/usr/bin/chromium`` (``apt-get install chromium``; scripts/test.sh installs it) and the
``playwright`` package; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.registry_fixtures import require_tool
from support.ui_registry import Pushed, populate

from hoist.model.config import parse_config
from hoist.server.run import ServerThread
from hoist.server.ui.render import short_digest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


def screenshots() -> Path:
    where = Path(os.environ.get("HOIST_SCREENSHOTS") or ROOT / "tests-output" / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        require_tool("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_tool("playwright (pip)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Pushed]]:
    root = tmp_path_factory.mktemp("ui-browser") / "registry"
    with ServerThread(root, ui=True, fsync=False) as server:
        yield server, populate(server.host, many=False)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(screenshots() / f"{name}.png"), full_page=True)


A11Y = """() => {
  const problems = [];
  const all = (selector) => [...document.querySelectorAll(selector)];
  const text = (el) => (el.getAttribute('aria-label') || el.textContent || '').trim();
  const labelled = (c) => c.id && document.querySelector('label[for="' + c.id + '"]');
  if (!document.title.trim()) problems.push('no title');
  if (!document.documentElement.lang) problems.push('no lang');
  if (all('h1').length !== 1) problems.push('not one h1');
  if (!document.querySelector('main')) problems.push('no main');
  all('img').filter((i) => !i.alt.trim()).forEach(() => problems.push('img without alt'));
  all('a').filter((a) => !text(a) && !a.querySelector('img[alt]'))
    .forEach((a) => problems.push('empty link ' + a.href));
  all('select, input, textarea').filter((c) => !labelled(c))
    .forEach(() => problems.push('control without label'));
  all('table').filter((t) => !t.querySelector('caption'))
    .forEach(() => problems.push('table without caption'));
  all('nav').filter((n) => !n.getAttribute('aria-label'))
    .forEach(() => problems.push('nav without label'));
  const ids = all('[id]').map((e) => e.id);
  if (new Set(ids).size !== ids.length) problems.push('duplicate ids');
  return problems;
}"""


def accessible(page: Any, titles: set[str]) -> str:
    """Check the page's basic accessibility; its title must be new (one per page)."""
    assert page.evaluate(A11Y) == []
    title: str = page.title()
    assert title.endswith(" · hoist serve") and title not in titles, title
    titles.add(title)
    return title


def cells(page: Any, table: str) -> list[list[str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        f"{table} tbody tr",
        "rows => rows.map(r => [...r.children].map(c => c.innerText.trim().replace(/\\s+/g, ' ')))",
    )
    return rows


def test_click_from_the_repositories_to_a_tag_an_image_a_layer_and_a_referrer(
    served: tuple[ServerThread, Pushed], page: Any
) -> None:
    server, pushed = served
    app = pushed.app
    config = parse_config(pushed.blobs[str(app.config.digest)])
    titles: set[str] = set()

    page.goto(server.url + "/")
    assert page.url == server.url + "/ui/"
    assert accessible(page, titles) == "Repositories · hoist serve"
    rows = {r[0]: r for r in cells(page, "table.list")}
    assert rows["demo/app"][1] == "3" and rows["demo/base"][1] == "1"
    shoot(page, "repositories")

    page.get_by_role("link", name="demo/app", exact=True).click()
    assert page.url == server.url + "/ui/r/demo/app"
    assert accessible(page, titles) == "demo/app · hoist serve"
    tags = {r[0].split()[0]: r for r in cells(page, "table.tags")}
    assert tags["v1"][1] == short_digest(app.digest) and tags["v1"][3] == "linux/amd64"
    shoot(page, "repository")

    page.locator("table.tags a.tag", has_text=re.compile(r"^v1$")).click()
    assert page.url.endswith(f"/ui/r/demo/app/-/image/{app.digest}")
    accessible(page, titles)
    assert page.locator("h1").inner_text().startswith("demo/app:")
    history = cells(page, "table.history")
    assert [r[1] for r in history] == [h.created_by for h in config.history]
    only = page.locator("tr.config-only")
    assert only.count() == sum(h.empty_layer for h in config.history) == 5
    assert only.first.inner_text().count("config only") == 1
    made = page.locator("tr.made-layer")
    assert made.count() == 3
    for i, row in enumerate(r for r in history if r[2]):
        assert row[3] == short_digest(app.layers[i].digest)
        assert row[4] == short_digest(config.diff_ids[i])
    assert "demo/base:v1" in made.first.inner_text()
    picture = page.locator("#picture img")
    if picture.count():  # Graphviz installed: the SVG loads and draws something
        assert page.evaluate("() => document.querySelector('#picture img').naturalWidth") > 100
    shoot(page, "image")
    page.set_viewport_size({"width": 1280, "height": 1500})
    page.screenshot(path=str(screenshots() / "ui-image.png"))
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name="layer 0", exact=True).click()
    assert f"/-/layer/{app.layers[0].digest}?image=" in page.url
    accessible(page, titles)
    facts = page.locator("dl.facts").inner_text()
    assert str(app.layers[0].digest) in facts and str(config.diff_ids[0]) in facts
    assert "matches the config" in facts
    assert [r[1] for r in cells(page, "table.files")] == [
        "/bin",
        "/bin/hello",
        "/etc",
        "/etc/os-release",
    ]
    shoot(page, "layer")

    page.go_back()
    tree = page.locator("#referrers ul.tree").first
    tree.get_by_role("link", name=short_digest(pushed.sbom.digest)).click()
    assert page.url.endswith(f"/-/image/{pushed.sbom.digest}")
    accessible(page, titles)
    assert page.title().startswith("artifact demo/app@")
    assert "application/spdx+json" in page.locator("#manifest dl.facts").inner_text()
    # its own referrer (the signature) hangs below it; its subject links back
    assert short_digest(pushed.signature.digest) in page.locator("#referrers").inner_text()
    shoot(page, "referrer")
    page.locator("dl.facts").first.get_by_role("link", name=short_digest(app.digest)).click()
    assert page.url.endswith(f"/-/image/{app.digest}")


def test_an_index_and_its_platforms(served: tuple[ServerThread, Pushed], page: Any) -> None:
    server, pushed = served
    titles: set[str] = set()
    page.goto(server.url + "/ui/r/demo/base")
    page.locator("table.tags a.tag", has_text="v1").click()
    accessible(page, titles)
    platforms = cells(page, "#index table")
    assert [r[0].split()[0] for r in platforms] == ["linux/amd64", "linux/arm64/v8"]
    assert "shown below" in platforms[0][0]
    shoot(page, "index")
    arm64 = pushed.base_children[1]
    page.locator("#index table").get_by_role("link", name="linux/arm64/v8").click()
    assert f"manifest={arm64.digest}" in page.url
    assert "shown below" in cells(page, "#index table")[1][0]
    assert "linux/arm64/v8" in page.locator("#config dl").inner_text()
    shoot(page, "index-arm64")
    page.locator("#json").get_by_role("link", name="pretty").nth(1).click()
    accessible(page, titles)
    assert str(arm64.config.digest) in page.locator("pre.json").inner_text()
    shoot(page, "json")


def test_keyboard_only(served: tuple[ServerThread, Pushed], page: Any) -> None:
    server, _ = served
    page.goto(server.url + "/ui/")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.hash === '#main'")  # a loaded CI can lag a moment
    assert page.url.endswith("#main")
    for _ in range(30):  # Tab on to the repository link, then follow it with Enter
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent") == "demo/app":
            break
    else:
        raise AssertionError("Tab never reached the demo/app link")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/r/demo/app")
    # the sort form: Tab to the select, choose with the arrows, submit with Enter
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "sort":
            break
    else:
        raise AssertionError("Tab never reached the sort select")
    focus_ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert focus_ring != "none"
    page.keyboard.press("ArrowDown")  # name -> version (semver)
    for _ in range(5):  # on to the form's button
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.tagName") == "BUTTON":
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=semver**")
    assert page.locator("select#sort").input_value() == "semver"
    shoot(page, "keyboard-sorted")


def test_a_login_is_asked_for(tmp_path: Path, browser: Any) -> None:
    from support.registry_fixtures import htpasswd_line
    from support.ui_registry import store_for

    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(htpasswd_line("alice", "s3cret"))
    with ServerThread(tmp_path / "reg", ui=True, fsync=False, htpasswd=htpasswd) as server:
        populate(server.host, many=False, store=store_for(server.host, "alice", "s3cret"))
        anonymous = browser.new_context(java_script_enabled=False)
        answer = anonymous.request.get(server.url + "/ui/")  # the browser would ask for a login
        assert answer.status == 401 and answer.headers["www-authenticate"] == 'Basic realm="hoist"'
        assert answer.headers["content-type"].startswith("text/html")
        assert "<h1>Login needed</h1>" in answer.text()
        anonymous.close()
        context = browser.new_context(
            java_script_enabled=False, http_credentials={"username": "alice", "password": "s3cret"}
        )
        p = context.new_page()
        p.goto(server.url + "/ui/")
        assert "signed in as alice" in p.locator("header").inner_text()
        p.get_by_role("link", name="demo/app", exact=True).click()
        assert p.title() == "demo/app · hoist serve"
        shoot(p, "logged-in")
        context.close()
