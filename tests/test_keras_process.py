"""``grader.verify.KerasProcess``: one fresh process does one learner's Keras work for the judge and the verifier.

It imports Keras once for both (the import costs more than the work), and a request that crashes it or runs too
long fails alone: the next request gets a new process.
"""

import subprocess

import pytest

from conftest import tiny_neuron
from grader.verify import KerasProcess, inspect_models, score_models

pytestmark = pytest.mark.slow
ASSIGNMENT = "ch01_single_neuron"


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

