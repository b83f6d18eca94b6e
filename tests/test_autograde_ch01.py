"""A real `nbgrader autograde` of exercise 1: the solution, the untouched exercise and typical mistakes.

All submissions are graded in one nbgrader run, in a scratch course, as an instructor would.
"""

import pytest

from tests.autograde_support import (check_tasks_cover_every_graded_cell, edited, expected_scores, grade_class,
                                     graded_in)
from tools import nbgrader_course as course

pytestmark = pytest.mark.sandbox

ASSIGNMENT = "ch01_single_neuron"
NOTEBOOK = "ch01_single_neuron.ipynb"
TASKS = {
    "Task 1": ["test_build_model_is_one_sigmoid_neuron", "test_build_model_uses_adam_at_given_rate"],
    "Task 2": ["test_train_model_reaches_target_on_test_split", "test_train_model_reaches_target_on_hidden_data"],
    "Task 3": ["test_to_labels_thresholds_at_one_half", "test_to_labels_uses_given_threshold"],
    "Task 4": ["test_boundary_x2_of_a_known_neuron", "test_decisive_feature"],
}



def submissions(answers):
    """student -> (answers, the graded cells that must score zero); every other cell keeps full points."""
    return {
        "solution": (answers, []),
        "loss_mse": (edited(answers, "build_model", '"binary_crossentropy"', '"mse"'),
                     ["test_build_model_is_one_sigmoid_neuron"]),
        "one_epoch": (edited(answers, "train_model", "epochs=50", "epochs=1"), TASKS["Task 2"]),
        "ignores_threshold": (edited(answers, "to_labels", "> threshold", "> 0.5"),
                              ["test_to_labels_uses_given_threshold"]),
        "boundary_sign": (edited(answers, "boundary_x2", "-(b[0]", "(b[0]"), ["test_boundary_x2_of_a_known_neuron"]),
        "wrong_feature": (edited(answers, "decisive_feature", "= 2", "= 1"), ["test_decisive_feature"]),
        # TensorFlow and other libraries write warnings to stderr; a correct answer keeps full marks.
        "stderr_warning": (edited(answers, "build_model", "    model = keras",
                                  "    import sys; print('UserWarning: noisy library', file=sys.stderr)\n    model = keras"),
                           []),
    }


def grade_in(scratch):
    """Grade every submission in the scratch course ``scratch``: ``(plan, scores)``."""
    answers = course.solution_answers(ASSIGNMENT, NOTEBOOK)
    plan = submissions(answers)
    no_sigmoid = edited(answers, "build_model", ', activation="sigmoid"', "")
    return plan, grade_class(scratch, ASSIGNMENT, NOTEBOOK, plan, {"no_sigmoid": no_sigmoid})


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return graded_in(ASSIGNMENT, lambda: tmp_path_factory.mktemp("course"), grade_in)[1]


def by_task(scores):
    return {task: sum(scores[test] for test in tests) for task, tests in TASKS.items()}


def test_tasks_cover_every_graded_cell():
    check_tasks_cover_every_graded_cell(ASSIGNMENT, NOTEBOOK, TASKS, total=9)


@pytest.mark.slow
def test_reference_solution_gets_full_marks(graded):
    _, scores = graded
    assert scores["solution"] == course.max_scores(ASSIGNMENT, NOTEBOOK)


@pytest.mark.slow
def test_untouched_exercise_gets_zero_on_every_task(graded):
    _, scores = graded
    assert set(by_task(scores["untouched"]).values()) == {0.0}


@pytest.mark.slow
@pytest.mark.parametrize("student", ["loss_mse", "one_epoch", "ignores_threshold", "boundary_sign", "wrong_feature",
                                     "stderr_warning"])
def test_typical_mistake_loses_exactly_the_points_of_what_it_breaks(graded, student):
    plan, scores = graded
    lost = plan[student][1]
    assert scores[student] == expected_scores(ASSIGNMENT, NOTEBOOK, lost)
    broken = {task for task, tests in TASKS.items() if set(tests) & set(lost)}
    assert len(broken) <= 1, "a single mistake must not cost points in two tasks"


@pytest.mark.slow
def test_output_without_sigmoid_loses_task_1_and_keeps_tasks_3_and_4(graded):
    _, scores = graded
    assert scores["no_sigmoid"]["test_build_model_is_one_sigmoid_neuron"] == 0.0
    tasks = by_task(scores["no_sigmoid"])
    assert tasks["Task 3"] == 2.0 and tasks["Task 4"] == 2.0
