"""A real `nbgrader autograde` of exercise 5: the solution, the untouched exercise and typical mistakes."""

import pytest

from tests.autograde_support import AutogradeSuite, edited

pytestmark = pytest.mark.sandbox

TASKS = {
    "Task 1": ["test_fit_fashion_reaches_the_target_within_budget", "test_fit_fashion_on_the_other_half"],
    "Task 2": ["test_confusion_counts_match_the_predictions", "test_most_confused_pair_on_known_matrices"],
    "Task 3": ["test_show_class_returns_the_shown_images", "test_show_class_other_class"],
    "Task 4": ["test_to_loss_labels_two_classes", "test_to_loss_labels_many_classes"],
}


class TestExercise5(AutogradeSuite):
    ASSIGNMENT = "ch05_multiclass"
    NOTEBOOK = "ch05_multiclass.ipynb"
    TASKS = TASKS
    TOTAL = 10

    @staticmethod
    def submissions(answers):
        """student -> (answers, the graded cells that must score zero); every other cell keeps full points.

        Tasks 2 and 3 use the learner's Task 1 model whatever its accuracy, so a weak model costs Task 1 only.
        """
        return {
            "solution": (answers, []),
            "raw_pixels": (edited(answers, "fit_fashion", "        keras.layers.Rescaling(1 / 255),\n", ""),
                           TASKS["Task 1"]),
            "output_without_softmax": (edited(answers, "fit_fashion", 'keras.layers.Dense(10, activation="softmax")',
                                              "keras.layers.Dense(10)"), TASKS["Task 1"]),
            "diagonal_counted": (edited(answers, "confusion", "    np.fill_diagonal(mistakes, -1)\n", ""),
                                 ["test_most_confused_pair_on_known_matrices"]),
            "labels_left_at_1_to_k": (edited(answers, "to_loss_labels", ' - 1', ""), TASKS["Task 4"]),
        }
