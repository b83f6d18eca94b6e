import numpy as np
import pytest

from helpers.data import single_neuron_task
from helpers.training import (current_learning_rate, exponential_rates, find_learning_rate, smooth, steep_range,
                              suggest_learning_rate)
from tests.conftest import keras, tiny_neuron


def test_exponential_rates_grow_by_a_constant_factor():
    rates = exponential_rates(1e-4, 1.0, 5)
    np.testing.assert_allclose(rates, [1e-4, 1e-3, 1e-2, 1e-1, 1.0])


@pytest.mark.parametrize("start, end, steps", [(0, 1, 10), (1, 0.1, 10), (1e-3, 1, 1)])
def test_exponential_rates_reject_bad_ranges(start, end, steps):
    with pytest.raises(ValueError):
        exponential_rates(start, end, steps)


def test_current_learning_rate_reads_keras_3_and_keras_2_log_names():
    optimizer = keras.optimizers.Adam(learning_rate=0.25)
    assert current_learning_rate(optimizer, {"learning_rate": 0.5}) == 0.5
    assert current_learning_rate(optimizer, {"lr": 0.125}) == 0.125
    assert current_learning_rate(optimizer, {}) == pytest.approx(0.25)


def test_find_learning_rate_records_the_rates_really_used_and_leaves_model_alone():
    X, y = single_neuron_task(256, test_size=None, seed=0)
    model = tiny_neuron(learning_rate=0.01)
    before = [w.copy() for w in model.get_weights()]
    rates, losses = find_learning_rate(model, X, y, start=1e-4, end=1.0, steps=40, batch_size=32)
    np.testing.assert_allclose(rates, exponential_rates(1e-4, 1.0, 40)[: len(rates)], rtol=1e-5)
    assert len(rates) == len(losses) >= 20
    assert np.all(np.isfinite(losses))
    for w_before, w_after in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w_before, w_after)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_find_learning_rate_stops_once_the_loss_explodes():
    X, y = single_neuron_task(256, test_size=None, seed=0)
    X = X * 1000  # huge inputs: large rates blow the loss up
    rates, losses = find_learning_rate(tiny_neuron(), X, y, start=1e-3, end=1e3, steps=200)
    assert len(rates) < 200


def test_find_learning_rate_needs_a_compiled_model():
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="Compile the model first"):
        find_learning_rate(model, np.zeros((8, 2)), np.zeros(8))


def test_suggest_learning_rate_is_ten_times_below_the_minimum():
    rates = np.logspace(-5, 1, 61)  # minimum of this curve at 1e-1
    losses = (np.log10(rates) + 1) ** 2 + 0.1
    suggestion = suggest_learning_rate(rates, losses, beta=0.0)
    assert suggestion == pytest.approx(1e-2)
    assert losses[np.searchsorted(rates, suggestion)] > losses.min()  # the loss still falls there


def test_suggest_learning_rate_ignores_nan_losses_and_needs_enough_points():
    rates = np.logspace(-4, 0, 10)
    losses = np.array([1, 0.9, 0.7, 0.5, 0.3, 0.2, 0.25, 0.6, np.nan, np.nan])
    assert rates[0] <= suggest_learning_rate(rates, losses, beta=0.0) < rates[5]
    with pytest.raises(ValueError, match="at least 5"):
        suggest_learning_rate(rates[:3], losses[:3])


def test_smooth_keeps_a_constant_series_constant():
    np.testing.assert_allclose(smooth([2.0] * 10), 2.0)


def _bowl(rates):
    """A sweep-shaped curve: flat at 2.3 for small rates, falling to 0.1 at a rate of 0.1, then rising."""
    x = np.log10(rates)
    return np.where(x < -1, 0.1 + 2.2 / (1 + np.exp(3 * (x + 2.5))), 0.1 + (x + 1) ** 2)


def test_steep_range_brackets_the_fall_and_stops_before_the_minimum():
    rates = np.logspace(-5, 1, 121)
    low, high = steep_range(rates, _bowl(rates), beta=0.0)
    assert 1e-4 < low < 10 ** -2.5 < high < 1e-1
    suggestion = suggest_learning_rate(rates, _bowl(rates), beta=0.0)
    assert low <= suggestion <= high  # the 10x rule lands on the steep part


def test_steep_range_ignores_a_bump_before_the_fall():
    rates = np.logspace(-5, 1, 121)
    losses = _bowl(rates)
    losses[:10] -= 0.3  # the loss starts low, rises, then falls: the fall is measured from the bump
    low, _ = steep_range(rates, losses, beta=0.0)
    assert low > rates[10]


def test_steep_range_explains_a_loss_that_never_falls():
    rates = np.logspace(-5, -3, 20)
    with pytest.raises(ValueError, match="never fell"):
        steep_range(rates, np.linspace(1, 2, 20))


def test_find_learning_rate_records_each_batch_own_loss_not_a_running_mean():
    # With rates this small the weights stay put, so each recorded loss must equal the
    # untrained model's loss on that very batch; a running mean over the epoch would not.
    from helpers.training import _batches

    X, y = single_neuron_task(64, test_size=None, seed=0)
    model = tiny_neuron()
    rates, losses = find_learning_rate(model, X, y, start=1e-12, end=1e-11, steps=12, batch_size=16, seed=3)
    loss = keras.losses.BinaryCrossentropy()
    batches = _batches(len(X), 16, np.random.default_rng(3))
    expected = []
    for _ in range(12):
        index = next(batches)
        expected.append(float(loss(y[index], model.predict(X[index], verbose=0))))
    np.testing.assert_allclose(losses, expected, rtol=1e-4)


def test_steps_per_execution_trains_the_same_weights_faster_only():
    """Chapters 4 to 6 and exercise 5's reference pass ``steps_per_execution`` to ``compile`` to run quicker and say
    it changes nothing else: the same batches in the same order give the same history and the same weights, bit for
    bit. A last batch shorter than the others (100 samples in batches of 32) and executions that the epoch's end cuts
    short (3 and 50 batches asked for, 4 in an epoch) are both covered."""
    X, y = single_neuron_task(100, test_size=None, seed=0)

    def trained(per_call):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"],
                      steps_per_execution=per_call)
        history = model.fit(X, y, epochs=3, batch_size=32, verbose=0).history
        return history, model.get_weights()

    one_history, one_weights = trained(1)
    for per_call in (3, 50):
        history, weights = trained(per_call)
        assert history == one_history
        assert len(weights) == len(one_weights)
        for a, b in zip(weights, one_weights):
            np.testing.assert_array_equal(a, b)
