"""Grading that cannot be gamed or broken (issue 6), with a real ``nbgrader autograde`` in the real sandbox.

- Every adversarial or faulty fixture of ``grading_fixtures`` ends as it must: its status, the cells that score
  zero, the message in its feedback, the verifier's corrections; no process is left behind.
- One learner of each outcome, graded again one by one (1 worker) against a real PostgreSQL server, gets the same
  scores and status as in the 2-worker batch on SQLite (the judge batches of ``tests/test_judge_batch.py`` also run
  2 workers against PostgreSQL).
- A stopped batch reruns safely (on PostgreSQL, with 2 workers); the time limit of a whole notebook holds; grades
  export to CSV.

These need Linux and root (the sandbox); ``make test`` installs what they need (``tools/install_grading.sh``).
"""

import csv
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbgrader.api import Gradebook

import grading_fixtures as fx
from autograde_support import expected_scores
from grader import sandbox
from grader.batch import export_csv, grade_batch
from grader.limits import Limits
from grader.run import nbgrader_environment
from grader.status import FINAL, StatusBook
from tools import nbgrader_course as course
from tools.postgres import temporary_server

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

# 30 s a cell: an honest submission's slowest cells (the two tests that train and score the model) took at most 6 s
# in this batch, with two learners, the judge and the suite's other work sharing 2 cores (cell timings of the
# autograded notebooks, 2026-12-07); the fixtures that never end pay the limit (01, 02 and 03), so more only costs.
LIMITS = Limits(cell_seconds=30, notebook_seconds=300, memory_bytes=3 * 2**30)
ANSWERS = course.solution_answers(fx.ASSIGNMENT, fx.NOTEBOOK)
NAMES = sorted(name for name in fx.fixtures(ANSWERS) if not name.startswith("_"))


def scores_in(db_url):
    """{student: {grade_id: score}} for exercise 1, read from any gradebook."""
    with Gradebook(db_url) as gradebook:
        return {submission.student.id: {grade.name: grade.score for nb in submission.notebooks for grade in nb.grades}
                for submission in gradebook.find_assignment(fx.ASSIGNMENT).submissions}


def sqlite(course_folder):
    return f"sqlite:///{Path(course_folder) / 'gradebook.db'}"


def new_course(folder, names):
    """A scratch course with exercise 1 released and an inbox holding the fixtures ``names``."""
    folder.mkdir(parents=True, exist_ok=True)
    scratch = course.make_course(folder / "course", [fx.ASSIGNMENT])
    released = course.released_notebook(scratch, fx.ASSIGNMENT, fx.NOTEBOOK)
    expected = fx.build_inbox(folder / "inbox", released, ANSWERS, names)
    return scratch, folder / "inbox", expected


@pytest.fixture(scope="module", autouse=True)
def sandbox_ready():
    assert not sandbox.problems(), "; ".join(sandbox.problems())


@pytest.fixture(scope="module")
def batch(tmp_path_factory, grading_scheduler):
    """Every fixture, graded once in one batch on 2 workers, into SQLite."""
    scratch, inbox, expected = new_course(tmp_path_factory.mktemp("fixtures"), NAMES)
    scratch_before = set(Path(tempfile.gettempdir()).glob("course-grader-*"))
    results = grade_batch(scratch, fx.ASSIGNMENT, inbox, workers=2, limits=LIMITS, scheduler=grading_scheduler)
    return SimpleNamespace(course=scratch, inbox=inbox, expected=expected, results={r["student"]: r for r in results},
                           scores=scores_in(sqlite(scratch)), leftovers=fx.leftover_processes(),
                           scratch_left=set(Path(tempfile.gettempdir()).glob("course-grader-*")) - scratch_before)


def feedback_text(batch, name):
    """What the learner reads: the autograded notebook's notes and outputs and the gradebook's comments on their
    answers (nbgrader's feedback shows both), or the feedback file of a refusal."""
    autograded = batch.course / "autograded" / name / fx.ASSIGNMENT / fx.NOTEBOOK
    if not autograded.exists():
        return (batch.course / "feedback" / name / fx.ASSIGNMENT / f"{fx.NOTEBOOK_STEM}.html").read_text()
    notebook = nbformat.read(autograded, as_version=4)
    with Gradebook(sqlite(batch.course)) as gradebook:
        submission = gradebook.find_submission(fx.ASSIGNMENT, name)
        parts = [comment.comment or "" for nb in submission.notebooks for comment in nb.comments]
    parts += [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts += [output.get("text", ""), output.get("ename", ""), output.get("evalue", ""),
                      *output.get("traceback", [])]
    return "\n".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_ends_as_expected(batch, name):
    expected, result = batch.expected[name], batch.results[name]
    assert result["status"] == expected.status, result["message"]
    assert batch.scores[name] == expected_scores(fx.ASSIGNMENT, fx.NOTEBOOK, expected.zero), result["message"]
    corrected = sorted(row["grade_id"] for row in result["verified"] if row["corrected"])
    assert corrected == sorted(expected.corrected)
    text = feedback_text(batch, name)
    for phrase in expected.feedback:
        assert phrase in text, f"{name}: the feedback does not say {phrase!r}"


def test_the_run_finished_with_a_final_status_for_everyone_and_nothing_left_behind(batch):
    book = StatusBook(sqlite(batch.course))
    statuses = {row["student"]: row["status"] for row in book.all(fx.ASSIGNMENT)}
    book.close()
    assert sorted(statuses) == NAMES and set(statuses.values()) <= set(FINAL)
    assert batch.leftovers == []
    assert batch.scratch_left == set(), "the batch left its scratch folder (kernels, datasets copy) behind"
    assert len(scores_in(sqlite(batch.course))) == len(NAMES)  # exactly one submission each


# What ipykernel itself sets in a kernel's environment, besides the launcher's (grader.kernel_launcher).
IPYKERNEL_ENV = {"CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "GIT_PAGER", "PAGER", "TERM", "MPLBACKEND",
                 "PYDEVD_USE_FRAME_EVAL"}


def test_the_learners_kernel_is_a_clean_fork_of_the_workers_kernel_zygote(batch):
    """The kernel of ``26_kernel_probe`` reports what it sees. It was forked in from outside nbgrader's PID
    namespace (its parent is not in it: a kernel zygote's child; a kernel started afresh is nbgrader's child), yet
    it is as sandboxed as a new one: the sandbox user, a session of its own (``kill(0, ...)`` reaches no other
    learner's kernel, though all are forks of one zygote), only the kernel's environment, its own folder as home,
    working folder, temporary folder and Keras home, no file of the zygote's open, and only nbgrader, the launcher and itself to
    see (the zygote is outside its PID namespace)."""
    autograded = nbformat.read(batch.course / "autograded" / "26_kernel_probe" / fx.ASSIGNMENT / fx.NOTEBOOK,
                               as_version=4)
    printed = "".join(output.get("text", "") for cell in autograded.cells for output in cell.get("outputs", []))
    facts = json.loads(re.search(r"KERNEL-FACTS (.*)", printed).group(1))
    assert facts["ppid"] == 0 and facts["own_session"] and facts["user"] == sandbox.SANDBOX_USER, facts
    allowed = {*sandbox.KERNEL_ENV, "HOME", "TMPDIR", "KERAS_HOME", "USER", "MPLCONFIGDIR", *IPYKERNEL_ENV}
    assert set(facts["env"]) <= allowed, set(facts["env"]) - allowed
    assert facts["cwd_is_home"] and facts["tempdir_is_tmpdir"] and "/" not in facts["sys_path"], facts
    assert facts["keras_home"], facts  # its own (writable, with the data sets), not the zygote's
    home = "/kernels/26_kernel_probe--"
    opened = [(path, mode) for path, mode in facts["files"] if path.startswith("/")]
    assert any(home in path for path, _ in opened), opened  # IPython's history, in its own folder
    assert all(home in path or mode == os.O_WRONLY for path, mode in opened), opened  # else only nbgrader's log
    processes = sorted(tuple(process) for process in facts["processes"])  # (pid, parent's pid, uid)
    others = sorted((ppid, uid) for pid, ppid, uid in processes if pid != 1)
    sandboxed = pwd.getpwnam(sandbox.SANDBOX_USER).pw_uid
    assert processes[0] == (1, 0, 0) and others == [(0, sandboxed), (1, 0)], processes  # nbgrader, launcher, itself


def test_the_verifiers_comment_reaches_the_feedback(batch):
    name = "11_overridden_predict"
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", fx.ASSIGNMENT, "--student", name, "--force"],
                   cwd=batch.course, env=nbgrader_environment(), check=True, capture_output=True)
    html = (batch.course / "feedback" / name / fx.ASSIGNMENT / f"{fx.NOTEBOOK_STEM}.html").read_text()
    assert "Verified outside your notebook" in html


def test_grades_export_to_csv(batch, tmp_path):
    rows = list(csv.DictReader(open(export_csv(sqlite(batch.course), fx.ASSIGNMENT, tmp_path / "grades.csv"))))
    assert [row["student"] for row in rows] == NAMES
    by_name = {row["student"]: row for row in rows}
    assert by_name["00_reference"]["score"] == "9.0" and by_name["19_not_json"]["status"] == "invalid"


# One learner of each outcome, graded again one by one against PostgreSQL, then stopped and rerun there. (All 27
# learners once took 12 of the suite's 64 minutes one by one, and again on 2 workers against PostgreSQL; the judge
# batches of exercises 3 and 5 run 2 workers on it.)
SERIAL = ["00_reference", "00_too_little_training", "05_memory_bomb", "08_edited_locked_test", "11_overridden_predict",
          "17_none_for_a_model", "19_missing_notebook", "19_not_json"]


@pytest.fixture(scope="module")
def on_postgresql(tmp_path_factory):
    """SERIAL graded one by one into a real PostgreSQL server, which stays up for the module's rerun test."""
    scratch, inbox, _ = new_course(tmp_path_factory.mktemp("serial"), SERIAL)
    with temporary_server() as db_url:
        results = grade_batch(scratch, fx.ASSIGNMENT, inbox, workers=1, db_url=db_url, limits=LIMITS)
        yield SimpleNamespace(course=scratch, inbox=inbox, db_url=db_url, results=results, scores=scores_in(db_url))


def statuses_in(db_url):
    book = StatusBook(db_url)
    try:
        return {row["student"]: row for row in book.all(fx.ASSIGNMENT)}
    finally:
        book.close()


def test_one_by_one_on_postgresql_gives_the_same_scores_as_two_workers_on_sqlite(batch, on_postgresql):
    assert set(SERIAL) <= set(NAMES)
    assert on_postgresql.scores == {name: batch.scores[name] for name in SERIAL if name in batch.scores}
    statuses = {name: row["status"] for name, row in statuses_in(on_postgresql.db_url).items()}
    assert statuses == {r["student"]: r["status"] for r in on_postgresql.results} == {
        n: batch.results[n]["status"] for n in SERIAL}


def test_a_stopped_batch_reruns_only_the_unfinished_learners(on_postgresql, grading_scheduler):
    scratch, inbox, db_url, first = on_postgresql.course, on_postgresql.inbox, on_postgresql.db_url, on_postgresql.scores
    # Stopped mid-way: the reference learner was queued again, another ended in error, and a new learner arrived.
    StatusBook(db_url).set("00_reference", fx.ASSIGNMENT, "queued")
    StatusBook(db_url).set("00_too_little_training", fx.ASSIGNMENT, "error")
    shutil.copytree(inbox / "00_reference", inbox / "late_reference")
    again = grade_batch(scratch, fx.ASSIGNMENT, inbox, workers=2, db_url=db_url, limits=LIMITS,
                        scheduler=grading_scheduler)
    assert sorted(r["student"] for r in again if not r.get("skipped")) == [
        "00_reference", "00_too_little_training", "late_reference"]
    skipped = {r["student"]: r["skipped"] for r in again if r.get("skipped")}
    assert sorted(skipped) == sorted(set(SERIAL) - {"00_reference", "00_too_little_training"})
    assert all("has not changed" in why for why in skipped.values())
    attempts = {name: row["attempts"] for name, row in statuses_in(db_url).items()}
    assert attempts == {**{name: 1 for name in SERIAL}, "00_reference": 2, "00_too_little_training": 2,
                        "late_reference": 1}
    now = scores_in(db_url)
    assert {k: now[k] for k in first} == first and now["late_reference"] == first["00_reference"]
    # The invalid notebook is replaced by a valid one: only that learner is graded again.
    shutil.copy(inbox / "00_reference" / fx.ASSIGNMENT / fx.NOTEBOOK, inbox / "19_not_json" / fx.ASSIGNMENT / fx.NOTEBOOK)
    third = grade_batch(scratch, fx.ASSIGNMENT, inbox, workers=1, db_url=db_url, limits=LIMITS)
    assert [r["student"] for r in third if not r.get("skipped")] == ["19_not_json"]
    assert scores_in(db_url)["19_not_json"] == first["00_reference"]


def test_a_notebook_over_its_time_limit_is_stopped_and_scores_zero(tmp_path):
    scratch, inbox, _ = new_course(tmp_path / "slow", ["00_reference"])
    slow = {**ANSWERS, "to_labels": "import time\ntime.sleep(15)\n" + ANSWERS["to_labels"],
            "boundary_x2": "import time\ntime.sleep(15)\n" + ANSWERS["boundary_x2"]}
    released = course.released_notebook(scratch, fx.ASSIGNMENT, fx.NOTEBOOK)
    nbformat.write(course.fill_answers(released, slow), inbox / "00_reference" / fx.ASSIGNMENT / fx.NOTEBOOK)
    [result] = grade_batch(scratch, fx.ASSIGNMENT, inbox, workers=1,
                           limits=Limits(cell_seconds=20, notebook_seconds=30, memory_bytes=3 * 2**30))
    assert result["status"] == "timed out" and result["seconds"] < 60
    assert set(scores_in(sqlite(scratch))["00_reference"].values()) == {0.0}
    feedback = (scratch / "feedback" / "00_reference" / fx.ASSIGNMENT / f"{fx.NOTEBOOK_STEM}.html").read_text()
    assert "Grading stopped after 30 s" in feedback
    assert fx.leftover_processes() == []


SPY = """\
import glob, subprocess, time
held = []  # every process this learner may start, held while the other learner is graded
while len(held) < 5000:
    try:
        held.append(subprocess.Popen(["sleep", "60"]))
    except OSError:
        break
print(f"{len(held)} processes held")
spoiled, deadline = set(), time.time() + 50
while time.time() < deadline:  # cwd: this kernel's folder under the scratch root's kernels/
    for pattern in ("../00_reference--ch01_single_neuron/*", "../00_reference--ch01_single_neuron/*/*",
                    "../*/verify/*", "../../judge/*", "../../judge/*/*", "../../judge/*/out/*"):
        for path in glob.glob(pattern):
            try:
                with open(path, "wb") as stream:
                    stream.write(b"spoiled")
                spoiled.add(path)
            except OSError:
                pass
    time.sleep(0.01)
print(f"{len(spoiled)} files of other learners spoiled")
"""


def test_a_learner_cannot_reach_another_learners_kernel_or_judge(tmp_path, grading_scheduler):
    """Two learners graded at once by 2 workers run as the same sandbox user. The spy starts every process it may
    (the limit, 256 here, is per learner: cgroups each; as a per-user limit it would leave the other learner's
    kernel none), then knows the other's student id and spends 50 s overwriting whatever it can reach of the other's
    kernel folder (the models its hidden tests keep) and of the judge's folders (the runner's job, inputs and
    results): it reaches nothing, and the other learner keeps full marks."""
    scratch, inbox, _ = new_course(tmp_path / "spy", ["00_reference"])
    released = course.released_notebook(scratch, fx.ASSIGNMENT, fx.NOTEBOOK)
    (inbox / "99_spy" / fx.ASSIGNMENT).mkdir(parents=True)
    spy = {**ANSWERS, "build_model": SPY + ANSWERS["build_model"]}
    nbformat.write(course.fill_answers(released, spy), inbox / "99_spy" / fx.ASSIGNMENT / fx.NOTEBOOK)
    results = {r["student"]: r for r in grade_batch(scratch, fx.ASSIGNMENT, inbox, workers=2,
                                                    limits=Limits(cell_seconds=70, memory_bytes=3 * 2**30,
                                                                  processes=256),
                                                    scheduler=grading_scheduler)}
    assert results["00_reference"]["status"] == "graded", results["00_reference"]
    assert results["00_reference"]["score"] == results["00_reference"]["max_score"], results["00_reference"]
    autograded = nbformat.read(scratch / "autograded" / "99_spy" / fx.ASSIGNMENT / fx.NOTEBOOK, as_version=4)
    printed = "".join(output.get("text", "") for cell in autograded.cells for output in cell.get("outputs", []))
    assert "0 files of other learners spoiled" in printed, printed[-2000:]
    held = int(re.search(r"(\d+) processes held", printed).group(1))
    assert 200 <= held < 256, printed[-2000:]  # it reached its limit: the kernel's own threads count too
    # The stopped processes count until the spy's kernel collects them, so its next thread kills it; the new kernel
    # does not run the spy's cell again (it would hold them all again, and kill every kernel after it).
    errors = [output.get("evalue", "") for cell in autograded.cells for output in cell.get("outputs", [])]
    assert sum("the kernel died" in error for error in errors) <= 1, errors
    assert fx.leftover_processes() == []
    for base in sandbox.cgroup_hierarchies().values():  # every learner's cgroups were removed
        assert [group.name for group in base.iterdir() if group.is_dir()] == []


def test_the_sandbox_user_cannot_read_sources_submissions_or_grades(tmp_path):
    import os
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="course-protect-"))  # world-traversable, unlike pytest's tmp_path
    try:
        os.chmod(folder, 0o755)
        scratch = course.make_course(folder / "course", [fx.ASSIGNMENT])
        for path in [scratch, *scratch.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        sandbox.protect(scratch)

        def readable(path):
            return subprocess.run(["runuser", "-u", sandbox.SANDBOX_USER, "--", "cat", str(path)],
                                  capture_output=True).returncode == 0

        assert readable(scratch / "exercises" / fx.ASSIGNMENT / fx.NOTEBOOK)
        assert not readable(scratch / "solutions" / fx.ASSIGNMENT / fx.NOTEBOOK)
        assert not readable(scratch / "gradebook.db")
    finally:
        shutil.rmtree(folder)
