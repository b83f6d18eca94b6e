"""grader.intake: find a submitted notebook, refuse what cannot be graded, rebuild it from the release."""

import nbformat
import pytest

from grader import intake
from grader.limits import Limits
from tools import nbgrader_course as course

ASSIGNMENT = NOTEBOOK = "ch01_single_neuron"


@pytest.fixture(scope="module")
def released():
    return nbformat.read(course.EXERCISES / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)


def grade_ids(notebook):
    return [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells]


def cell(notebook, grade_id):
    return next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_rebuild_keeps_the_answers_and_restores_everything_else(released):
    submitted = nbformat.from_dict(released)
    cell(submitted, "to_labels").source = "def to_labels(p, threshold=0.5):\n    return p"
    cell(submitted, "test_to_labels_thresholds_at_one_half").source = "pass"
    cell(submitted, "test_build_model_is_one_sigmoid_neuron").metadata["nbgrader"]["points"] = 100
    submitted.cells = [c for c in submitted.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_decisive_feature"]
    submitted.metadata["kernelspec"]["name"] = "python2"
    rebuilt = intake.rebuild(submitted, released)
    assert grade_ids(rebuilt.notebook) == grade_ids(released)
    assert cell(rebuilt.notebook, "to_labels").source.endswith("return p")
    for grade_id in ("test_to_labels_thresholds_at_one_half", "test_build_model_is_one_sigmoid_neuron"):
        assert cell(rebuilt.notebook, grade_id) == cell(released, grade_id)
    assert rebuilt.notebook.metadata["kernelspec"]["name"] == "python3"
    assert any("test_decisive_feature" in note for note in rebuilt.notes)


def test_rebuild_keeps_cells_the_learner_added_in_place_without_grading_metadata(released):
    submitted = nbformat.from_dict(released)
    position = grade_ids(submitted).index("to_labels")
    helper = nbformat.v4.new_code_cell("def helper():\n    return 1", metadata={"nbgrader": {"grade": True, "points": 50,
                                                                                            "grade_id": "mine"}})
    submitted.cells.insert(position + 1, helper)
    rebuilt = intake.rebuild(submitted, released).notebook
    index = [c.source for c in rebuilt.cells].index(helper.source)
    assert grade_ids(rebuilt)[index - 1] == "to_labels" and "nbgrader" not in rebuilt.cells[index].metadata


def test_the_first_of_two_cells_with_one_id_is_graded(released):
    submitted = nbformat.from_dict(released)
    first = nbformat.from_dict(cell(submitted, "to_labels"))
    first.source = "first = True"
    submitted.cells.insert(grade_ids(submitted).index("to_labels"), first)
    rebuilt = intake.rebuild(submitted, released)
    assert cell(rebuilt.notebook, "to_labels").source == "first = True"
    assert any("Two cells had the id 'to_labels'" in note for note in rebuilt.notes)


def test_a_renamed_notebook_is_found_and_a_missing_one_refused(tmp_path):
    (tmp_path / "mine.ipynb").write_text("{}")
    path, notes = intake.find_notebook(tmp_path, "ch01_single_neuron.ipynb")
    assert path.name == "mine.ipynb" and "instead of" in notes[0]
    (tmp_path / "other.ipynb").write_text("{}")
    with pytest.raises(intake.Refused, match="No notebook 'ch01_single_neuron.ipynb' was submitted") as refused:
        intake.find_notebook(tmp_path, "ch01_single_neuron.ipynb")
    assert refused.value.status == "missing"


@pytest.mark.parametrize("content, status, message", [
    ("{not json", "invalid", "not a valid notebook"),
    ('{"cells": 3, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "invalid", "not a valid notebook"),
])
def test_a_file_that_is_not_a_notebook_is_refused(tmp_path, content, status, message):
    path = tmp_path / "n.ipynb"
    path.write_text(content)
    with pytest.raises(intake.Refused, match=message) as refused:
        intake.load(path)
    assert refused.value.status == status


def test_a_notebook_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "n.ipynb"
    with open(path, "wb") as stream:
        stream.truncate(25 * 2**20)
    with pytest.raises(intake.Refused, match="25 MiB; the limit is 20 MiB") as refused:
        intake.load(path, Limits())
    assert refused.value.status == "too large"


def test_every_fixture_answer_is_valid_python():
    """A fixture that fails to compile would score zero for the wrong reason and prove nothing."""
    import ast

    import grading_fixtures

    answers = course.solution_answers(grading_fixtures.ASSIGNMENT, grading_fixtures.NOTEBOOK)
    for name, (fixture_answers, _) in grading_fixtures.fixtures(answers).items():
        for grade_id, source in (fixture_answers.items() if isinstance(fixture_answers, dict) and not name.startswith("_")
                                 else []):
            code = "\n".join(line for line in source.splitlines() if "get_ipython" not in line)
            ast.parse(code, filename=f"{name}:{grade_id}")
