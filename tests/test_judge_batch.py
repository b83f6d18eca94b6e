"""``python -m grader batch`` with the judge, on exercises 2 to 5: the gradebook holds the judge's scores.

For each exercise one batch grades the reference solution (full marks), the untouched notebook (zero) and two
adversarial submissions from ``tests/judge_cases.py`` (each loses exactly its cells), with a real
``nbgrader autograde`` in the sandbox. To keep the batch short, the adversarial submissions leave the training
tasks unanswered, so those cells score zero too. On exercises 3 and 5, whose data are public, one more learner
trains on the test split the tests score on: full marks in the kernel and outside it, and the status ``flagged``
(``grader.verify.flag``). On exercise 3 a learner who trains four times longer than the task says and silences
the kernel's check loses both model cells: the verifier reads the saved optimizer. On exercise 4 a learner whose scaler is a class of their own and not affine keeps full
marks: the verifier applies it in the sandbox. ``nbgrader export`` and ``python -m grader export`` agree.
Exercise 1's 33 cases are in ``tests/test_grading_batch.py``; exercise 4 also runs on PostgreSQL.
"""

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
from grader.verify import CHECKS as MODEL_CHECKS
from judge_cases import ADVERSARIAL, SCORED_IN_THE_SANDBOX, TRAINED_ON_THE_TEST_SPLIT, TRAINED_OTHERWISE
from tools import nbgrader_course as course
from tools.postgres import temporary_server

pytestmark = pytest.mark.slow
LIMITS = Limits(cell_seconds=200, notebook_seconds=900, memory_bytes=3 * 2**30)


def plan(assignment):
    """{student: (answers, graded cells that must score 0, final status)}."""
    notebook = f"{assignment}.ipynb"
    answers = course.solution_answers(assignment, notebook)
    model_cells = [check.grade_id for check in MODEL_CHECKS[assignment][assignment]]
    model_answers = {check.answer_id for check in MODEL_CHECKS[assignment][assignment]}
    untrained = {k: v for k, v in answers.items() if k not in model_answers}
    students = {"reference": (answers, [], "graded"),
                "untouched": ({}, list(course.max_scores(assignment, notebook)), "graded")}
    for name in list(ADVERSARIAL[assignment])[:2]:
        changes, failing = ADVERSARIAL[assignment][name]
        students[name] = ({**untrained, **changes}, sorted(set(failing) | set(model_cells)), "graded")
    if assignment in TRAINED_OTHERWISE:
        students["trained_otherwise"] = ({**answers, **TRAINED_OTHERWISE[assignment]}, model_cells, "graded")
    if assignment in SCORED_IN_THE_SANDBOX:
        students["own_preprocessing_class"] = ({**answers, **SCORED_IN_THE_SANDBOX[assignment]}, [], "graded")
    if assignment in TRAINED_ON_THE_TEST_SPLIT:
        students["trained_on_the_test_split"] = ({**answers, **TRAINED_ON_THE_TEST_SPLIT[assignment]}, [], "flagged")
    return students


def graded_scores(db_url, assignment):
    with Gradebook(db_url) as gradebook:
        return {s.student.id: {g.name: g.score for nb in s.notebooks for g in nb.grades}
                for s in gradebook.find_assignment(assignment).submissions}


def run_batch(tmp_path, assignment, db_url=None):
    scratch = course.make_course(tmp_path / "course", [assignment])
    released = course.released_notebook(scratch, assignment, f"{assignment}.ipynb")
    students = plan(assignment)
    for student, (answers, _, _) in students.items():
        folder = tmp_path / "inbox" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(course.fill_answers(released, answers), folder / f"{assignment}.ipynb")
    results = grade_batch(scratch, assignment, tmp_path / "inbox", workers=2, db_url=db_url, limits=LIMITS)
    return scratch, students, {r["student"]: r for r in results}


@pytest.mark.parametrize("assignment", ["ch02_nonlinearity", "ch03_learning_rate", "ch04_normalization",
                                        "ch05_multiclass"])
def test_the_gradebook_holds_the_judges_scores(tmp_path, assignment):
    assert not sandbox.problems(), "; ".join(sandbox.problems())
    scratch, students, results = run_batch(tmp_path, assignment)
    db_url = f"sqlite:///{scratch / 'gradebook.db'}"
    scores = graded_scores(db_url, assignment)
    points = course.max_scores(assignment, f"{assignment}.ipynb")
    for student, (_, zero, status) in students.items():
        assert results[student]["status"] == status, results[student]["message"]
        if student == "trained_otherwise":
            assert "training steps; the task allows exactly 215" in results[student]["message"]
        if status == "flagged":  # the instructor reads why, and the learner still gets feedback
            print(student, assignment, results[student]["message"])
            assert "flagged for review" in results[student]["message"]
            assert "trained on the test split" in results[student]["message"]
            assert (scratch / "feedback" / student / assignment / f"{assignment}.html").is_file()
        expected = {cell: (0.0 if cell in zero else value) for cell, value in points.items()}
        assert scores[student] == expected, (student, results[student]["message"])
    # The reference loses nothing to the judge; the attacks' kernel passes were overruled where the judge failed.
    assert not any(row["changed"] for row in results["reference"]["judged"])
    exported = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(tmp_path / "nbgrader.csv")],
                              cwd=scratch, env=nbgrader_environment(), capture_output=True, text=True, check=True)
    assert exported.returncode == 0
    nbgrader_rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(open(tmp_path / "nbgrader.csv"))}
    ours = {row["student"]: float(row["score"]) for row in csv.DictReader(open(export_csv(db_url, assignment,
                                                                                          tmp_path / "ours.csv")))}
    assert nbgrader_rows == ours == {s: sum(v.values()) for s, v in scores.items()}
    html = (scratch / "feedback" / list(students)[2] / assignment / f"{assignment}.html").read_text()
    assert "Judged outside your notebook" in html


def test_the_judge_writes_the_same_scores_into_postgresql(tmp_path):
    assert not sandbox.problems(), "; ".join(sandbox.problems())
    with temporary_server() as db_url:
        _, students, results = run_batch(tmp_path, "ch04_normalization", db_url=db_url)
        scores = graded_scores(db_url, "ch04_normalization")
    points = course.max_scores("ch04_normalization", "ch04_normalization.ipynb")
    for student, (_, zero, _) in students.items():
        assert scores[student] == {cell: (0.0 if cell in zero else value) for cell, value in points.items()}, \
            (student, results[student]["message"])
