"""A real `nbgrader autograde` of exercise 2: the solution, the untouched exercise and typical mistakes."""

import pytest

from tests.autograde_support import check_tasks_cover_every_graded_cell, edited, expected_scores, grade_class
from tools import nbgrader_course as course

ASSIGNMENT = "ch02_nonlinearity"
NOTEBOOK = "ch02_nonlinearity.ipynb"
TASKS = {
    "Task 1": ["test_fit_circles_separates_the_rings", "test_fit_circles_on_hidden_data"],
    "Task 2": ["test_fit_moons_separates_the_moons", "test_fit_moons_on_hidden_data"],
    "Task 3": ["test_activations_match_keras", "test_softmax_is_stable_and_uses_the_last_axis"],
    "Task 4": ["test_spec_model_layers", "test_spec_model_compile_and_parameter_count"],
}
LINEAR_CIRCLES = '''def fit_circles(X, y):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(16), keras.layers.Dense(16),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
    model.fit(X, y, epochs=40, batch_size=32, verbose=0)
    return model


def fit_moons(X, y):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
    model.fit(X, y, epochs=40, batch_size=32, verbose=0)
    return model
'''



def submissions(answers):
    """student -> (answers, the graded cells that must score zero); every other cell keeps full points."""
    return {
        "solution": (answers, []),
        # fit_moons calls fit_circles in the reference; this learner wrote both, and only the circles one is linear.
        "linear_circles": ({**answers, "fit_circles": LINEAR_CIRCLES, "fit_moons": "# written above\n"}, TASKS["Task 1"]),
        "overflowing_softmax": (edited(answers, "activations", "x - ops.max(x, axis=-1, keepdims=True)", "x"),
                                ["test_softmax_is_stable_and_uses_the_last_axis"]),
        "wrong_width": (edited(answers, "build_spec_model", '(16, "tanh")', '(12, "tanh")'), TASKS["Task 4"]),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    plan = submissions(course.solution_answers(ASSIGNMENT, NOTEBOOK))
    return plan, grade_class(tmp_path_factory.mktemp("course"), ASSIGNMENT, NOTEBOOK, plan)


def test_tasks_cover_every_graded_cell():
    check_tasks_cover_every_graded_cell(ASSIGNMENT, NOTEBOOK, TASKS, total=12)


@pytest.mark.slow
def test_untouched_exercise_gets_zero_everywhere(graded):
    _, scores = graded
    assert set(scores["untouched"].values()) == {0.0}


@pytest.mark.slow
@pytest.mark.parametrize("student", ["solution", "linear_circles", "overflowing_softmax", "wrong_width"])
def test_each_submission_loses_exactly_the_points_of_what_it_breaks(graded, student):
    plan, scores = graded
    assert scores[student] == expected_scores(ASSIGNMENT, NOTEBOOK, plan[student][1])
