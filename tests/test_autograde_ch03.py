"""A real `nbgrader autograde` of exercise 3: the solution, the untouched exercise and typical mistakes."""

import pytest

from tests.autograde_support import AutogradeSuite, edited

pytestmark = pytest.mark.sandbox

TASKS = {
    "Task 1": ["test_exponential_schedule_example", "test_exponential_schedule_other_ranges"],
    "Task 2": ["test_sweep_is_a_sweep_of_the_digits", "test_chosen_rate_is_on_the_steep_part"],
    "Task 3": ["test_train_given_model_reaches_the_target", "test_train_given_model_on_a_fresh_split"],
}


class TestExercise3(AutogradeSuite):
    ASSIGNMENT = "ch03_learning_rate"
    NOTEBOOK = "ch03_learning_rate.ipynb"
    TASKS = TASKS
    TOTAL = 8

    @staticmethod
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
                                        "optimizer=keras.optimizers.Adam(learning_rate=learning_rate)",
                                        'optimizer="adam"'),
                                 TASKS["Task 3"]),
            "trains_longer": (edited(answers, "train_given_model", "epochs=EPOCHS", "epochs=3 * EPOCHS"),
                              TASKS["Task 3"]),
            # SGD at a rate chosen for Adam: the test names the optimizer, not only the low accuracy.
            "sgd_instead_of_adam": (edited(answers, "train_given_model", "keras.optimizers.Adam(learning_rate",
                                           "keras.optimizers.SGD(learning_rate"), TASKS["Task 3"]),
        }
