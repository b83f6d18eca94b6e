import numpy as np
import pytest

from helpers.predictions import check_labels, model_outputs, predict_labels, probabilities_to_labels
from tests.conftest import keras, tiny_neuron


def test_one_column_is_thresholded_strictly():
    p = np.array([[0.2], [0.5], [0.51], [0.9]])
    assert probabilities_to_labels(p).tolist() == [0, 0, 1, 1]
    assert probabilities_to_labels(p, threshold=0.3).tolist() == [0, 1, 1, 1]
    assert probabilities_to_labels(p.ravel()).tolist() == [0, 0, 1, 1]


def test_several_columns_take_the_most_probable_class():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert probabilities_to_labels(p).tolist() == [0, 2]


def test_nan_outputs_are_reported_as_divergence():
    with pytest.raises(ValueError, match="diverged"):
        probabilities_to_labels(np.array([[0.1], [np.nan]]))


def test_predict_labels_calls_predict_quietly(sigmoid_model):
    X = np.array([[0.0, 0.1], [0.0, 0.9]])
    assert predict_labels(sigmoid_model, X).tolist() == [0, 1]
    assert sigmoid_model.calls == [0]


def test_predict_labels_rejects_objects_without_predict():
    with pytest.raises(ValueError, match="Keras model"):
        predict_labels(lambda X: X, np.zeros((2, 2)))


@pytest.mark.parametrize("labels, message", [
    (np.eye(3), "one-hot"),
    (np.array([0.5, 1.0]), "fractions"),
    (np.array([-1, 0]), "from 0 to k-1"),
])
def test_check_labels_explains_bad_encodings(labels, message):
    with pytest.raises(ValueError, match=message):
        check_labels(labels)


def test_check_labels_catches_labels_starting_at_one():
    with pytest.raises(ValueError, match="subtract 1"):
        check_labels(np.array([1, 2, 2, 1]), n_classes=2)
    assert check_labels(np.array([[0], [1]])).tolist() == [0, 1]


def test_as_probabilities_makes_a_column_of_a_flat_vector_and_rejects_other_shapes():
    from helpers.predictions import as_probabilities

    assert as_probabilities([0.2, 0.8]).shape == (2, 1)
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_outputs\)"):
        as_probabilities(np.zeros((2, 2, 2)))


def test_model_outputs_of_a_keras_model_are_what_predict_returns_without_predict_tracing():
    model = tiny_neuron()
    X = np.random.default_rng(0).normal(size=(9000, 2))  # more rows than one slice of 4096
    outputs = model_outputs(model, X)
    assert model.predict_function is None, "model_outputs went through predict"
    assert outputs.shape == (9000, 1) and outputs.dtype == np.float32
    np.testing.assert_allclose(outputs, model.predict(X, verbose=0), atol=1e-6)
    assert model_outputs(model, X[:0]).shape == (0, 1)


def test_model_outputs_keeps_a_models_own_predict(sigmoid_model):
    class OwnPredict(keras.Model):
        def call(self, x):
            return x[:, :1]

        def predict(self, x, verbose=0):
            return np.full((len(x), 1), 0.25)

    X = np.array([[0.9, 0.1], [0.1, 0.9]])
    assert model_outputs(OwnPredict(), X).ravel().tolist() == [0.25, 0.25]
    patched = tiny_neuron()
    patched.predict = lambda x, verbose=0: np.full((len(x), 1), 0.75)  # set on the model itself
    assert model_outputs(patched, X).ravel().tolist() == [0.75, 0.75]
    assert model_outputs(sigmoid_model, X).ravel().round(2).tolist() == [0.0, 1.0] and sigmoid_model.calls == [0]
