"""``grader.verify.KerasProcess``: one fresh process does one learner's Keras work for the judge and the verifier.

It imports Keras once for both (the import costs more than the work), and a request that crashes it or runs too
long fails alone: the next request gets a new process.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_neuron
from grader.verify import KerasProcess, inspect_models, score_models

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]
ASSIGNMENT = "ch01_single_neuron"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def saved_neuron(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "neuron.keras"
    tiny_neuron(learning_rate=0.05).save(path)
    return path


def test_one_process_inspects_and_scores_a_learners_models(saved_neuron):
    assert KerasProcess().process is None  # started when needed, not before
    with KerasProcess() as process:
        pid = process.warm().process.pid
        facts = inspect_models({"neuron": saved_neuron}, keras_process=process)
        [score] = score_models([(saved_neuron, ASSIGNMENT, ASSIGNMENT, "test_train_model_reaches_target_on_hidden_data",
                                 7)], keras_process=process)
        assert process.process.pid == pid  # the same process answered both
    assert facts["neuron"]["layers"] == [{"class": "Dense", "units": 1, "activation": "sigmoid"}]
    assert facts["neuron"]["optimizer"] == "Adam" and facts["neuron"]["learning_rate"] == pytest.approx(0.05)
    assert score["error"] is None and 0.0 <= score["accuracy"] <= 1.0 and score["n_accuracy"] > 0


def test_a_request_that_kills_the_process_fails_alone(saved_neuron):
    with KerasProcess() as process:
        first = process.warm().process.pid
        [row] = score_models([(saved_neuron, "no_such_assignment", "x", "y", 1)], keras_process=process)
        assert row["accuracy"] is None and "no_such_assignment" in row["error"]  # the process's last words
        facts = inspect_models({"neuron": saved_neuron}, keras_process=process)
        assert facts["neuron"]["n_params"] == 3 and process.process.pid != first


def test_a_request_past_its_time_limit_is_stopped_and_the_next_one_runs(saved_neuron):
    with KerasProcess() as process:
        first = process.warm().process.pid
        with pytest.raises(subprocess.TimeoutExpired):
            process.ask({"inspect": {"neuron": str(saved_neuron)}, "behaviour": None}, timeout=0.01)
        [row] = score_models([(saved_neuron, ASSIGNMENT, ASSIGNMENT, "test_train_model_reaches_target_on_hidden_data",
                               7)], keras_process=process, timeout=0.01)
        assert row["accuracy"] is None and "more than 0.01 s" in row["error"]
        assert inspect_models({"neuron": saved_neuron}, keras_process=process)["neuron"]["n_params"] == 3
        assert process.process.pid != first


def test_each_learner_gets_a_fresh_child_of_one_zygote_with_its_own_memory_limit(saved_neuron):
    """The zygote imports Keras once per worker; each KerasProcess is a new child of it (a new pid, the limit asked
    for), and the zygote itself reads nothing: it only forks."""
    import psutil

    from grader.verify import KERAS_ZYGOTE

    pids = []
    for memory_bytes in (3 * 2**30, 5 * 2**30):
        with KerasProcess(memory_bytes) as process:
            pid = process.warm().process.pid
            assert inspect_models({"neuron": saved_neuron}, keras_process=process)["neuron"]["n_params"] == 3
            child = psutil.Process(pid)
            assert child.ppid() == KERAS_ZYGOTE.process.pid
            assert child.rlimit(psutil.RLIMIT_AS) == (memory_bytes, memory_bytes)
            pids.append(pid)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert pids[0] != pids[1]
    zygote_files = [f.path for f in psutil.Process(KERAS_ZYGOTE.process.pid).open_files()]
    assert not any(str(saved_neuron.parent) in path for path in zygote_files)


def test_a_zygote_that_died_is_replaced(saved_neuron):
    from grader.verify import KERAS_ZYGOTE

    with KerasProcess() as process:
        process.warm()
    KERAS_ZYGOTE.process.kill()
    KERAS_ZYGOTE.process.wait()
    assert inspect_models({"neuron": saved_neuron})["neuron"]["n_params"] == 3


def test_the_zygote_ends_with_the_process_that_started_it():
    import psutil

    script = ("from grader.verify import KerasProcess, KERAS_ZYGOTE\n"
              "with KerasProcess() as p:\n    p.warm()\nprint(KERAS_ZYGOTE.process.pid, flush=True)\n"
              "import os; os._exit(0)\n")  # no cleanup of its own: the zygote must notice by itself
    pid = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                             cwd=ROOT).stdout.split()[-1])
    try:
        psutil.Process(pid).wait(timeout=30)
    except psutil.NoSuchProcess:
        pass
    assert not psutil.pid_exists(pid)
