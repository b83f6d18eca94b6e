"""Both instructor sections of README.md, run word for word on a scratch course, as a new instructor would.

The scratch course is a git repository holding this project's files. Learners work through a real nbgrader
exchange, as on JupyterHub's Docker images: every learner is the OS user ``jovyan`` and ``JUPYTERHUB_USER`` names
them. Exercise 3 with four learners:

- ``alice`` submits the reference solution; ``bob`` the untouched notebook; ``carol`` trains with SGD where the
  task asks for Adam;
- ``dave`` first submits no notebook at all (a ``.py`` file), then resubmits properly after the first batch.

Each README command runs exactly as written, the assignment name aside, and the test checks what issue 14 asks:
no learner's file changes or disappears, feedback matches the gradebook after a rerun, a rerun says what it skipped,
``.gitignore`` covers everything grading writes, test cells show no value, kept models never reach feedback,
the log carries no false alarm, ``export`` does not overwrite nbgrader's CSV, and the optimizer is checked.
"""

import csv
import hashlib
import os
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

from grader import sandbox
from tools import nbgrader_course as course

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ch03_learning_rate"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
EXAMPLE = "ch01_single_neuron"  # the assignment the README's commands name
LEARNER_USER = "jovyan"


def readme_commands(heading):
    """The commands of the first ```bash block under ``heading`` in README.md, for exercise 3, comments removed."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip().replace(EXAMPLE, ASSIGNMENT) for line in block.splitlines()
            if line.split("#")[0].strip()]


def tree_bytes(folder):
    """{relative path: sha256} of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def sgd_answers(answers):
    changed = answers["train_given_model"].replace("keras.optimizers.Adam(learning_rate=learning_rate)",
                                                   "keras.optimizers.SGD(learning_rate=learning_rate)")
    assert changed != answers["train_given_model"]
    return {**answers, "train_given_model": changed}


class Walk:
    """A scratch course, an exchange, learners, and the instructor's shell."""

    def __init__(self, base):
        self.base = base
        self.course = base / "course"
        self.exchange = base / "exchange"
        self.config = base / "jupyter-config"
        self.learners = base / "learners"
        self.logs = []
        files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split()
        for name in files:
            if (ROOT / name).is_file():
                (self.course / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, self.course / name)
        for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
            subprocess.run(["git", *args], cwd=self.course, check=True, capture_output=True)
        self.exchange.mkdir(mode=0o777)
        os.chmod(self.exchange, 0o777)
        self.config.mkdir()
        (self.config / "nbgrader_config.py").write_text(f"c = get_config()\nc.Exchange.root = {str(self.exchange)!r}\n")
        self.learners.mkdir()
        for path in (self.base, self.config, self.config / "nbgrader_config.py", self.learners):
            os.chmod(path, 0o755)
        self.env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
                    "JUPYTER_CONFIG_DIR": str(self.config), "TF_CPP_MIN_LOG_LEVEL": "2"}
        self.env.pop("PYTHONPATH", None)

    def instructor(self, command, check=True):
        """Run one README line in the course folder, as the instructor's shell would."""
        done = subprocess.run(["bash", "-c", command], cwd=self.course, env=self.env, capture_output=True, text=True,
                              timeout=1500)
        self.logs.append((command, done))
        if check:
            assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def learner(self, name, *args):
        """Run ``nbgrader ARGS`` as learner ``name`` (OS user jovyan, JUPYTERHUB_USER=name) in their folder."""
        home = self.learners / name
        home.mkdir(exist_ok=True)
        shutil.chown(home, LEARNER_USER, LEARNER_USER)
        done = subprocess.run(["runuser", "-u", LEARNER_USER, "--", "env", f"HOME={home}", f"JUPYTERHUB_USER={name}",
                               sys.executable, "-m", "nbgrader", *args, "--course", "keras-classification"],
                              cwd=home, env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{name}: nbgrader {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return home

    def submit(self, name, answers=None, *, notebook=True):
        """Fetch exercise 3, answer it (``answers``) or leave it, and submit, as learner ``name``."""
        home = self.learners / name
        if not (home / ASSIGNMENT).exists():
            self.learner(name, "fetch_assignment", ASSIGNMENT)
        path = home / ASSIGNMENT / NOTEBOOK
        if not path.exists():  # deleted before an earlier submission: the learner downloads it again
            shutil.copy(self.course / "exercises" / ASSIGNMENT / NOTEBOOK, path)
        if answers is not None:
            nbformat.write(course.fill_answers(nbformat.read(path, as_version=4), answers), path)
        if not notebook:  # saved as a script instead of the notebook
            (home / ASSIGNMENT / "my_answers.py").write_text("chosen_rate = 0.01\n")
            path.unlink()
        for item in [home, *home.rglob("*")]:
            shutil.chown(item, LEARNER_USER, LEARNER_USER)
        self.learner(name, "submit", ASSIGNMENT)

    def scores(self):
        with Gradebook(f"sqlite:///{self.course / 'gradebook.db'}") as gradebook:
            return {s.student.id: s.score for s in gradebook.find_assignment(ASSIGNMENT).submissions}


@pytest.fixture(scope="module")
def walk():
    assert not sandbox.problems(), "; ".join(sandbox.problems())
    if subprocess.run(["id", LEARNER_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                        "/usr/sbin/nologin", LEARNER_USER], check=True)
    base = Path(tempfile.mkdtemp(prefix="course-readme-"))
    os.chmod(base, 0o755)
    walk = Walk(base)
    answers = course.solution_answers(ASSIGNMENT, NOTEBOOK)

    # Section 1, the plain nbgrader workflow. Learners submit once the assignment is released.
    plain = readme_commands("## For instructors: the nbgrader workflow")
    assert plain[1] == f"nbgrader release_assignment {ASSIGNMENT}"
    for command in plain[:2]:
        walk.instructor(command)
    walk.submit("alice", answers)
    walk.submit("bob")
    walk.submit("carol", sgd_answers(answers))
    walk.submit("dave", notebook=False)
    outputs = {command: walk.instructor(command) for command in plain[2:]}
    walk.collected = tree_bytes(walk.course / "submitted")
    walk.plain = SimpleNamespace(commands=plain, outputs=outputs, scores=walk.scores())

    # Section 2, the hardened grading, on the same submitted/ folder.
    hardened = readme_commands("## For instructors: grading a class")
    outputs = {command: walk.instructor(command) for command in hardened}
    walk.first = SimpleNamespace(commands=hardened, outputs=outputs, scores=walk.scores(),
                                 submitted=tree_bytes(walk.course / "submitted"),
                                 dave_feedback=(walk.course / "feedback" / "dave" / ASSIGNMENT /
                                                f"{ASSIGNMENT}.html").read_text())

    # Dave resubmits properly; the instructor collects and runs the batch again, word for word.
    walk.submit("dave", answers)
    walk.instructor(plain[2])  # nbgrader collect
    walk.recollected = tree_bytes(walk.course / "submitted")
    walk.rerun = walk.instructor(hardened[0])
    walk.rerun_scores = walk.scores()
    walk.after = tree_bytes(walk.course / "submitted")
    for command in hardened[4:]:  # generate and release the feedback
        walk.instructor(command)
    walk.learner("alice", "fetch_feedback", ASSIGNMENT)
    walk.learner("dave", "fetch_feedback", ASSIGNMENT)
    yield walk
    shutil.rmtree(base, ignore_errors=True)


def feedback_html(walk, student):
    return (walk.course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()


def test_no_learner_file_changes_in_any_step(walk):
    assert walk.collected and all(name.split("/")[0] in {"alice", "bob", "carol", "dave"} for name in walk.collected)
    assert walk.first.submitted == walk.collected
    assert {k: v for k, v in walk.after.items() if not k.startswith("dave/")} == \
           {k: v for k, v in walk.collected.items() if not k.startswith("dave/")}
    assert walk.after == walk.recollected
    assert "dave/ch03_learning_rate/ch03_learning_rate.ipynb" in walk.after


def test_the_plain_workflow_grades_and_its_log_has_no_false_alarm(walk):
    assert walk.plain.scores["alice"] == 8.0 and walk.plain.scores["bob"] == 0.0
    log = "".join(done.stdout + done.stderr for done in walk.plain.outputs.values())
    for noise in ("SAWarning", "Attribute 'checksum'", "Cell output is", "Traceback"):
        assert noise not in log, f"the plain workflow's log says {noise!r}"


def test_the_batch_prints_each_learners_score_and_grades_the_class(walk):
    out = walk.first.outputs[walk.first.commands[0]].stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line and line.split()[0] in walk.first.scores}
    assert re.search(r"alice\s+graded\s+8/8", lines["alice"])
    assert re.search(r"bob\s+graded\s+0/8", lines["bob"])
    assert re.search(r"dave\s+missing\s+0/8", lines["dave"])
    assert walk.first.scores["alice"] == 8.0 and walk.first.scores["bob"] == 0.0
    status = walk.first.outputs[walk.first.commands[1]].stdout
    assert re.search(r"alice\s+graded\s+8/8", status) and re.search(r"dave\s+missing\s+0/8", status)
    verify = walk.first.outputs[walk.first.commands[2]].stdout
    assert "alice: 2 model(s) verified, in agreement with the kernel" in verify and "Verified 3 learner(s)" in verify


def test_the_optimizer_is_checked_and_named(walk):
    assert walk.first.scores["carol"] < 8.0
    assert "compiled with SGD, but this task asks for keras.optimizers.Adam" in feedback_html(walk, "carol")


def test_a_rerun_says_what_it_skipped_and_grades_the_resubmission(walk):
    out = walk.rerun.stdout + walk.rerun.stderr
    for name in ("alice", "bob", "carol"):
        assert re.search(rf"{name}\s+graded.*skipped: already graded, and the submission has not changed", out)
    assert re.search(r"dave\s+graded\s+8/8", out)
    assert "1 learner(s) graded or refused, 3 skipped" in out
    assert walk.rerun_scores == {**walk.first.scores, "dave": 8.0}


def test_feedback_matches_the_gradebook_after_the_rerun(walk):
    assert "not graded (missing)" in walk.first.dave_feedback
    dave = feedback_html(walk, "dave")
    assert "not graded" not in dave and "Score: 8.0 / 8.0" in dave
    assert "Score: 0.0 / 8.0" in feedback_html(walk, "bob")
    fetched = list((walk.learners / "dave" / ASSIGNMENT / "feedback").rglob("*.html"))
    assert fetched and "Score: 8.0 / 8.0" in fetched[0].read_text()


def test_no_kept_model_reaches_feedback_or_the_learners(walk):
    for folder in (walk.course / "feedback", walk.learners):
        assert not [p for p in folder.rglob("*") if p.suffix in {".keras", ".npz"} or p.name == "verify"]
    assert list((walk.course / ".grader" / "captures" / ASSIGNMENT / "alice").glob("*.keras"))


def test_test_cells_show_no_value(walk):
    graded = nbformat.read(walk.course / "autograded" / "alice" / ASSIGNMENT / NOTEBOOK, as_version=4)
    shown = [cell.metadata["nbgrader"]["grade_id"] for cell in graded.cells
             if cell.metadata.get("nbgrader", {}).get("grade")
             and any(o.output_type == "execute_result" for o in cell.get("outputs", []))]
    assert shown == []


def test_export_refuses_to_overwrite_nbgraders_csv(walk):
    nbgrader_csv = (walk.course / "grades.csv").read_text()
    assert nbgrader_csv.startswith("assignment,")
    refused = walk.instructor(f"python -m grader export {ASSIGNMENT} grades.csv", check=False)
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert (walk.course / "grades.csv").read_text() == nbgrader_csv
    ours = walk.course / "grader-grades.csv"
    rows = {row["student"]: row for row in csv.DictReader(open(ours))}
    assert rows["alice"]["score"] == "8.0" and rows["dave"]["status"] == "missing"
    again = walk.instructor(f"python -m grader export {ASSIGNMENT} grader-grades.csv")
    assert again.returncode == 0


def test_git_status_shows_nothing_grading_wrote(walk):
    assert (walk.course / ".grader" / "secret").is_file()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=walk.course,
                            capture_output=True, text=True, check=True).stdout
    assert status == "", status


def test_an_inbox_inside_a_folder_grading_empties_is_refused(walk):
    inside = walk.course / "autograded"
    done = walk.instructor(f"python -m grader batch {ASSIGNMENT} autograded/", check=False)
    assert done.returncode != 0 and "which grading empties" in done.stderr
    assert (inside / "alice" / ASSIGNMENT / NOTEBOOK).is_file()
