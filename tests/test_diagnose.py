"""Each check of helpers.diagnose fires on a model and data that show its mistake, and stays quiet otherwise."""

import numpy as np
import pytest

from helpers.data import circles, single_neuron_task
from helpers.diagnose import Diagnosis, Finding, diagnose
from tests.conftest import keras, tiny_neuron

X2, Y01 = single_neuron_task(200, test_size=None, seed=0)


def dense_model(units, activation=None, loss="binary_crossentropy", n_inputs=2, metrics=None, hidden=()):
    model = keras.Sequential([keras.Input(shape=(n_inputs,)), *hidden, keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss, metrics=metrics)
    return model


def checks(model, X=X2, y=Y01, **kwargs):
    return diagnose(model, X, y, **kwargs).checks


@pytest.fixture(scope="module")
def trained_neuron():
    keras.utils.set_random_seed(0)
    model = tiny_neuron(learning_rate=0.1)
    history = model.fit(X2, Y01, epochs=30, batch_size=32, verbose=0)
    return model, history


def test_a_well_trained_neuron_gets_no_finding(trained_neuron):
    model, history = trained_neuron
    found = diagnose(model, X2, Y01, history)
    assert found == [] and str(found) == "diagnose: no known mistake found."


# 1. labels that do not fit the model
def test_labels_one_and_two():
    assert "labels-not-zero-based" in checks(tiny_neuron(), y=Y01 + 1)


def test_more_classes_than_one_unit_can_hold():
    assert "too-many-classes-for-one-unit" in checks(tiny_neuron(), y=np.arange(len(X2)) % 3)


def test_labels_beyond_the_output_units():
    model = dense_model(2, "softmax", "sparse_categorical_crossentropy")
    assert "labels-out-of-range" in checks(model, y=np.arange(len(X2)) % 3)


def test_one_hot_labels_with_the_sparse_loss():
    model = dense_model(3, "softmax", "sparse_categorical_crossentropy")
    assert "one-hot-with-sparse-loss" in checks(model, y=np.eye(3)[np.arange(len(X2)) % 3])


def test_integer_labels_with_the_categorical_loss():
    model = dense_model(3, "softmax", "categorical_crossentropy")
    assert "integer-labels-with-categorical-loss" in checks(model, y=np.arange(len(X2)) % 3)


def test_float_labels_with_a_classification_loss():
    assert "float-labels" in checks(tiny_neuron(), y=np.where(Y01 == 1, 0.7, 0.3))


# 2. output layer and loss disagree
def test_binary_cross_entropy_without_a_sigmoid():
    found = diagnose(dense_model(1, None), X2, Y01)
    assert "bce-without-sigmoid" in found.checks
    assert "add activation='sigmoid'" in found.summary()


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
def test_softmax_on_a_single_unit():
    assert "softmax-on-one-unit" in checks(dense_model(1, "softmax"))


def test_sigmoids_for_a_single_label_task():
    model = dense_model(3, "sigmoid", "sparse_categorical_crossentropy")
    assert "sigmoid-for-single-label" in checks(model, y=np.arange(len(X2)) % 3)


def test_from_logits_on_probabilities():
    model = dense_model(3, "softmax", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert "from-logits-on-probabilities" in checks(model, y=np.arange(len(X2)) % 3)


def test_categorical_loss_without_a_softmax():
    model = dense_model(3, None, "sparse_categorical_crossentropy")
    assert "categorical-without-softmax" in checks(model, y=np.arange(len(X2)) % 3)


def test_logits_with_from_logits_are_fine():
    model = dense_model(1, None, keras.losses.BinaryCrossentropy(from_logits=True))
    assert not {"bce-without-sigmoid", "from-logits-on-probabilities"} & set(checks(model))


# 3. unscaled inputs
def test_inputs_in_the_thousands():
    assert "inputs-large" in checks(tiny_neuron(), X=X2 * 1000)


def test_features_on_scales_far_apart():
    assert "inputs-scales-apart" in checks(tiny_neuron(), X=X2 * np.array([0.001, 1.0], dtype="float32"))


def test_a_constant_feature():
    X = X2.copy()
    X[:, 1] = 0.5
    assert "constant-feature" in checks(tiny_neuron(), X=X)


def test_a_model_that_scales_its_own_inputs_is_not_flagged():
    raw = X2 * np.array([1000.0, 1.0], dtype="float32")
    normalizer = keras.layers.Normalization()
    normalizer.adapt(raw)
    model = dense_model(1, "sigmoid", hidden=(normalizer,))
    assert not {"inputs-large", "inputs-scales-apart"} & set(checks(model, X=raw))


# 4. only linear activations on data a line cannot separate
def test_a_linear_stack_on_the_circles():
    X, y = circles(400, seed=0)
    stack = dense_model(1, "sigmoid", hidden=(keras.layers.Dense(8), keras.layers.Dense(8)))
    assert "linear-only" in checks(stack, X=X, y=y)


def test_a_linear_model_on_data_a_line_separates_is_fine():
    assert "linear-only" not in checks(tiny_neuron())


# 5. the learning rate, from the history
@pytest.mark.parametrize("losses, check", [
    ([0.70, 0.69, 0.68, 0.67, 0.66, 0.65], "lr-too-low"),
    ([0.6, 0.9, 1.4, 2.5, 3.0], "lr-too-high"),
    ([0.6, 0.9, 0.5, 0.8, 0.45, 0.7, 0.4], "lr-too-high"),
    ([0.6, 0.5, float("nan"), float("nan")], "loss-nan"),
])
def test_the_learning_rate_from_the_loss_curve(losses, check):
    assert check in checks(tiny_neuron(), history={"loss": losses})


def test_a_loss_that_fell_fast_and_flattened_is_not_too_low():
    converged = [0.69, 0.40, 0.30, 0.27, 0.26, 0.255, 0.252]
    assert not {"lr-too-low", "lr-too-high"} & set(checks(tiny_neuron(), history={"loss": converged}))


# 6. guessing
def test_a_loss_at_ln_2():
    assert "loss-at-chance" in checks(tiny_neuron(), history={"loss": [0.72, 0.70, 0.694, 0.6932]})


def test_a_model_that_predicts_one_class():
    model = tiny_neuron()
    model.set_weights([np.zeros((2, 1)), np.array([5.0])])  # sigmoid(5) = 0.99 for every point
    found = diagnose(model, X2, Y01)
    assert "predicts-one-class" in found.checks


# 7. accuracy with a regression loss
def test_accuracy_with_mean_squared_error():
    model = dense_model(1, "sigmoid", "mse", metrics=["accuracy"])
    assert "accuracy-with-regression-loss" in checks(model)


# 8. BatchNormalization on a handful of samples
def test_batchnorm_on_four_points():
    X4 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
    model = dense_model(1, "sigmoid", hidden=(keras.layers.BatchNormalization(),))
    assert "batchnorm-small-batches" in checks(model, X=X4, y=np.array([0, 1, 0, 1]))


@pytest.mark.parametrize("labels", [
    np.array([0., 1., 0., 1.]), np.array([0, 1, 0, 1]), np.array([False, True, False, True]),
    np.array([[0.], [1.], [0.], [1.]]), np.array([0, 1, 0, 1], dtype="int32"),
], ids=["float", "int64", "bool", "column", "int32"])
def test_the_questions_own_four_points_in_every_label_form(labels):
    """The learner's model as asked (BatchNormalization, Adam's default rate, 100 epochs on four points),
    diagnosed with its labels as float, int, bool or an (n, 1) column: the same three findings each time,
    and the BatchNormalization finding says what is true of one whole-data batch: the running averages lag."""
    X4 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
    keras.utils.set_random_seed(0)
    model = dense_model(1, "sigmoid", hidden=(keras.layers.BatchNormalization(),))
    history = model.fit(X4, np.array([0., 1., 0., 1.]), epochs=100, verbose=0)
    found = diagnose(model, X4, labels, history)
    assert found.checks == ["accuracy-at-majority", "lr-too-low", "batchnorm-small-batches"], found
    batchnorm = str(found[-1])
    assert "100 training steps" in batchnorm and "37%" in batchnorm and "noise" not in batchnorm


def test_one_hot_labels_are_read_as_classes():
    """An untrained 3-class model guesses: with one-hot labels diagnose scores its predictions as it does
    with the same labels as integers (only the loss/label mismatch differs)."""
    keras.utils.set_random_seed(0)
    model = dense_model(3, "softmax", loss="categorical_crossentropy")
    classes = np.arange(len(X2)) % 3
    one_hot, integers = diagnose(model, X2, np.eye(3)[classes]).checks, diagnose(model, X2, classes).checks
    assert {"predicts-one-class", "accuracy-at-majority"} & set(one_hot), one_hot
    assert one_hot == [check for check in integers if check != "integer-labels-with-categorical-loss"]


def test_batchnorm_with_batches_of_two():
    model = dense_model(1, "sigmoid", hidden=(keras.layers.BatchNormalization(),))
    assert "batchnorm-small-batches" in checks(model, batch_size=2)
    assert "batchnorm-small-batches" not in checks(model, batch_size=32)


# 9. evaluating on the training data
def test_evaluating_on_the_training_arrays(trained_neuron):
    model, history = trained_neuron
    assert diagnose(model, X2, Y01, history, X_eval=X2).checks == ["evaluated-on-training-data"]
    assert diagnose(model, X2, Y01, history, X_eval=X2[:50] + 1).checks == []


def test_a_diagnosis_prints_as_text_and_html():
    finding = Finding("demo", "Something is off", "x = 3", "Do this.")
    found = Diagnosis([finding])
    assert "1. Something is off (x = 3). Do this." in str(found)
    assert "<li><strong>Something is off</strong>" in found._repr_html_()
    assert found.summary() == "Something is off: do this."


def test_diagnose_says_what_is_wrong_with_its_own_arguments():
    with pytest.raises(AssertionError, match="Keras model"):
        diagnose("not a model", X2, Y01)
    with pytest.raises(ValueError, match="200 samples but y has 3"):
        diagnose(tiny_neuron(), X2, Y01[:3])


def _ch01(ns):
    X, _, y, _ = ns["single_neuron_task"](n_samples=1000, seed=1000)
    model = ns["build_model"]()
    ns["train_model"](model, X, y)
    return model, X, y


def _ch02(loader, fit_name, noise):
    def build(ns):
        X, _, y, _ = ns[loader](1000, noise=noise, test_size=0.25, seed=1000)
        return ns[fit_name](X, y), X, y
    return build


def _ch03(ns):
    X, _, y, _ = ns["digits"](test_size=0.25, seed=1000)
    return ns["train_given_model"](X / 16.0, y, ns["chosen_rate"]), X / 16.0, y


def _ch04_machines(ns):
    X, _, y, _ = ns["machines"](2000, test_size=0.25, seed=1000)
    scaler, model = ns["fit_machines"](X, y)
    return model, scaler.transform(X), y


def _ch04_wine(ns):
    X, _, y, _ = ns["wine"](test_size=0.25, seed=1000)
    return ns["fit_wine"](X, y), X, y


def _ch05(ns):
    return ns["fit_fashion"](ns["x_train"], ns["y_train"]), ns["x_train"], ns["y_train"]


REFERENCES = {
    "ch01 single neuron": ("ch01_single_neuron", _ch01),
    "ch02 circles": ("ch02_nonlinearity", _ch02("circles", "fit_circles", 0.03)),
    "ch02 moons": ("ch02_nonlinearity", _ch02("moons", "fit_moons", 0.2)),
    "ch03 digits": ("ch03_learning_rate", _ch03),
    "ch04 machines": ("ch04_normalization", _ch04_machines),
    "ch04 wine": ("ch04_normalization", _ch04_wine),
    "ch05 fashion": ("ch05_multiclass", _ch05),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(REFERENCES))
def test_no_false_alarm_on_the_reference_solutions(case):
    from tools.targets import reference_namespace

    assignment, build = REFERENCES[case]
    namespace = reference_namespace(assignment, f"{assignment}.ipynb")
    keras.utils.set_random_seed(1000)
    model, X, y = build(namespace)
    assert diagnose(model, X, y).checks == []  # with the history of the model's own fit
