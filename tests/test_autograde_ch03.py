"""A real `nbgrader autograde` of exercise 3: the solution, the untouched exercise and typical mistakes."""

import pytest

from tests.autograde_support import check_tasks_cover_every_graded_cell, edited, expected_scores, grade_class
from tools import nbgrader_course as course

ASSIGNMENT = "ch03_learning_rate"
NOTEBOOK = "ch03_learning_rate.ipynb"
TASKS = {
    "Task 1": ["test_exponential_schedule_example", "test_exponential_schedule_other_ranges"],
    "Task 2": ["test_sweep_is_a_sweep_of_the_digits", "test_chosen_rate_is_on_the_steep_part"],
    "Task 3": ["test_train_given_model_reaches_the_target", "test_train_given_model_on_a_fresh_split"],
}


def submissions(answers):
    """student -> (answers, the graded cells that must score zero); every other cell keeps full points."""
    choice = "chosen_rate = float(rates[np.argmin(smoothed)] / 10)"
    return {
        "solution": (answers, []),
        "linear_schedule": (edited(answers, "exponential_schedule",
                                   "start * (end / start) ** (np.arange(steps) / (steps - 1))",
                                   "np.linspace(start, end, steps)"), TASKS["Task 1"]),
        # The two classic misreadings of the curve: the bottom itself, and Keras's default on the flat part.
        # Task 3 then trains with the fallback rate and keeps its points: the choice is graded once.
        "rate_at_the_minimum": (edited(answers, "sweep_and_choose", choice,
                                       "chosen_rate = float(rates[np.argmin(smoothed)])"),
                                ["test_chosen_rate_is_on_the_steep_part"]),
        "default_rate": (edited(answers, "sweep_and_choose", choice, "chosen_rate = 0.001"),
                         ["test_chosen_rate_is_on_the_steep_part"]),
        "ignores_the_rate": (edited(answers, "train_given_model",
                                    "optimizer=keras.optimizers.Adam(learning_rate=learning_rate)", 'optimizer="adam"'),
                             TASKS["Task 3"]),
        "trains_longer": (edited(answers, "train_given_model", "epochs=EPOCHS", "epochs=3 * EPOCHS"), TASKS["Task 3"]),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    plan = submissions(course.solution_answers(ASSIGNMENT, NOTEBOOK))
    return plan, grade_class(tmp_path_factory.mktemp("course"), ASSIGNMENT, NOTEBOOK, plan)


def test_tasks_cover_every_graded_cell():
    check_tasks_cover_every_graded_cell(ASSIGNMENT, NOTEBOOK, TASKS, total=8)


@pytest.mark.slow
def test_untouched_exercise_gets_zero_everywhere(graded):
    _, scores = graded
    assert set(scores["untouched"].values()) == {0.0}


@pytest.mark.slow
@pytest.mark.parametrize("student", ["solution", "linear_schedule", "rate_at_the_minimum", "default_rate",
                                     "ignores_the_rate", "trains_longer"])
def test_each_submission_loses_exactly_the_points_of_what_it_breaks(graded, student):
    plan, scores = graded
    assert scores[student] == expected_scores(ASSIGNMENT, NOTEBOOK, plan[student][1])
