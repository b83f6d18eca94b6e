"""A real `nbgrader autograde` of exercise 5: the solution, the untouched exercise and typical mistakes."""

import pytest

from tests.autograde_support import check_tasks_cover_every_graded_cell, edited, expected_scores, grade_class
from tools import nbgrader_course as course

ASSIGNMENT = "ch05_multiclass"
NOTEBOOK = "ch05_multiclass.ipynb"
TASKS = {
    "Task 1": ["test_fit_fashion_reaches_the_target_within_budget", "test_fit_fashion_on_the_other_half"],
    "Task 2": ["test_confusion_counts_match_the_predictions", "test_most_confused_pair_on_known_matrices"],
    "Task 3": ["test_show_class_returns_the_shown_images", "test_show_class_other_class"],
    "Task 4": ["test_to_loss_labels_two_classes", "test_to_loss_labels_many_classes"],
}


def submissions(answers):
    """student -> (answers, the graded cells that must score zero); every other cell keeps full points.

    Tasks 2 and 3 use the learner's Task 1 model whatever its accuracy, so a weak model costs Task 1 only.
    """
    return {
        "solution": (answers, []),
        "raw_pixels": (edited(answers, "fit_fashion", "        keras.layers.Rescaling(1 / 255),\n", ""), TASKS["Task 1"]),
        "output_without_softmax": (edited(answers, "fit_fashion", 'keras.layers.Dense(10, activation="softmax")',
                                          "keras.layers.Dense(10)"), TASKS["Task 1"]),
        "diagonal_counted": (edited(answers, "confusion", "    np.fill_diagonal(mistakes, -1)\n", ""),
                             ["test_most_confused_pair_on_known_matrices"]),
        "labels_left_at_1_to_k": (edited(answers, "to_loss_labels", ' - 1', ""), TASKS["Task 4"]),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    plan = submissions(course.solution_answers(ASSIGNMENT, NOTEBOOK))
    return plan, grade_class(tmp_path_factory.mktemp("course"), ASSIGNMENT, NOTEBOOK, plan)


def test_tasks_cover_every_graded_cell():
    check_tasks_cover_every_graded_cell(ASSIGNMENT, NOTEBOOK, TASKS, total=10)


@pytest.mark.slow
def test_untouched_exercise_gets_zero_everywhere(graded):
    _, scores = graded
    assert set(scores["untouched"].values()) == {0.0}


@pytest.mark.slow
@pytest.mark.parametrize("student", ["solution", "raw_pixels", "output_without_softmax", "diagonal_counted",
                                     "labels_left_at_1_to_k"])
def test_each_submission_loses_exactly_the_points_of_what_it_breaks(graded, student):
    plan, scores = graded
    assert scores[student] == expected_scores(ASSIGNMENT, NOTEBOOK, plan[student][1])
