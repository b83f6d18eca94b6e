import numpy as np
import pytest

from helpers.grading import accuracy, check_accuracy, check_architecture, check_is_model, loss_name
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
