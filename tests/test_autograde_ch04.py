"""A real `nbgrader autograde` of exercise 4: the solution, the untouched exercise and typical mistakes."""

import pytest

from tests.autograde_support import AutogradeSuite, edited

pytestmark = pytest.mark.sandbox

FIT_ON_TEST = '''def scale_splits(X_train, X_test):
    return StandardScaler().fit_transform(X_train), StandardScaler().fit_transform(X_test)
'''
FIT_ON_BOTH = '''def scale_splits(X_train, X_test):
    scaler = StandardScaler().fit(np.vstack([X_train, X_test]))
    return scaler.transform(X_train), scaler.transform(X_test)
'''
NO_SCALING = '''class NoScaling:
    def transform(self, X):
        return X


def fit_machines(X, y):
    model = keras.Sequential([keras.Input(shape=(X.shape[1],)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
    model.fit(X, y, epochs=30, batch_size=32, verbose=0)
    return NoScaling(), model
'''

TASKS = {
    "Task 1": ["test_scale_splits_standardises_the_training_split", "test_scale_splits_uses_training_statistics_only"],
    "Task 2": ["test_fit_machines_reaches_the_target", "test_fit_machines_on_other_machines"],
    "Task 3": ["test_fit_wine_normalizes_and_reaches_the_target", "test_fit_wine_on_a_fresh_split"],
}


class TestExercise4(AutogradeSuite):
    ASSIGNMENT = "ch04_normalization"
    NOTEBOOK = "ch04_normalization.ipynb"
    TASKS = TASKS
    TOTAL = 9

    @staticmethod
    def submissions(answers):
        """student -> (answers, the graded cells that must score zero); every other cell keeps full points."""
        return {
            "solution": (answers, []),
            # Refitting on the test split passes the visible test (the training split is standardised)
            # and fails the hidden one.
            "scaler_fit_on_test": ({**answers, "scale_splits": FIT_ON_TEST},
                                   ["test_scale_splits_uses_training_statistics_only"]),
            "scaler_fit_on_both": ({**answers, "scale_splits": FIT_ON_BOTH}, TASKS["Task 1"]),
            "raw_features": ({**answers, "fit_machines": NO_SCALING}, TASKS["Task 2"]),
            "normalization_not_adapted": (edited(answers, "fit_wine", "    normalizer.adapt(X)\n", ""),
                                          TASKS["Task 3"]),
        }
