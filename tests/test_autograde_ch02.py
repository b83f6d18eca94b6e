"""A real `nbgrader autograde` of exercise 2: the solution, the untouched exercise and typical mistakes."""

import pytest
from nbgrader.api import Gradebook

from grader.verify import verify_student
from tests.autograde_support import AutogradeSuite, edited
from tools import nbgrader_course as course

pytestmark = pytest.mark.sandbox

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

# Passes every test in the kernel with an untrained model, by faking predict; only the verifier catches it.
FAKED_CIRCLES = '''def fit_circles(X, y):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.predict = lambda X, *args, **kwargs: (np.hypot(*np.asarray(X).T) < 0.9).astype("float32")[:, None]
    return model
''' + LINEAR_CIRCLES[LINEAR_CIRCLES.index("def fit_moons"):]

TASKS = {
    "Task 1": ["test_fit_circles_separates_the_rings", "test_fit_circles_on_hidden_data"],
    "Task 2": ["test_fit_moons_separates_the_moons", "test_fit_moons_on_hidden_data"],
    "Task 3": ["test_activations_match_keras", "test_softmax_is_stable_and_uses_the_last_axis"],
    "Task 4": ["test_spec_model_layers", "test_spec_model_compile_and_parameter_count"],
}


class TestExercise2(AutogradeSuite):
    ASSIGNMENT = "ch02_nonlinearity"
    NOTEBOOK = "ch02_nonlinearity.ipynb"
    TASKS = TASKS
    TOTAL = 12

    @staticmethod
    def submissions(answers):
        """student -> (answers, the graded cells that must score zero); every other cell keeps full points."""
        return {
            "solution": (answers, []),
            # fit_moons calls fit_circles in the reference; this learner wrote both, and only the circles one is linear.
            "linear_circles": ({**answers, "fit_circles": LINEAR_CIRCLES, "fit_moons": "# written above\n"},
                               TASKS["Task 1"]),
            "overflowing_softmax": (edited(answers, "activations", "x - ops.max(x, axis=-1, keepdims=True)", "x"),
                                    ["test_softmax_is_stable_and_uses_the_last_axis"]),
            "wrong_width": (edited(answers, "build_spec_model", '(16, "tanh")', '(12, "tanh")'), TASKS["Task 4"]),
            # Full marks in the kernel; test_verification_outside_the_kernel takes Task 1 away.
            "faked_circles": ({**answers, "fit_circles": FAKED_CIRCLES, "fit_moons": "# written above\n"}, []),
        }

    @pytest.mark.slow
    def test_verification_outside_the_kernel(self, graded, scratch):
        """The faked circles model loses both circles tests, with a comment; its honest moons model keeps its points."""
        db_url = f"sqlite:///{scratch / 'gradebook.db'}"
        faked = verify_student(scratch, db_url, self.ASSIGNMENT, "faked_circles")
        assert sorted(row["grade_id"] for row in faked if row["corrected"]) == sorted(TASKS["Task 1"]), faked
        with Gradebook(db_url) as gradebook:
            scores = {g.name: g.score for nb in gradebook.find_submission(self.ASSIGNMENT, "faked_circles").notebooks
                      for g in nb.grades}
            comment = gradebook.find_comment("fit_circles", "ch02_nonlinearity", self.ASSIGNMENT, "faked_circles")
            assert "Verified outside your notebook" in comment.manual_comment
        assert {test: scores[test] for test in TASKS["Task 1"]} == dict.fromkeys(TASKS["Task 1"], 0.0)
        assert sum(scores.values()) == self.TOTAL - 3

    @pytest.mark.slow
    def test_the_learner_reads_the_diagnosis_in_the_feedback(self, graded, scratch):
        """A failed hidden accuracy test says why: the linear circles model is diagnosed in the autograded notebook."""
        feedback = course.feedback_text(scratch, "linear_circles", self.ASSIGNMENT, self.NOTEBOOK,
                                        "test_fit_circles_on_hidden_data")
        assert "AssertionError: accuracy 0." in feedback
        assert "· The model has no non-linear activation, so it can only draw straight lines" in feedback
        assert "activation='relu'" in feedback
