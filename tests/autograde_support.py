"""Shared steps of the autograde tests: edit reference answers, grade a class, compute expected scores."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from grader.verify import CHECKS, verify_student
from tools import nbgrader_course as course

# Each exercise's plain autograde is one nbgrader run in its own scratch course, a single kernel at a time, so two
# exercises graded side by side take about half the time on 2 cores. ``tests/conftest.py`` starts every collected
# exercise's run here when the tests are collected; the ``graded`` fixtures wait for their own.
BACKGROUND_RUNS = 2
_pool, _runs = None, {}


def start_in_background(assignment, make_folder, grade):
    """Start ``grade(make_folder())`` for ``assignment`` on the background pool (``BACKGROUND_RUNS`` at a time),
    once: a later call for the same assignment makes no folder and starts nothing."""
    global _pool
    if assignment in _runs:
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=BACKGROUND_RUNS, thread_name_prefix="plain autograde")
    folder = make_folder()
    _runs[assignment] = folder, _pool.submit(grade, folder)


def stop_background_runs():
    """Drop the runs that have not started (a session that stops early does not wait for them)."""
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)


def graded_in(assignment, make_folder, grade):
    """``(folder, grade(folder))``: the background run of ``assignment`` once it ends, or a run started now."""
    if assignment not in _runs:
        folder = make_folder()
        return folder, grade(folder)
    folder, future = _runs[assignment]
    return folder, future.result()


def edited(answers, grade_id, old, new):
    """The reference answers with one solution cell changed; fails loudly if the reference no longer matches."""
    assert old in answers[grade_id], f"the reference answer for {grade_id} no longer contains {old!r}"
    return {**answers, grade_id: answers[grade_id].replace(old, new)}


def grade_class(scratch, assignment, notebook, plan, extra=None):
    """Submit every student of ``plan`` (and ``extra`` ready-made notebooks), autograde once, return scores.

    ``plan`` maps a student to ``(answers, ...)``; ``extra`` maps a student to a whole notebook.
    Returns ``{student: {grade_id: score}}`` for ``notebook``.
    """
    course.make_course(scratch, [assignment])
    released = course.released_notebook(scratch, assignment, notebook)
    for student, (answers, *_) in plan.items():
        course.submit(scratch, student, assignment, notebook, course.fill_answers(released, answers))
    course.submit(scratch, "untouched", assignment, notebook, released)
    for student, nb in (extra or {}).items():
        course.submit(scratch, student, assignment, notebook, course.fill_answers(released, nb))
    course.autograde(scratch, assignment)
    return {student: nbs[notebook] for student, nbs in course.scores(scratch, assignment).items()}


def expected_scores(assignment, notebook, lost):
    """Full points on every graded cell except those in ``lost``, which score zero."""
    return {test: (0.0 if test in lost else points) for test, points in course.max_scores(assignment, notebook).items()}


def check_tasks_cover_every_graded_cell(assignment, notebook, tasks, total):
    """Every graded cell belongs to exactly one task of ``tasks``, and the points add up to ``total``."""
    points = course.max_scores(assignment, notebook)
    assert sorted(points) == sorted(test for tests in tasks.values() for test in tests)
    assert sum(points.values()) == total


class AutogradeSuite:
    """What every exercise must show under a real `nbgrader autograde`, in one nbgrader run.

    A test class ``TestExerciseN(AutogradeSuite)`` sets ``ASSIGNMENT``, ``NOTEBOOK``, ``TASKS``
    (task -> its graded cell ids), ``TOTAL`` (points) and a static ``submissions(answers)``
    returning ``{student: (answers, [graded cells that must score zero])}`` with a "solution"
    student. ``tests/conftest.py`` parametrizes ``student`` over those students.
    """

    ASSIGNMENT = NOTEBOOK = None
    TASKS, TOTAL = {}, 0

    @staticmethod
    def submissions(answers):
        raise NotImplementedError

    @classmethod
    def students(cls):
        return list(cls.submissions(course.solution_answers(cls.ASSIGNMENT, cls.NOTEBOOK)))

    @classmethod
    def grade_in(cls, scratch):
        """Grade every submission in the scratch course ``scratch``: ``(plan, scores)``."""
        plan = cls.submissions(course.solution_answers(cls.ASSIGNMENT, cls.NOTEBOOK))
        return plan, grade_class(scratch, cls.ASSIGNMENT, cls.NOTEBOOK, plan)

    @pytest.fixture(scope="class")
    @classmethod
    def graded_course(cls, tmp_path_factory):
        return graded_in(cls.ASSIGNMENT, lambda: tmp_path_factory.mktemp(cls.ASSIGNMENT), cls.grade_in)

    @pytest.fixture(scope="class")
    @classmethod
    def scratch(cls, graded_course):
        return graded_course[0]

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, graded_course):
        return graded_course[1]

    def test_tasks_cover_every_graded_cell(self):
        check_tasks_cover_every_graded_cell(self.ASSIGNMENT, self.NOTEBOOK, self.TASKS, self.TOTAL)

    @pytest.mark.slow
    def test_untouched_exercise_gets_zero_everywhere(self, graded):
        _, scores = graded
        assert set(scores["untouched"].values()) == {0.0}

    @pytest.mark.slow
    def test_untouched_visible_tests_say_not_attempted_without_a_traceback(self, graded, scratch):
        for test in course.visible_tests(self.ASSIGNMENT, self.NOTEBOOK):
            outputs = course.graded_outputs(scratch, "untouched", self.ASSIGNMENT, self.NOTEBOOK, test)
            errors = [output for output in outputs if output.output_type == "error"]
            assert len(errors) == 1 and errors[0].ename == "TaskFeedback", (test, outputs)
            assert len(errors[0].traceback) == 1 and "has not been attempted yet" in errors[0].traceback[0], test

    @pytest.mark.slow
    def test_the_solutions_models_pass_the_verification_outside_the_kernel(self, graded, scratch):
        """grader.verify scores every model the reference kept, in a fresh process: all verified, nothing corrected."""
        rows = verify_student(scratch, f"sqlite:///{scratch / 'gradebook.db'}", self.ASSIGNMENT, "solution")
        expected = CHECKS[self.ASSIGNMENT][self.NOTEBOOK.removesuffix(".ipynb")]
        assert sorted(row["grade_id"] for row in rows) == sorted(check.grade_id for check in expected)
        for row in rows:
            assert row["verified_accuracy"] is not None and not row["corrected"] and not row["disagrees"], row
            assert row["flagged"] is None, row  # an honest model does not look trained on the test split
            assert row["verified_accuracy"] >= row["target"], row

    @pytest.mark.slow
    def test_solved_visible_tests_say_correct(self, graded, scratch):
        for test in course.visible_tests(self.ASSIGNMENT, self.NOTEBOOK):
            outputs = course.graded_outputs(scratch, "solution", self.ASSIGNMENT, self.NOTEBOOK, test)
            text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
            assert "correct on the visible test" in text and all(o.output_type != "error" for o in outputs), test

    @pytest.mark.slow
    def test_each_submission_loses_exactly_the_points_of_what_it_breaks(self, graded, student):
        plan, scores = graded
        assert scores[student] == expected_scores(self.ASSIGNMENT, self.NOTEBOOK, plan[student][1])

    @pytest.mark.slow
    def test_no_test_cell_shows_a_value(self, graded, scratch):
        """nbgrader reads a value shown by a test cell as partial credit: the reference's test cells show none."""
        for test in course.max_scores(self.ASSIGNMENT, self.NOTEBOOK):
            outputs = course.graded_outputs(scratch, "solution", self.ASSIGNMENT, self.NOTEBOOK, test)
            assert all(output.output_type != "execute_result" for output in outputs), (test, outputs)
