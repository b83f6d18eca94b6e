import pickle

import numpy as np
import pytest

from helpers.grading import (TaskFeedback, accuracy, check_accuracy, check_architecture, check_is_model,
                             check_comparable_scales, check_learning_rate_choice, check_normalizes_inputs,
                             check_probability_outputs, check_sweep,
                             check_trained_with, feedback, loss_name,
                             usable_rate)
from helpers.data import single_neuron_task
from tests.conftest import keras, tiny_neuron


def test_check_is_model_names_what_came_instead():
    with pytest.raises(AssertionError, match="return model"):
        check_is_model(None)
    with pytest.raises(AssertionError, match="got function"):
        check_is_model(lambda: 0)
    model = tiny_neuron()
    assert check_is_model(model) is model


@pytest.mark.parametrize("loss", ["binary_crossentropy", keras.losses.BinaryCrossentropy(),
                                  keras.losses.binary_crossentropy])
def test_loss_name_handles_strings_objects_and_functions(loss):
    model = tiny_neuron()
    model.compile(optimizer="adam", loss=loss)
    assert loss_name(model) == "binary_crossentropy"


def test_check_architecture_accepts_a_sigmoid_neuron():
    check_architecture(tiny_neuron(), n_inputs=2, output_units=1, output_activation_name="sigmoid",
                       loss="binary_crossentropy")


def test_check_architecture_explains_a_missing_sigmoid():
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(AssertionError, match="activation='sigmoid'"):
        check_architecture(model, n_inputs=2, output_units=1, output_activation_name="sigmoid",
                           loss="binary_crossentropy")


def test_check_architecture_explains_wrong_input_width_and_loss():
    model = tiny_neuron()
    with pytest.raises(AssertionError, match=r"keras.Input\(shape=\(3,\)\)"):
        check_architecture(model, n_inputs=3, output_units=1, output_activation_name="sigmoid",
                           loss="binary_crossentropy")
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(AssertionError, match="mean_squared_error"):
        check_architecture(model, n_inputs=2, output_units=1, output_activation_name="sigmoid",
                           loss="binary_crossentropy")


def test_check_architecture_notices_an_uncompiled_model():
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, activation="sigmoid")])
    with pytest.raises(AssertionError, match="not compiled"):
        check_architecture(model, n_inputs=2, output_units=1, output_activation_name="sigmoid",
                           loss="binary_crossentropy")


def test_accuracy_is_computed_from_predict_not_evaluate(sigmoid_model):
    X = np.array([[0, 0.1], [0, 0.9], [0, 0.8], [0, 0.2]])
    assert accuracy(sigmoid_model, X, np.array([0, 1, 0, 0])) == 0.75


def test_check_accuracy_passes_and_fails_with_the_numbers():
    X = np.array([[0, 0.1], [0, 0.9]], dtype="float32")
    model = tiny_neuron()
    model.layers[-1].set_weights([np.array([[0.0], [20.0]]), np.array([-10.0])])
    assert check_accuracy(model, X, np.array([0, 1]), 0.9) == 1.0
    with pytest.raises(AssertionError, match=r"accuracy 0.000 < 0.90 on 2 samples"):
        check_accuracy(model, X, np.array([1, 0]), 0.9)


def test_check_accuracy_turns_bad_labels_into_a_clear_failure():
    model = tiny_neuron()
    with pytest.raises(AssertionError, match="one-hot"):
        check_accuracy(model, np.zeros((2, 2)), np.eye(2), 0.9)


SWEEP_RATES = np.logspace(-5, 1, 121)
SWEEP_LOSSES = np.where(np.log10(SWEEP_RATES) < -1, 0.1 + 2.2 / (1 + np.exp(3 * (np.log10(SWEEP_RATES) + 2.5))),
                        0.1 + (np.log10(SWEEP_RATES) + 1) ** 2)


@pytest.mark.parametrize("rates, losses, message", [
    (np.logspace(-5, 1, 20), np.ones(20), "at least 50"),
    (np.logspace(-3, -1, 60), np.ones(60), "decades"),
    (np.logspace(1, -5, 60), np.ones(60), "grow at every step"),
    (np.logspace(-5, 1, 60), np.ones(61), "same length"),
    ("a sweep", "some losses", "arrays of numbers"),
])
def test_check_sweep_says_what_is_wrong(rates, losses, message):
    with pytest.raises(AssertionError, match=message):
        check_sweep(rates, losses)


def test_check_learning_rate_choice_accepts_the_steep_part_only():
    # smoothed (which lags the raw curve), this curve falls steeply from about 1e-3 to 5e-2, bottoms out at 0.1
    assert check_learning_rate_choice(SWEEP_RATES, SWEEP_LOSSES, 3e-3) == 3e-3
    with pytest.raises(AssertionError, match="below that"):
        check_learning_rate_choice(SWEEP_RATES, SWEEP_LOSSES, 1e-5)
    with pytest.raises(AssertionError, match="past the bottom"):
        check_learning_rate_choice(SWEEP_RATES, SWEEP_LOSSES, 0.3)
    with pytest.raises(AssertionError, match="must be a number"):
        check_learning_rate_choice(SWEEP_RATES, SWEEP_LOSSES, "1e-3")


def test_usable_rate_keeps_a_good_choice_and_falls_back_from_a_bad_or_missing_one():
    assert usable_rate(3e-3, SWEEP_RATES, SWEEP_LOSSES, fallback=0.01) == (3e-3, None)
    rate, note = usable_rate(0.3, SWEEP_RATES, SWEEP_LOSSES, fallback=0.01)
    assert rate == 0.01 and "past the bottom" in note and "graded once" in note
    rate, note = usable_rate(None, None, None, fallback=0.01)
    assert rate == 0.01 and "no sweep" in note


def test_check_trained_with_reads_the_rate_and_the_steps():
    X = np.random.default_rng(0).uniform(size=(64, 2)).astype("float32")
    y = (X[:, 1] > 0.5).astype(int)
    model = tiny_neuron(learning_rate=0.05)
    model.fit(X, y, epochs=2, batch_size=32, verbose=0)  # 2 epochs of 2 steps
    check_trained_with(model, learning_rate=0.05, steps=4)
    with pytest.raises(AssertionError, match="learning rate 0.05, not the 0.001"):
        check_trained_with(model, learning_rate=0.001, steps=4)
    with pytest.raises(AssertionError, match="took 4 training steps; the task allows exactly 6"):
        check_trained_with(model, learning_rate=0.05, steps=6)
    with pytest.raises(AssertionError, match="not compiled"):
        check_trained_with(keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)]),
                           learning_rate=0.05, steps=0)


def test_check_trained_with_names_the_optimizer_the_task_asks_for():
    """A learner who trains with SGD where the task says Adam is told so, not only that the rate is too low."""
    X = np.random.default_rng(0).uniform(size=(64, 2)).astype("float32")
    y = (X[:, 1] > 0.5).astype(int)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="binary_crossentropy")
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    check_trained_with(model, learning_rate=0.05, steps=2)  # no optimizer named: any will do
    with pytest.raises(AssertionError, match="compiled with SGD, but this task asks for keras.optimizers.Adam"):
        check_trained_with(model, learning_rate=0.05, steps=2, optimizer=keras.optimizers.Adam)
    check_trained_with(tiny_neuron(learning_rate=0.05), learning_rate=0.05, steps=0,
                       optimizer=keras.optimizers.Adam)


def _normalized_model(X=None):
    normalizer = keras.layers.Normalization()
    if X is not None:
        normalizer.adapt(X)
    return keras.Sequential([keras.Input(shape=(3,)), normalizer, keras.layers.Dense(1, activation="sigmoid")])


def test_check_normalizes_inputs_wants_an_adapted_layer_with_the_training_statistics():
    rng = np.random.default_rng(0)
    X = rng.normal([0, 100, 5000], [1, 10, 1000], size=(200, 3)).astype("float32")
    check_normalizes_inputs(_normalized_model(X), X)
    with pytest.raises(AssertionError, match="adapt"):
        check_normalizes_inputs(_normalized_model(), X)  # adapt() forgotten: mean 0, variance 1
    with pytest.raises(AssertionError, match="not those of the training data"):
        check_normalizes_inputs(_normalized_model(X[:20] * 2), X)  # adapted on other data
    with pytest.raises(AssertionError, match="no keras.layers.Normalization"):
        check_normalizes_inputs(tiny_neuron(), X)


def test_check_comparable_scales_passes_scaled_features_and_names_the_spread_of_raw_ones():
    rng = np.random.default_rng(0)
    raw = rng.normal([0, 100, 5000], [0.1, 10, 1000], size=(300, 3))
    standardised = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    min_max = (raw - raw.min(axis=0)) / (raw.max(axis=0) - raw.min(axis=0))
    check_comparable_scales(standardised)
    check_comparable_scales(min_max)
    check_comparable_scales(np.column_stack([standardised, np.ones(300)]))  # a constant feature is ignored
    with pytest.raises(AssertionError, match="not scaled"):
        check_comparable_scales(raw)


def test_check_probability_outputs_wants_a_softmax():
    X = np.ones((5, 2), dtype="float32")
    probabilities = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3, activation="softmax")])
    check_probability_outputs(probabilities, X, n_classes=3)
    with pytest.raises(AssertionError, match="expected"):
        check_probability_outputs(probabilities, X, n_classes=4)
    logits = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3)])
    logits.set_weights([np.full((2, 3), 2.0), np.array([1.0, -1.0, 5.0])])
    with pytest.raises(AssertionError, match="not probabilities"):
        check_probability_outputs(logits, X, n_classes=3)


def test_a_failed_accuracy_check_carries_the_diagnosis():
    # The issue's own example: binary cross-entropy on an output layer without a sigmoid.
    X, y = single_neuron_task(200, test_size=None, seed=0)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.set_weights([np.zeros((2, 1)), np.array([-3.0])])  # says class 0 for every point
    with pytest.raises(AssertionError) as failure:
        check_accuracy(model, X, y, 0.95)
    message = str(failure.value)
    assert message.startswith("accuracy 0.")
    assert "· Your output layer has no sigmoid but the loss is binary cross-entropy: add activation='sigmoid'" in message


def _untouched():
    raise NotImplementedError()


@pytest.mark.parametrize("body, expected", [
    (_untouched, "✗ Task 1 has not been attempted yet: replace `raise NotImplementedError()`"),
    (lambda: undefined_answer(), "✗ Task 1: name 'undefined_answer' is not defined: the task has not been attempted"),  # noqa: F821
    (lambda: check_accuracy(tiny_neuron(), np.zeros((2, 2)), np.eye(2), 0.9), "✗ Task 1: Could not score the model"),
])
def test_feedback_turns_a_failure_into_one_short_message(body, expected):
    with pytest.raises(TaskFeedback) as failure:
        with feedback("Task 1"):
            body()
    assert str(failure.value).startswith(expected)
    assert failure.value._render_traceback_() == [str(failure.value)]  # what the notebook shows: no traceback


def test_feedback_says_correct_when_the_checks_pass(capsys):
    with feedback("Task 2"):
        assert 1 + 1 == 2
    assert capsys.readouterr().out == "✓ Task 2: correct on the visible test\n"


def test_feedback_keeps_the_traceback_of_an_error_in_the_learners_code():
    with pytest.raises(ZeroDivisionError):
        with feedback("Task 1"):
            1 / 0


def test_keep_for_verification_saves_the_model_and_its_preprocessing(tmp_path):
    from sklearn.preprocessing import QuantileTransformer, StandardScaler

    from helpers.grading import keep_for_verification

    X = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 3))
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1, activation="sigmoid")])
    scaler = StandardScaler().fit(X)
    assert keep_for_verification(model, "scaled", folder=tmp_path, transform=scaler.transform) is None
    path = tmp_path / "scaled.keras"
    assert path.is_file() and not path.with_suffix(".transform.pkl").exists()
    with np.load(path.with_suffix(".npz")) as affine:
        np.testing.assert_allclose(X @ affine["matrix"] + affine["offset"], scaler.transform(X), atol=1e-9)
    quantiles = QuantileTransformer(n_quantiles=20).fit(X)
    keep_for_verification(model, "quantiles", folder=tmp_path, transform=quantiles.transform)
    assert not (tmp_path / "quantiles.npz").exists()  # not affine: the scaler is kept for the sandbox to apply
    with open(tmp_path / "quantiles.transform.pkl", "rb") as stream:  # this test's own file: safe to unpickle here
        np.testing.assert_allclose(pickle.load(stream).transform(X), quantiles.transform(X))


def test_keep_for_verification_reports_an_object_it_cannot_save(tmp_path, capsys):
    from helpers.grading import keep_for_verification

    keep_for_verification(object(), "nothing", folder=tmp_path)
    assert "could not keep this model for verification" in capsys.readouterr().out


def test_keep_values_keeps_numbers_and_leaves_out_the_rest(tmp_path):
    """What a hidden test keeps for the judge: numeric arrays and numbers only, read back without pickle."""
    from helpers.grading import keep_values

    assert keep_values("sweep", folder=tmp_path, rates=[1e-3, 1e-2], chosen_rate=0.01, missing=None,
                       text="0.01", thing=object()) is None
    with np.load(tmp_path / "sweep.npz", allow_pickle=False) as kept:
        assert sorted(kept.files) == ["chosen_rate", "rates"]
        assert float(kept["chosen_rate"]) == 0.01 and kept["rates"].shape == (2,)
