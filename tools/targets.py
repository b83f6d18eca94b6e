"""Check each exercise's accuracy targets against its reference solution, over many seeds.

A target is only fair if the reference solution reaches it every time. For each target,
this runs the reference answers from ``solutions/`` under the same protocol as the hidden
test (fresh data from a new seed, a seeded model), once per seed, and reports the scores.
``tests/test_targets.py`` asserts 20 of 20; ``bench/run_bench.py`` prints the margins.
"""

import time
from dataclasses import dataclass, field

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

from grader.verify import FALLBACK_RATE  # exercise 3's, which the hidden tests and the verifier use
from tools.nbgrader_course import SOLUTIONS, solution_answers


@dataclass
class TargetRun:
    assignment: str
    name: str
    target: float
    scores: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    @property
    def reached(self):
        return sum(score >= self.target for score in self.scores)

    def summary(self):
        return (f"{self.assignment} · {self.name}: target {self.target:.2f}, reached {self.reached}/{len(self.scores)}, "
                f"min {min(self.scores):.3f}, median {sorted(self.scores)[len(self.scores) // 2]:.3f}, "
                f"margin {min(self.scores) - self.target:+.3f}, {sum(self.seconds) / len(self.seconds):.1f} s per run")


def reference_namespace(assignment, notebook):
    """Run a solution notebook's locked set-up cells and reference answers; return its namespace."""
    source = nbformat.read(SOLUTIONS / assignment / notebook, as_version=4)
    answers = solution_answers(assignment, notebook)
    to_python = TransformerManager().transform_cell
    namespace = {"__name__": f"reference_{assignment}"}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue  # tests are not needed to train
        code = answers[meta["grade_id"]] if meta.get("solution") else cell.source
        exec(compile(to_python(code), f"<{assignment}:{meta.get('grade_id')}>", "exec"), namespace)
    return namespace


def _ch01_hidden_accuracy(ns, seed):
    X_fit, X_unseen, y_fit, y_unseen = ns["single_neuron_task"](n_samples=1000, seed=seed)
    ns["keras"].utils.set_random_seed(seed)
    model = ns["build_model"]()
    ns["train_model"](model, X_fit, y_fit)
    return ns["accuracy"](model, X_unseen, y_unseen)


def _ch02_hidden_accuracy(loader, fit_name, noise):
    def measure(ns, seed):
        X_fit, X_unseen, y_fit, y_unseen = ns[loader](1000, noise=noise, test_size=0.25, seed=seed)
        ns["keras"].utils.set_random_seed(seed)
        return ns["accuracy"](ns[fit_name](X_fit, y_fit), X_unseen, y_unseen)
    return measure


def _ch03_hidden_accuracy(rate_of):
    def measure(ns, seed):
        from helpers.grading import accuracy

        X_fit, X_unseen, y_fit, y_unseen = ns["digits"](test_size=0.25, seed=seed)
        ns["keras"].utils.set_random_seed(seed)
        model = ns["train_given_model"](X_fit / 16.0, y_fit, rate_of(ns))
        return accuracy(model, X_unseen / 16.0, y_unseen)
    return measure


def _ch04_machines_accuracy(ns, seed):
    from helpers.grading import accuracy

    X_fit, X_unseen, y_fit, y_unseen = ns["machines"](2000, test_size=0.25, seed=seed)
    ns["keras"].utils.set_random_seed(seed)
    scaler, model = ns["fit_machines"](X_fit, y_fit)
    return accuracy(model, scaler.transform(X_unseen), y_unseen)


def _ch04_wine_accuracy(ns, seed):
    from helpers.grading import accuracy

    X_fit, X_unseen, y_fit, y_unseen = ns["wine"](test_size=0.25, seed=seed)
    ns["keras"].utils.set_random_seed(seed)
    return accuracy(ns["fit_wine"](X_fit, y_fit), X_unseen, y_unseen)


def _ch05_fashion_accuracy(ns, seed):
    from helpers.grading import accuracy

    ns["keras"].utils.set_random_seed(seed)
    model = ns["fit_fashion"](ns["x_train"], ns["y_train"])
    x_test, y_test = ns["x_test"], ns["y_test"]
    return min(accuracy(model, x_test[:5000], y_test[:5000]), accuracy(model, x_test[5000:], y_test[5000:]))


# assignment -> (notebook, [(target name, target, function(namespace, seed) -> accuracy)])
TARGETS = {
    "ch01_single_neuron": ("ch01_single_neuron.ipynb", [
        ("single neuron, accuracy on fresh data", 0.92, _ch01_hidden_accuracy),
    ]),
    "ch02_nonlinearity": ("ch02_nonlinearity.ipynb", [
        ("circles, accuracy on fresh data", 0.97, _ch02_hidden_accuracy("circles", "fit_circles", 0.03)),
        ("moons, accuracy on fresh data", 0.93, _ch02_hidden_accuracy("moons", "fit_moons", 0.2)),
    ]),
    "ch03_learning_rate": ("ch03_learning_rate.ipynb", [
        ("digits in 5 epochs at the chosen rate, accuracy on a fresh split", 0.90,
         _ch03_hidden_accuracy(lambda ns: ns["chosen_rate"])),
        (f"digits in 5 epochs at the fallback rate {FALLBACK_RATE}", 0.90,
         _ch03_hidden_accuracy(lambda ns: FALLBACK_RATE)),
    ]),
    "ch04_normalization": ("ch04_normalization.ipynb", [
        ("machines, scaled, accuracy on readings of other machines", 0.87, _ch04_machines_accuracy),
        ("wine, Normalization layer on raw inputs, accuracy on a fresh split", 0.93, _ch04_wine_accuracy),
    ]),
    "ch05_multiclass": ("ch05_multiclass.ipynb", [
        ("Fashion-MNIST, accuracy on the worse half of the test images", 0.88, _ch05_fashion_accuracy),
    ]),
}


def run_targets(assignment, seeds=range(20)):
    """Run every target of one assignment over ``seeds``; return a list of :class:`TargetRun`."""
    notebook, targets = TARGETS[assignment]
    namespace = reference_namespace(assignment, notebook)
    runs = []
    for name, target, measure in targets:
        run = TargetRun(assignment, name, target)
        for seed in seeds:
            start = time.perf_counter()
            run.scores.append(float(measure(namespace, 1000 + seed)))
            run.seconds.append(time.perf_counter() - start)
        runs.append(run)
    return runs
