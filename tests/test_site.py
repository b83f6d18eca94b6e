"""The book as learners meet it: the built site, served on localhost and opened in real headless Chromium.

The browser is Debian's ``chromium`` package (``tools/install_browser.sh`` installs it), driven by Playwright
for Python through ``executable_path``: Playwright's own browser download cannot work offline. The book is
built once per session (the ``built_book`` fixture of ``tests/conftest.py``, shared with the chapter tests),
with no network at all (``tools.site.build(offline=True)``), then built again with no change, to show that
the cache re-executes nothing.

Screenshots of every chapter, the build logs and both build times are kept in ``test-artifacts/site/``.
"""

import json
import shutil
import time
from pathlib import Path
from urllib.parse import urljoin

import nbformat
import pytest
import yaml
from PIL import Image
from playwright.sync_api import sync_playwright

from tools import site

pytestmark = pytest.mark.slow

ARTIFACTS = site.ROOT / "test-artifacts" / "site"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CONFIG = yaml.safe_load((site.ROOT / "_config.yml").read_text())
SEARCH_TERM = ("multi-label", "book/ch05_multiclass")  # a term only chapter 5 uses, and where it must be found


def title(name):
    """The first heading of a page's source: what its sidebar entry and its <h1> say."""
    path = site.ROOT / f"{name}.ipynb"
    if path.exists():
        lines = [line for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"
                 for line in cell.source.splitlines()]
    else:
        lines = (site.ROOT / f"{name}.md").read_text().splitlines()
    return next(line[2:].strip() for line in lines if line.startswith("# "))


def heading(page):
    """The page's <h1>, without its permalink sign and with plain quotes (Sphinx makes them typographic)."""
    return page.locator("main h1").first.inner_text().strip().rstrip("#").strip().replace("\u2019", "'")


@pytest.fixture(scope="module")
def book(built_book):
    """The session's offline build (tests/conftest.py), built twice with both times kept."""
    return built_book


@pytest.fixture(scope="module")
def base_url(book):
    with site.serve(book.html) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run `sh tools/install_browser.sh` (make test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, base_url):
    """A fresh page that may only reach the local server: anything else (a CDN, say) is refused and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.outside_requests, page.script_errors = [], []

    def only_local(route):
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            page.outside_requests.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    page.open = lambda name: page.goto(f"{base_url}/{name}.html", wait_until="load")
    yield page
    context.close()


def test_the_book_builds_with_no_network_and_rebuilds_10x_faster_from_its_cache(book):
    assert book.offline, ("could not cut the network for the build (needs `unshare --net`, Linux as root, as in CI): "
                          "the build was not shown to work offline")
    assert book.second * 10 <= book.first, f"first build {book.first:.1f} s, second {book.second:.1f} s: not 10x"
    log = (ARTIFACTS / "build-second.log").read_text()
    assert "Executing" not in log, "the second build executed a notebook again"


@pytest.mark.parametrize("name", site.toc_files())
def test_every_page_loads_without_script_errors(page, name):
    response = page.open(name)
    assert response.status == 200, name
    assert heading(page) == title(name)
    assert page.script_errors == [], page.script_errors


@pytest.mark.parametrize("name", site.chapter_files())
def test_every_figure_loaded_and_has_a_caption_and_alt_text(page, name):
    page.open(name)
    images = page.locator("main .cell_output img")
    # Lazy or not, wait for every image to be fetched and decoded before reading its size.
    page.evaluate("Promise.all(Array.from(document.images).map(image => image.decode().catch(() => null)))")
    found = images.evaluate_all("""images => images.map(image => ({
        src: image.getAttribute('src'), width: image.naturalWidth, alt: image.alt || '',
        caption: image.closest('figure')?.querySelector('figcaption')?.innerText || ''}))""")
    assert len(found) == len(site.figure_cells(name)), f"{name}: {len(found)} images for {len(site.figure_cells(name))} figure cells"
    for image in found:
        assert image["width"] > 0, f"{name}: {image['src']} did not load"
        assert len(image["alt"]) > 40 and not image["alt"].endswith(".png"), f"{name}: {image['src']} has no alt text"
        assert len(image["caption"]) > 20, f"{name}: {image['src']} has no caption"


@pytest.mark.parametrize("name", site.chapter_files())
def test_no_traceback_or_error_output_except_where_tagged(page, name):
    page.open(name)
    cells = page.locator("main div.cell").evaluate_all("""cells => cells.map(cell => ({
        tagged: cell.classList.contains('tag_raises-exception'),
        errors: cell.querySelectorAll('.output.traceback, .output.error, .output.stderr').length,
        text: Array.from(cell.querySelectorAll('.cell_output')).map(o => o.innerText).join('\\n')}))""")
    assert cells, name
    for index, cell in enumerate(cells):
        if cell["tagged"]:
            assert cell["errors"] >= 1, f"{name}, cell {index} is tagged raises-exception but shows no error"
        else:
            assert cell["errors"] == 0 and "Traceback (most recent call last)" not in cell["text"], \
                f"{name}, cell {index} shows an error:\n{cell['text'][:500]}"


def test_the_sidebar_reaches_every_chapter_and_exercise(page):
    page.open(site.toc_files()[0])
    for name in site.toc_files()[1:]:
        link = page.locator("nav.bd-docs-nav a.reference", has_text=title(name).replace("'", "\u2019")).first
        link.click()
        page.wait_for_load_state("load")
        assert page.url.endswith(f"/{name}.html"), (name, page.url)
        assert heading(page) == title(name)


def test_the_search_box_finds_a_term_from_chapter_5(page):
    term, expected = SEARCH_TERM
    page.open(site.toc_files()[0])
    page.locator("button.search-button-field").first.click()
    box = page.locator("input[name=q]:visible").first
    box.fill(term)
    box.press("Enter")
    page.wait_for_url("**/search.html?q=*")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=20_000)
    hrefs = results.evaluate_all("links => links.map(link => link.getAttribute('href'))")
    assert any(expected in href for href in hrefs), hrefs


@pytest.mark.parametrize("name", site.chapter_files() + site.exercise_files())
def test_each_notebook_page_has_a_colab_launch_button_for_its_own_notebook(page, name):
    page.open(name)
    repository = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    expected = f"{CONFIG['launch_buttons']['colab_url']}/github/{repository}/blob/{CONFIG['repository']['branch']}/{name}.ipynb"
    hrefs = page.locator(".dropdown-launch-buttons a[href*='colab.research.google.com']").evaluate_all("links => links.map(l => l.href)")
    assert hrefs == [expected]


@pytest.mark.parametrize("name", site.exercise_files())
def test_each_exercise_page_offers_the_learner_notebook_for_download(page, base_url, name):
    page.open(name)
    learner = json.loads((site.ROOT / f"{name}.ipynb").read_text())
    download = page.locator("a.btn-download-source-button").first.get_attribute("href")
    assert download.endswith(".ipynb"), download
    served = page.request.get(urljoin(page.url, download))
    assert served.ok and json.loads(served.body()) == learner, f"{name}: the download is not the learner notebook"
    # The exercises page links the same notebook for download.
    page.open("book/exercises")
    links = page.locator("a.download").evaluate_all("links => links.map(l => l.href)")
    notebook = Path(name).name + ".ipynb"
    matching = [href for href in links if href.endswith("/" + notebook)]
    assert len(matching) == 1 and json.loads(page.request.get(matching[0]).body()) == learner, links


def test_the_exercises_page_offers_all_learner_notebooks_as_one_zip(page):
    """Click the Exercises page's zip link as a learner would: the download holds exactly the learner notebooks of
    exercises/, byte for byte, one folder per exercise."""
    import io
    import zipfile

    page.open("book/exercises")
    with page.expect_download() as event:
        page.locator("a.download-all").click()
    download = event.value
    assert download.suggested_filename == "exercises.zip"
    saved = ARTIFACTS / "exercises.zip"
    download.save_as(saved)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        inside = {name: archive.read(name) for name in archive.namelist()}
    expected = {path.relative_to(site.ROOT).as_posix(): path.read_bytes()
                for path in sorted(site.ROOT.glob("exercises/*/*.ipynb"))}
    assert sorted(inside) == sorted(expected) and len(expected) == 5
    assert all(inside[name] == expected[name] for name in expected), "a notebook in the zip differs from exercises/"


def test_full_page_screenshots_of_every_chapter(page):
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for name in site.chapter_files():
        page.open(name)
        page.evaluate("Promise.all(Array.from(document.images).map(image => image.decode().catch(() => null)))")
        time.sleep(0.2)
        path = shots / f"{Path(name).name}.png"
        page.screenshot(path=path, full_page=True)
        with Image.open(path) as shot:
            width, height = shot.size
            colours = shot.convert("RGB").resize((64, 256)).getcolors(maxcolors=64 * 256)
        assert width == 1280 and height > 3000, (name, shot.size)
        assert len(colours) > 50, f"{name}: the screenshot is nearly blank"
