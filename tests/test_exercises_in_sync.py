"""exercises/ must be exactly what `nbgrader generate_assignment` makes from solutions/ now."""

import filecmp

import pytest

from tools import nbgrader_course as course


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return course.make_course(tmp_path_factory.mktemp("course"))


@pytest.mark.parametrize("assignment", course.assignments())
def test_exercise_folder_matches_generate_assignment(generated, assignment):
    fresh = generated / "exercises" / assignment
    checked_in = course.EXERCISES / assignment
    assert checked_in.is_dir(), f"exercises/{assignment} is missing: run `make exercises`."
    comparison = filecmp.dircmp(fresh, checked_in, ignore=[".ipynb_checkpoints", "__pycache__"])
    stale = comparison.left_only + comparison.right_only + comparison.diff_files
    assert not stale, f"exercises/{assignment} is stale ({stale}): run `make exercises` and commit the result."
    for name in course.notebook_names(assignment):
        assert (fresh / name).read_text() == (checked_in / name).read_text(), (
            f"exercises/{assignment}/{name} differs from generate_assignment's output: run `make exercises`.")


def test_every_assignment_has_a_learner_version_and_no_solutions_leak():
    for assignment in course.assignments():
        for name in course.notebook_names(assignment):
            text = (course.EXERCISES / assignment / name).read_text()
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
            assert "raise NotImplementedError()" in text
    assert sorted(p.name for p in course.EXERCISES.iterdir() if p.is_dir()) == course.assignments()
