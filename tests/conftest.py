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


class _BookBuild:
    """The book build, started in the background as soon as the tests are collected (``pytest_collection_finish``),
    where any collected test needs it: the chapters execute while the tests before the first that opens the book
    run (the plain autograde tests, on 2 cores mostly one kernel at a time), rather than after them."""

    def __init__(self, output):
        import threading

        self.output, self.result, self.error = output, None, None
        self.thread = threading.Thread(target=self._run, name="book build", daemon=True)
        self.thread.start()

    def _run(self):
        from types import SimpleNamespace

        from tools import site

        try:
            artifacts = site.ROOT / "test-artifacts" / "site"
            artifacts.mkdir(parents=True, exist_ok=True)
            offline = site.can_cut_network()
            first = site.build(self.output, offline=offline, log=artifacts / "build-first.log")
            second = site.build(self.output, offline=offline, log=artifacts / "build-second.log")
            report = (f"first build (executes every chapter): {first:.1f} s\n"
                      f"second build (no change):             {second:.1f} s\n"
                      f"speed-up: {first / second:.1f}x; network cut during both builds: {offline}\n"
                      "(the first build ran beside other tests: python -m tools.site build times it alone)\n")
            (artifacts / "build-times.txt").write_text(report)
            self.result = SimpleNamespace(output=self.output, html=self.output / "_build" / "html", first=first,
                                          second=second, offline=offline, report=report)
        except BaseException as error:  # noqa: B036 - handed to the tests that need the book
            self.error = error

    def wait(self):
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result


_book_build = None


def pytest_collection_finish(session):
    """Start the slow shared work of the collected tests in the background: the book build, and the plain autograde
    run of each exercise whose tests were collected (``tests/autograde_support.py``), in the order they come."""
    global _book_build
    from tests import autograde_support

    if session.config.option.collectonly:  # listing the tests runs nothing
        return
    factory = session.config._tmp_path_factory
    if _book_build is None and any("built_book" in getattr(item, "fixturenames", ()) for item in session.items):
        _book_build = _BookBuild(factory.mktemp("book"))
    for item in session.items:
        owner = item.cls or item.module
        grade_in = getattr(owner, "grade_in", None)
        if grade_in is not None and "graded" in getattr(item, "fixturenames", ()):
            autograde_support.start_in_background(owner.ASSIGNMENT, lambda: factory.mktemp(owner.ASSIGNMENT), grade_in)


def pytest_sessionfinish(session):
    from tests import autograde_support

    autograde_support.stop_background_runs()


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built once per test session into a fresh folder with the network cut, then built again with no
    change; both times kept. The chapter tests read the executed notebooks from this build's execute cache, and
    the site tests open its HTML, so the chapters are executed once for both. The build starts in the background
    when the tests are collected (``_BookBuild``); this waits for it."""
    global _book_build
    if _book_build is None:  # a test collected some other way
        _book_build = _BookBuild(tmp_path_factory.mktemp("book"))
    built = _book_build.wait()
    print("\n" + built.report)
    return built


@pytest.fixture(scope="session")
def grading_scheduler():
    """The address of one Dask cluster of 2 single-threaded worker processes, shared by the suite's 2-worker grading
    batches (``grade_batch(..., scheduler=...)``, the path for a running scheduler; the README walk's
    ``python -m grader batch`` starts its own cluster, the default path). Each batch would otherwise start and stop
    a cluster (about 6 s) and import nbgrader and Keras again in its workers' four zygotes, which live as long as
    their worker (``grader.run.NBGRADER_ZYGOTE``, ``grader.verify.KERAS_ZYGOTE``, and the kernel's and the judge's
    runner's, ``grader.zygote.ZygoteOfRoot``)."""
    from grader.batch import local_cluster

    # The cluster a 2-worker batch starts, with its dashboard on a free port: the batches that start their own
    # cluster keep Dask's default one, unwarned.
    with local_cluster(2, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


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
