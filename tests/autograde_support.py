"""Shared steps of the autograde tests: edit reference answers, grade a class, compute expected scores."""

from tools import nbgrader_course as course


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
