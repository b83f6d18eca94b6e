"""Instructors grade in nbgrader's formgrader: a real Jupyter server with the extension, opened in headless Chromium.

A scratch course gets exercise 1 released, two submissions (alice: the reference answers; bob: the blank learner
notebook) and a real ``nbgrader autograde``. The server is started as the README's instructor section says
(``jupyter server`` in the course folder; the nbgrader extension is enabled on install). The test sees the
assignment, the submissions with their scores, opens alice's graded view, types a comment as an instructor
would, and finds it in the gradebook. Screenshots land in ``test-artifacts/formgrader/``.
"""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect, sync_playwright

from grader.run import nbgrader_environment
from tools import nbgrader_course as course_tools

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "formgrader"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ASSIGNMENT = "ch01_single_neuron"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
TOKEN = "formgrader-test-token"
COMMENT = "Clear answer; say in one sentence why w2 carries the decision."


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = course_tools.make_course(tmp_path_factory.mktemp("formgrader") / "course", [ASSIGNMENT])
    released = course_tools.released_notebook(folder, ASSIGNMENT, NOTEBOOK)
    answers = course_tools.solution_answers(ASSIGNMENT, NOTEBOOK)
    course_tools.submit(folder, "alice", ASSIGNMENT, NOTEBOOK, course_tools.fill_answers(released, answers))
    course_tools.submit(folder, "bob", ASSIGNMENT, NOTEBOOK, released)
    course_tools.autograde(folder, ASSIGNMENT)
    totals = {student: sum(grades.values()) for student, notebooks in course_tools.scores(folder, ASSIGNMENT).items()
              for grades in notebooks.values()}
    assert totals["alice"] > 0 and totals["bob"] == 0, totals
    return SimpleNamespace(folder=folder, totals=totals)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(course):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = open(ARTIFACTS / "jupyter-server.log", "w")
    command = [str(Path(sys.executable).with_name("jupyter-server")), "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={TOKEN}", "--allow-root"]
    process = subprocess.Popen(command, cwd=course.folder, env=nbgrader_environment(), stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"jupyter server did not start; see {ARTIFACTS / 'jupyter-server.log'}")
            time.sleep(0.5)
    yield SimpleNamespace(url=url)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="module")
def page(server):
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run `sh tools/install_browser.sh` (make test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{server.url}/formgrader?token={TOKEN}", wait_until="load")  # logs in: a cookie for the rest
        yield page
        browser.close()


def test_formgrader_lists_the_assignment(page, server):
    page.goto(f"{server.url}/formgrader/manage_assignments", wait_until="load")
    expect(page.locator("#main-table")).to_contain_text(ASSIGNMENT, timeout=30_000)
    page.screenshot(path=ARTIFACTS / "1-assignments.png", full_page=True)


def test_formgrader_shows_both_submissions_with_their_autograded_scores(page, server, course):
    page.goto(f"{server.url}/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}", wait_until="load")
    rows = page.locator("#main-table tr")
    expect(rows).to_have_count(2, timeout=30_000)
    seen = {}
    for index in range(2):
        row = rows.nth(index)
        name = row.locator(".name a.name-shown").text_content().strip()
        score = row.locator(".score").text_content().strip()
        seen[name] = score
    maximum = course.totals["alice"]
    assert seen == {"alice": f"{maximum:g} / {maximum:g}", "bob": f"0 / {maximum:g}"}, seen
    page.screenshot(path=ARTIFACTS / "2-submissions.png", full_page=True)


def test_a_comment_typed_in_the_graded_view_reaches_the_gradebook(page, server, course):
    from nbgrader.api import Gradebook

    page.goto(f"{server.url}/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}", wait_until="load")
    link = page.locator("#main-table tr .name a.name-shown", has_text="alice")
    expect(link).to_have_count(1, timeout=30_000)
    page.goto(server.url + link.get_attribute("href"), wait_until="load")
    comment = page.locator("textarea.comment").first
    expect(comment).to_be_visible(timeout=30_000)
    expect(page.locator("body")).to_contain_text("Task 1")
    # formgrader saves a comment on its change event once its script has fetched the comments and bound an editor to
    # each box (formgrade.js, loadComments); typed earlier, as on a loaded machine in CI, the change goes unheard.
    page.wait_for_function("() => window.formgrader && formgrader.comments && formgrader.comments.loaded === true",
                           timeout=30_000)
    with page.expect_response(lambda response: "/api/comment/" in response.url and response.request.method == "PUT"
                              and response.ok):
        comment.fill(COMMENT)
        comment.press("Tab")  # the change event saves it, as when a grader moves on
    page.screenshot(path=ARTIFACTS / "3-graded-view-with-comment.png", full_page=True)

    with Gradebook(f"sqlite:///{course.folder / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "alice")
        comments = [c.manual_comment for c in submission.comments]
    assert COMMENT in comments, comments
