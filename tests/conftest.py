"""Shared fixtures: quiet Keras, a non-interactive Matplotlib, and small fixture models."""

import matplotlib

# Set in this process only: an MPLBACKEND variable would reach the kernels that execute the
# chapters, and a kernel on Agg shows no figures.
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.repro import import_keras_quietly  # noqa: E402

keras = import_keras_quietly()


class FixedModel:
    """A stand-in classifier whose ``predict`` returns a function of its inputs."""

    def __init__(self, function):
        self.function = function
        self.calls = []

    def predict(self, X, verbose=0):
        self.calls.append(verbose)
        return self.function(np.asarray(X))


@pytest.fixture
def sigmoid_model():
    """Probability of class 1 rises with the second feature: (n, 1) outputs."""
    return FixedModel(lambda X: 1 / (1 + np.exp(-20 * (X[:, 1:2] - 0.5))))


@pytest.fixture
def softmax_model():
    """Three classes by the first feature's third: (n, 3) outputs."""
    def three_way(X):
        scores = np.stack([-abs(X[:, 0] - c) for c in (0.0, 0.5, 1.0)], axis=1) * 20
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)
    return FixedModel(three_way)


@pytest.fixture
def ax():
    figure, axes = plt.subplots()
    yield axes
    plt.close(figure)


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    """Helpers must never call plt.show."""
    def refuse(*args, **kwargs):
        raise AssertionError("a helper called plt.show()")
    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built once per test session into a fresh folder with the network cut, then built again with no
    change; both times kept. The chapter tests read the executed notebooks from this build's execute cache, and
    the site tests open its HTML, so the chapters are executed once for both."""
    from types import SimpleNamespace

    from tools import site

    artifacts = site.ROOT / "test-artifacts" / "site"
    artifacts.mkdir(parents=True, exist_ok=True)
    output = tmp_path_factory.mktemp("book")
    offline = site.can_cut_network()
    first = site.build(output, offline=offline, log=artifacts / "build-first.log")
    second = site.build(output, offline=offline, log=artifacts / "build-second.log")
    report = (f"first build (executes every chapter): {first:.1f} s\n"
              f"second build (no change):             {second:.1f} s\n"
              f"speed-up: {first / second:.1f}x; network cut during both builds: {offline}\n")
    (artifacts / "build-times.txt").write_text(report)
    print("\n" + report)
    return SimpleNamespace(output=output, html=output / "_build" / "html", first=first, second=second,
                           offline=offline)


def tiny_neuron(learning_rate=0.1, seed=0):
    """A real, compiled one-neuron Keras model."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def pytest_generate_tests(metafunc):
    """Run an AutogradeSuite's per-student test once for each of its submissions."""
    from tests.autograde_support import AutogradeSuite

    if "student" in metafunc.fixturenames and metafunc.cls and issubclass(metafunc.cls, AutogradeSuite):
        metafunc.parametrize("student", metafunc.cls.students())
