"""Exercise 3, finding a learning rate: the judge's checks of the schedule, the sweep and the chosen rate.

The sweep trains a network, so the judge does not run it again: the hidden test keeps the learner's ``rates``,
``losses`` and ``chosen_rate`` (``helpers.grading.keep_values``) and the judge checks them here, with the
course's own ``check_sweep`` and ``check_learning_rate_choice`` running in the instructor's process.
"""

import numpy as np

from grader.judge import Failed
from grader.rubrics import call, close
from helpers.grading import check_learning_rate_choice, check_sweep


def _schedule(start, end, steps):
    return start * (end / start) ** (np.arange(steps) / (steps - 1))


def requests(rng):
    ranges = [(1e-4, 1.0, 5)]
    for steps in (2, int(rng.integers(3, 9)), int(rng.integers(30, 250))):
        start = float(10 ** rng.uniform(-7, -2))
        ranges.append((start, float(start * 10 ** rng.uniform(0.3, 7)), steps))
    inputs = {"ranges": np.array(ranges)}
    return [call(f"schedule{i}", "exponential_schedule", {"value": a}, {"value": b}, {"value": int(n)})
            for i, (a, b, n) in enumerate(ranges)], inputs


def schedule_example(r):
    close(r.array("schedule0"), _schedule(1e-4, 1.0, 5), "exponential_schedule(1e-4, 1.0, 5)", atol=0, rtol=1e-6)


def schedule_other_ranges(r):
    for i, (start, end, steps) in enumerate(r.inputs["ranges"][1:], start=1):
        close(r.array(f"schedule{i}"), _schedule(start, end, int(steps)),
              f"exponential_schedule({start:.3g}, {end:.3g}, {int(steps)})", atol=0, rtol=1e-6)


def _sweep(r):
    kept = r.captured("sweep")
    if "rates" not in kept or "losses" not in kept:
        raise Failed("There is no sweep to check: keep its results in variables named rates and losses.")
    try:
        return check_sweep(kept["rates"], kept["losses"])
    except AssertionError as problem:
        raise Failed(str(problem)) from None


def sweep_of_the_digits(r):
    _, losses = _sweep(r)
    first = float(np.mean(losses[:10]))
    if not 1.5 < first < 3.5:
        raise Failed(f"The sweep starts at a loss of {first:.2f}; ten classes with sparse categorical cross-entropy "
                     "start near ln(10) = 2.3. Sweep given_model() compiled with that loss, on X_train and y_train.")


def chosen_rate_on_the_steep_part(r):
    rates, losses = _sweep(r)
    chosen = r.captured("sweep").get("chosen_rate")
    if chosen is None or chosen.shape != ():
        raise Failed("chosen_rate must be one number.")
    try:
        check_learning_rate_choice(rates, losses, float(chosen))
    except AssertionError as problem:
        raise Failed(str(problem)) from None


CHECKS = {
    "test_exponential_schedule_example": ("exponential_schedule", schedule_example),
    "test_exponential_schedule_other_ranges": ("exponential_schedule", schedule_other_ranges),
    "test_sweep_is_a_sweep_of_the_digits": ("sweep_and_choose", sweep_of_the_digits),
    "test_chosen_rate_is_on_the_steep_part": ("sweep_and_choose", chosen_rate_on_the_steep_part),
}
