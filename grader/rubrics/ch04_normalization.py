"""Exercise 4, normalize your inputs: the judge's checks of leak-free scaling."""

import numpy as np

from grader.judge import Failed
from grader.rubrics import call, close


def requests(rng):
    k = int(rng.integers(3, 7))
    means, spreads = rng.uniform(-100, 5000, k), 10 ** rng.uniform(-1, 3, k)
    train = rng.normal(means, spreads, (int(rng.integers(80, 300)), k))
    test = rng.normal(means + rng.uniform(1, 3, k) * spreads, spreads * rng.uniform(0.1, 0.5, k),
                      (int(rng.integers(20, 60)), k))  # shifted and squeezed: its own statistics would differ
    inputs = {"train": train, "test": test}
    return [call("scaled", "scale_splits", {"array": "train"}, {"array": "test"}, parts=True, return_args=True)], inputs


def _scaled(r):
    try:
        return r.array("scaled/0"), r.array("scaled/1")
    except Failed as failed:
        raise Failed(f"scale_splits(X_train, X_test) must return two arrays: {failed}") from None


def standardises_the_training_split(r):
    train, test = r.inputs["train"], r.inputs["test"]
    got_train, got_test = _scaled(r)
    close(got_train, (train - train.mean(axis=0)) / train.std(axis=0), "The scaled training split", atol=1e-4,
          rtol=1e-4)
    if np.asarray(got_test).shape != test.shape or np.allclose(np.asarray(got_test, dtype=float), test):
        raise Failed("The test split came back unscaled (or in another shape): transform it too.")


def uses_training_statistics_only(r):
    train, test = r.inputs["train"], r.inputs["test"]
    _, got_test = _scaled(r)
    if not (np.array_equal(r.array("scaled/arg0"), train) and np.array_equal(r.array("scaled/arg1"), test)):
        raise Failed("scale_splits changed the arrays it was given: return new arrays.")
    close(got_test, (test - train.mean(axis=0)) / train.std(axis=0),
          "The scaled test split (it must use the training split's mean and standard deviation alone)",
          atol=1e-4, rtol=1e-4)


CHECKS = {
    "test_scale_splits_standardises_the_training_split": ("scale_splits", standardises_the_training_split),
    "test_scale_splits_uses_training_statistics_only": ("scale_splits", uses_training_statistics_only),
}
