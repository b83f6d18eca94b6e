"""``python -m grader batch`` with the judge, on every exercise: the gradebook holds the judge's scores.

For each exercise one batch grades, with a real ``nbgrader autograde`` in the sandbox:

- the reference solution (full marks) and the untouched notebook (zero);
- every adversarial submission of ``tests/judge_cases.py``: each loses exactly its cells. To keep the batch short
  they leave the training tasks unanswered, so those cells score zero too;
- exercises 3 and 5 (public data): a learner who trains on the test split the tests score on gets full marks in
  the kernel. On exercise 3 they keep them, with the status ``flagged`` (``grader.verify.flag``); on exercise 5
  the judge trains their ``fit_fashion`` again with no data set in reach (``grader.verify.Retrain``), and both
  model cells score 0. The reference keeps full marks there, trained again on 50,000 images the secret draws;
- exercise 3: a learner who silences the kernel's check and trains four times longer than the task says loses
  both model cells (the verifier reads the saved optimizer);
- exercise 4: a learner whose scaler is a class of their own, not affine, keeps full marks (the verifier applies
  it in the sandbox); exercise 5: so does a learner whose model is a subclassed ``tf.keras`` model, which the judge
  trains again and the verifier scores in the sandbox.

``nbgrader export`` and ``python -m grader export`` agree, and the status book says the same as the batch. Exercises 3
and 5 grade into a real PostgreSQL server, the others into SQLite: between them, exercises 3 and 5 hold every way a
verdict is written (the judge's, the verifier's corrections, a flagged learner, a model scored in the sandbox, a model
trained again), and the gradebook code is the same for every exercise. Exercise 1's faulty and tampering submissions
are in ``tests/test_grading_batch.py`` (on SQLite, and one of each outcome again on PostgreSQL).
"""

import contextlib
import csv
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from grader import sandbox
from grader.batch import export_csv, grade_batch
from grader.limits import Limits
from grader.run import nbgrader_environment
from grader.status import StatusBook
from grader.verify import CHECKS as MODEL_CHECKS
from judge_cases import (ADVERSARIAL, SCORED_IN_THE_SANDBOX, SLOW_IN_A_KERNEL, TRAINED_ON_THE_TEST_SPLIT,
                         TRAINED_OTHERWISE)
from tools import nbgrader_course as course
from tools.postgres import temporary_server

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]
LIMITS = Limits(cell_seconds=200, notebook_seconds=900, memory_bytes=3 * 2**30)
ASSIGNMENTS = ["ch01_single_neuron", "ch02_nonlinearity", "ch03_learning_rate", "ch04_normalization",
               "ch05_multiclass"]


# What a case's top-level patch breaks in the learner's own kernel, beyond the cells the judge fails: replacing the
# course's schedule there makes their own sweep linear, and the rate chosen from it is refused.
# Replacing helpers.training.exponential_rates with a linear schedule also breaks the learner's own sweep, which
# find_learning_rate builds with it: the rates jump to 0.05 at the first step and the loss blows up within 36 steps,
# too short a curve for check_sweep, so the sweep cell and the choice read from it score 0 as well.
ALSO_BROKEN_IN_THE_KERNEL = {"patches_the_reference_schedule": ["test_sweep_is_a_sweep_of_the_digits",
                                                                "test_chosen_rate_is_on_the_steep_part"]}


def plan(assignment):
    """{student: (answers, graded cells that must score 0, final status)}."""
    notebook = f"{assignment}.ipynb"
    answers = course.solution_answers(assignment, notebook)
    model_cells = [check.grade_id for check in MODEL_CHECKS[assignment][assignment]]
    model_answers = {check.answer_id for check in MODEL_CHECKS[assignment][assignment]}
    untrained = {k: v for k, v in answers.items() if k not in model_answers}
    students = {"reference": (answers, [], "graded"),
                "untouched": ({}, list(course.max_scores(assignment, notebook)), "graded")}
    for name in set(ADVERSARIAL[assignment]) - SLOW_IN_A_KERNEL:
        changes, failing = ADVERSARIAL[assignment][name]
        zero = set(failing) | set(model_cells) | set(ALSO_BROKEN_IN_THE_KERNEL.get(name, []))
        students[name] = ({**untrained, **changes}, sorted(zero), "graded")
    if assignment in TRAINED_OTHERWISE:
        students["trained_otherwise"] = ({**answers, **TRAINED_OTHERWISE[assignment]}, model_cells, "graded")
    if assignment in SCORED_IN_THE_SANDBOX:
        students["own_class_scored_in_the_sandbox"] = ({**answers, **SCORED_IN_THE_SANDBOX[assignment]}, [], "graded")
    if assignment in TRAINED_ON_THE_TEST_SPLIT:  # flagged; where the judge trains the model again, its cells fail
        retrained = any(check.retrained for check in MODEL_CHECKS[assignment][assignment])
        students["trained_on_the_test_split"] = ({**answers, **TRAINED_ON_THE_TEST_SPLIT[assignment]},
                                                 model_cells if retrained else [], "graded" if retrained else "flagged")
    return students


def graded_scores(db_url, assignment):
    with Gradebook(db_url) as gradebook:
        return {s.student.id: {g.name: g.score for nb in s.notebooks for g in nb.grades}
                for s in gradebook.find_assignment(assignment).submissions}


def run_batch(tmp_path, assignment, db_url=None, scheduler=None):
    scratch = course.make_course(tmp_path / "course", [assignment])
    released = course.released_notebook(scratch, assignment, f"{assignment}.ipynb")
    students = plan(assignment)
    for student, (answers, _, _) in students.items():
        folder = tmp_path / "inbox" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(course.fill_answers(released, answers), folder / f"{assignment}.ipynb")
    results = grade_batch(scratch, assignment, tmp_path / "inbox", workers=2, db_url=db_url, limits=LIMITS,
                          scheduler=scheduler)
    return scratch, students, {r["student"]: r for r in results}


ON_POSTGRESQL = ["ch03_learning_rate", "ch05_multiclass"]  # the others grade into SQLite


def test_the_exercises_on_postgresql_hold_every_kind_of_verdict():
    """What the choice of ``ON_POSTGRESQL`` relies on: between them, their batches hold a judge's verdict, a verifier's
    correction, a flagged learner, a model scored in the sandbox and a model the judge trains again."""
    students = {name for assignment in ON_POSTGRESQL for name in plan(assignment)}
    assert {"trained_otherwise", "own_class_scored_in_the_sandbox", "trained_on_the_test_split"} <= students
    assert any(set(ADVERSARIAL[assignment]) - SLOW_IN_A_KERNEL for assignment in ON_POSTGRESQL)
    statuses = {status for assignment in ON_POSTGRESQL for *_, status in plan(assignment).values()}
    assert "flagged" in statuses
    assert any(check.retrained for assignment in ON_POSTGRESQL for check in MODEL_CHECKS[assignment][assignment])
    assert set(ON_POSTGRESQL) < set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_gradebook_holds_the_judges_scores(tmp_path, assignment, grading_scheduler):
    assert not sandbox.problems(), "; ".join(sandbox.problems())
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(temporary_server()) if assignment in ON_POSTGRESQL else None
        scratch, students, results = run_batch(tmp_path, assignment, db_url, grading_scheduler)
        db_url = db_url or f"sqlite:///{scratch / 'gradebook.db'}"
        scores = graded_scores(db_url, assignment)
        book = StatusBook(db_url)
        statuses = {row["student"]: row["status"] for row in book.all(assignment)}
        book.close()
        exported = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(tmp_path / "nbgrader.csv"),
                                   f"--db={db_url}"], cwd=scratch, env=nbgrader_environment(), capture_output=True,
                                  text=True)
        assert exported.returncode == 0, exported.stdout + exported.stderr
        ours_csv = export_csv(db_url, assignment, tmp_path / "ours.csv")
    points = course.max_scores(assignment, f"{assignment}.ipynb")
    for student, (_, zero, status) in students.items():
        assert results[student]["status"] == statuses[student] == status, results[student]["message"]
        if student == "trained_otherwise":
            assert "training steps; the task allows exactly 215" in results[student]["message"]
        if student == "trained_on_the_test_split" and status == "graded":  # exercise 5: no data set in reach
            assert "trained again outside it" in results[student]["message"], results[student]["message"]
            feedback = (scratch / "feedback" / student / assignment / f"{assignment}.html").read_text()
            assert "when the grader called fit_fashion again, outside your notebook" in feedback
        if status == "flagged":  # the instructor reads why, and the learner still gets feedback
            print(student, assignment, results[student]["message"])
            assert "flagged for review" in results[student]["message"]
            assert "trained on the test split" in results[student]["message"]
            assert (scratch / "feedback" / student / assignment / f"{assignment}.html").is_file()
        expected = {cell: (0.0 if cell in zero else value) for cell, value in points.items()}
        assert scores[student] == expected, (student, results[student]["message"])
    # The reference loses nothing to the judge; the attacks' kernel passes were overruled where the judge failed.
    assert not any(row["changed"] for row in results["reference"]["judged"])
    nbgrader_rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(open(tmp_path / "nbgrader.csv"))}
    ours = {row["student"]: float(row["score"]) for row in csv.DictReader(open(ours_csv))}
    assert nbgrader_rows == ours == {s: sum(v.values()) for s, v in scores.items()}
    html = (scratch / "feedback" / sorted(set(ADVERSARIAL[assignment]) - SLOW_IN_A_KERNEL)[0] / assignment /
            f"{assignment}.html").read_text()
    assert "Judged outside your notebook" in html
