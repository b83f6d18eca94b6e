"""Checks used by the exercises' visible and hidden tests.

Each check raises ``AssertionError`` with a message that tells the learner what is wrong
and what to do, and returns quietly (or returns the measured value) when all is well.
Accuracy is computed here, from the model's ``predict``, not read from ``evaluate``.
"""

from contextlib import contextmanager

import numpy as np

from helpers.predictions import check_labels, predict_labels
from helpers.repro import import_keras_quietly
from helpers.training import steep_range

keras = import_keras_quietly()


def check_is_model(obj, what="build_model()"):
    """Check that ``obj`` is a Keras model, and return it.

    Raises
    ------
    AssertionError
        Naming the type that came instead.
    """
    if obj is None:
        raise AssertionError(f"{what} returned None: did you forget `return model`?")
    if not isinstance(obj, keras.Model):
        raise AssertionError(f"{what} must give a Keras model (keras.Sequential or keras.Model), got {type(obj).__name__}.")
    return obj


def loss_name(model):
    """The compiled loss of ``model`` in snake case, e.g. ``"binary_crossentropy"``.

    Handles losses given as strings, as ``keras.losses`` objects and as functions.
    Returns ``None`` for a model that was not compiled.
    """
    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    if isinstance(loss, str):
        name = loss
    elif isinstance(loss, keras.losses.Loss):
        name = keras.utils.get_registered_name(type(loss)).split(">")[-1]
    else:
        name = getattr(loss, "__name__", type(loss).__name__)
    aliases = {"BinaryCrossentropy": "binary_crossentropy", "bce": "binary_crossentropy",
               "CategoricalCrossentropy": "categorical_crossentropy",
               "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
               "MeanSquaredError": "mean_squared_error", "mse": "mean_squared_error"}
    return aliases.get(name, name)


def output_activation(model):
    """Name of the activation of the model's last layer, e.g. ``"sigmoid"``; ``None`` if unknown."""
    activation = getattr(model.layers[-1], "activation", None) if model.layers else None
    return getattr(activation, "__name__", None)


def check_architecture(model, *, n_inputs, output_units, output_activation_name, loss):
    """Check the input width, output layer and compiled loss of a classifier.

    Parameters
    ----------
    model : keras.Model
    n_inputs : int
        Features per sample: the model's input shape must be ``(None, n_inputs)``.
    output_units : int
    output_activation_name : str
        ``"sigmoid"`` or ``"softmax"``.
    loss : str
        Snake-case loss name, e.g. ``"binary_crossentropy"``.
    """
    check_is_model(model)
    if loss_name(model) is None:
        raise AssertionError("The model is not compiled: call model.compile(optimizer=..., loss=..., metrics=[...]).")
    input_shape = tuple(model.inputs[0].shape) if model.inputs else None
    if input_shape != (None, n_inputs):
        raise AssertionError(
            f"The model's input shape is {input_shape}, expected (None, {n_inputs}): start it with "
            f"keras.Input(shape=({n_inputs},))."
        )
    last = model.layers[-1]
    units = getattr(last, "units", None)
    if units != output_units:
        raise AssertionError(f"The output layer has {units} units; this task needs {output_units}.")
    actual = output_activation(model)
    if actual != output_activation_name:
        raise AssertionError(
            f"The output layer's activation is {actual!r}, expected {output_activation_name!r}: "
            f"the outputs must be probabilities. Use activation='{output_activation_name}' in the last Dense layer."
        )
    if loss_name(model) != loss:
        raise AssertionError(f"The model is compiled with loss {loss_name(model)!r}; this task needs {loss!r}.")


def accuracy(model, X, y, threshold=0.5):
    """Fraction of samples whose predicted label equals the true label.

    Parameters
    ----------
    model : object with ``predict`` returning (n, 1) or (n, k) probabilities
    X : ndarray of shape (n_samples, ...)
    y : ndarray of shape (n_samples,)
        Integer labels 0..k-1.

    Returns
    -------
    float
    """
    y = check_labels(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)} labels.")
    return float(np.mean(predict_labels(model, X, threshold) == y))


def check_accuracy(model, X, y, target, *, data="data it never saw"):
    """Check that ``model`` reaches ``target`` accuracy on ``(X, y)``, and return its accuracy.

    Raises
    ------
    AssertionError
        "accuracy 0.50 < 0.90 on 500 samples of data it never saw", followed by what
        :func:`helpers.diagnose.diagnose` finds wrong with the model, or else what to try.
    """
    check_is_model(model, "The model")
    try:
        score = accuracy(model, X, y)
    except ValueError as error:
        raise AssertionError(f"Could not score the model: {error}") from None
    if not score >= target:
        advice = _diagnosis_of(model, X, y) or (
            "Look at the loss curve: if it is still falling, train for more epochs or raise the learning rate.")
        raise AssertionError(f"accuracy {score:.3f} < {target:.2f} on {len(y)} samples of {data} · {advice}")
    return score


def _diagnosis_of(model, X, y):
    """helpers.diagnose's findings on one line, or "" when it finds nothing or cannot run."""
    from helpers.diagnose import diagnose

    try:
        return diagnose(model, X, y).summary()
    except Exception:  # noqa: BLE001 - feedback must never turn a failed test into a crash
        return ""


def check_sweep(rates, losses, *, min_steps=50, min_decades=3):
    """Check that ``rates, losses`` are a learning-rate sweep: growing rates over several decades.

    Returns
    -------
    rates, losses : ndarray of shape (n,), float

    Raises
    ------
    AssertionError
        Saying what is missing and how to run the sweep.
    """
    how = "Run rates, losses = find_learning_rate(model, X, y) on a compiled model."
    if rates is None or losses is None:
        raise AssertionError(f"There is no sweep to check: rates or losses is missing. {how}")
    try:
        rates, losses = np.asarray(rates, dtype=float), np.asarray(losses, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"rates and losses must be arrays of numbers. {how}") from None
    if rates.ndim != 1 or rates.shape != losses.shape:
        raise AssertionError(f"rates and losses must be 1-D arrays of the same length, got {rates.shape} and "
                             f"{losses.shape}. {how}")
    if len(rates) < min_steps:
        raise AssertionError(f"The sweep has {len(rates)} steps; it needs at least {min_steps} to show a curve. "
                             "Sweep from a lower start rate or with more steps.")
    if not (np.all(rates > 0) and np.all(np.diff(rates) > 0)):
        raise AssertionError("The rates must be positive and grow at every step, as an exponential schedule does.")
    decades = np.log10(rates[-1] / rates[0])
    if decades < min_decades:
        raise AssertionError(f"The sweep covers {decades:.1f} decades of learning rate; cover at least "
                             f"{min_decades}, e.g. from 1e-5 up to where the loss blows up.")
    return rates, losses


def check_learning_rate_choice(rates, losses, chosen):
    """Check that ``chosen`` lies where the sweep's smoothed loss still falls steeply; return it.

    The steep part is computed from this sweep by :func:`helpers.training.steep_range`:
    from where the smoothed loss has made 10 % of its fall to where it has made 90 %.

    Raises
    ------
    AssertionError
        Saying whether the rate is too low or too high for this curve, and where the range is.
    """
    rates, losses = check_sweep(rates, losses)
    if isinstance(chosen, (bool, np.bool_)) or not isinstance(chosen, (int, float, np.integer, np.floating)):
        raise AssertionError(f"The chosen learning rate must be a number, got {type(chosen).__name__}.")
    chosen = float(chosen)
    try:
        low, high = steep_range(rates, losses)
    except ValueError as error:
        raise AssertionError(f"Could not read your sweep: {error}") from None
    where = f"On your sweep the loss falls steeply from {low:.2g} to {high:.2g}"
    if chosen < low:
        raise AssertionError(f"{where}; {chosen:.2g} is below that, where the loss has barely started to move: "
                             "training would be slow. Choose a larger rate.")
    if chosen > high:
        raise AssertionError(f"{where}; {chosen:.2g} is above that, at or past the bottom of the curve, where "
                             "training is unstable. Choose about 10x below the minimum.")
    return chosen


def usable_rate(chosen, rates, losses, *, fallback):
    """The learner's chosen rate if :func:`check_learning_rate_choice` accepts it, else ``fallback``.

    A task that trains with the rate chosen in an earlier task uses this, so that a wrong
    choice costs the points of the choice once, not again in every later task.

    Returns
    -------
    rate : float
    note : str or None
        Why ``fallback`` was used; ``None`` when the learner's rate was.
    """
    try:
        return check_learning_rate_choice(rates, losses, chosen), None
    except AssertionError as problem:
        return float(fallback), (f"Your chosen rate could not be used ({problem}) This test trains with {fallback:g} "
                                 "instead, so that the choice is graded once, in its own task.")


def check_trained_with(model, *, learning_rate, steps, optimizer=None):
    """Check that ``model`` was compiled with ``learning_rate`` and trained for exactly ``steps`` steps.

    Parameters
    ----------
    optimizer : type, optional
        The optimizer class the task names, e.g. ``keras.optimizers.Adam``: any other is refused, since a rate
        suits one optimizer and not another.

    Raises
    ------
    AssertionError
        Saying which setting differs and how to set it.
    """
    check_is_model(model, "The model")
    used_optimizer = getattr(model, "optimizer", None)
    if used_optimizer is None:
        raise AssertionError("The model is not compiled: call model.compile(optimizer=..., loss=...) and then fit.")
    if optimizer is not None and not isinstance(used_optimizer, optimizer):
        raise AssertionError(
            f"The model was compiled with {type(used_optimizer).__name__}, but this task asks for "
            f"keras.optimizers.{optimizer.__name__}(learning_rate=learning_rate). The same learning rate moves "
            f"the weights by different amounts under different optimizers, so the rate chosen for "
            f"{optimizer.__name__} does not carry over: compile with keras.optimizers.{optimizer.__name__}.")
    optimizer = used_optimizer
    used = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    if not np.isclose(used, learning_rate, rtol=1e-4):
        raise AssertionError(f"The model's optimizer has learning rate {used:.3g}, not the {learning_rate:.3g} it was "
                             "given: compile with keras.optimizers.Adam(learning_rate=learning_rate).")
    taken = int(keras.ops.convert_to_numpy(optimizer.iterations))
    if taken != steps:
        raise AssertionError(f"The model took {taken} training steps; the task allows exactly {steps}. Train once, "
                             "with the number of epochs and the batch size that the task gives.")


def check_normalizes_inputs(model, X_train):
    """Check that ``model`` scales its own inputs with a ``Normalization`` layer adapted on ``X_train``.

    Raises
    ------
    AssertionError
        If there is no such layer, or its statistics are not those of ``X_train``.
    """
    check_is_model(model, "The model")
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Normalization)]
    if not layers:
        raise AssertionError("The model has no keras.layers.Normalization layer: put one right after keras.Input, "
                             "and adapt() it on the training data.")
    layer = layers[0]
    X_train = np.asarray(X_train, dtype=float)
    mean = np.asarray(keras.ops.convert_to_numpy(layer.mean), dtype=float).ravel()
    variance = np.asarray(keras.ops.convert_to_numpy(layer.variance), dtype=float).ravel()
    if mean.shape != (X_train.shape[1],):
        raise AssertionError(f"The Normalization layer holds {mean.size} means for {X_train.shape[1]} features: "
                             "adapt it on the training data, shape (n_samples, n_features).")
    if not (np.allclose(mean, X_train.mean(axis=0), rtol=1e-3, atol=1e-3 * X_train.std(axis=0).max())
            and np.allclose(variance, X_train.var(axis=0), rtol=1e-2)):
        raise AssertionError("The Normalization layer's mean and variance are not those of the training data: call "
                             "normalizer.adapt(X) on the training inputs before training.")


def check_comparable_scales(X_scaled, *, max_ratio=10.0):
    """Check that scaled features have comparable spreads: no standard deviation ``max_ratio`` times another.

    Constant features are left out. Standardised, min-max-scaled and robust-scaled data all pass;
    raw features whose scales differ by orders of magnitude do not.

    Raises
    ------
    AssertionError
        Giving the smallest and largest standard deviation, and what to do.
    """
    X_scaled = np.asarray(X_scaled, dtype=float)
    if X_scaled.ndim != 2:
        raise AssertionError(f"Expected scaled features of shape (n_samples, n_features), got shape {X_scaled.shape}.")
    spreads = X_scaled.std(axis=0)
    spreads = spreads[spreads > 0]
    if spreads.size and spreads.max() > max_ratio * spreads.min():
        raise AssertionError(
            f"After your scaler the features' standard deviations still run from {spreads.min():.3g} to "
            f"{spreads.max():.3g}, {spreads.max() / spreads.min():.0f} times apart: the inputs are not scaled. "
            "Fit a StandardScaler on the training data and transform with it."
        )


def check_probability_outputs(model, X, n_classes):
    """Check that ``model.predict(X)`` gives ``n_classes`` probabilities per sample that add up to 1.

    Raises
    ------
    AssertionError
        For a wrong number of outputs, or outputs that are not probabilities (a missing softmax).
    """
    check_is_model(model, "The model")
    outputs = np.asarray(model.predict(X, verbose=0), dtype=float)
    if outputs.shape != (len(X), n_classes):
        raise AssertionError(f"The model gives outputs of shape {outputs.shape} for {len(X)} samples; expected "
                             f"({len(X)}, {n_classes}): end it with Dense({n_classes}, activation='softmax').")
    if not (np.all(outputs >= -1e-6) and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3)):
        raise AssertionError("The model's outputs are not probabilities (each row must be >= 0 and add up to 1): "
                             f"end it with Dense({n_classes}, activation='softmax').")


def keep_for_verification(model, name, folder="verify", transform=None):
    """Save a graded model as ``verify/<name>.keras`` for ``grader.verify``; hidden tests call this.

    Returns ``None``, so that a test cell that ends with this call shows no value (nbgrader would read a value
    shown by a test cell as its score).

    The verifier loads the file in a fresh process, in Keras's safe mode, and scores it again outside the
    learner's kernel, so a notebook that fakes ``evaluate``, ``predict`` or the metrics gains nothing.
    ``transform`` is the preprocessing the test applies before the model (a fitted scaler's ``transform``); it is
    kept as numbers, ``x @ matrix + offset``, when it is affine (every scikit-learn scaler is); otherwise the object
    it belongs to (the scaler) is pickled as ``<name>.transform.pkl``, which only the sandbox ever unpickles, to
    apply it there. Failures are reported, never raised.
    """
    from pathlib import Path

    path = Path(folder) / f"{name}.keras"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        if transform is not None:
            n_features = int(model.inputs[0].shape[-1])
            offset = np.asarray(transform(np.zeros((1, n_features))), dtype="float64")
            matrix = np.asarray(transform(np.eye(n_features)), dtype="float64") - offset
            probe = np.random.default_rng(0).normal(size=(16, n_features)) * 100
            if np.allclose(np.asarray(transform(probe), dtype="float64"), probe @ matrix + offset, rtol=1e-6,
                           atol=1e-6):
                np.savez(path.with_suffix(".npz"), matrix=matrix, offset=offset)
            else:
                import pickle

                try:
                    with open(path.with_suffix(".transform.pkl"), "wb") as stream:
                        pickle.dump(getattr(transform, "__self__", transform), stream)
                except Exception:
                    path.unlink()  # a model without its preprocessing cannot be scored: keep neither
                    path.with_suffix(".transform.pkl").unlink(missing_ok=True)
                    raise
    except Exception as error:  # a learner's object that is not a savable model: the verifier will say so
        print(f"(The grader could not keep this model for verification: {type(error).__name__}: {error})")


def keep_values(name, folder="verify", **values):
    """Keep a task's values (arrays and numbers) as ``verify/<name>.npz`` for the judge; hidden tests call this.

    The judge (``grader.judge``) reads them without pickle and decides the task outside the learner's kernel.
    A value that is missing (``None``) or not numeric is left out, and the judge then says what is missing.
    Returns ``None``, so a test cell that ends with this call shows no value.
    """
    from pathlib import Path

    arrays = {}
    for key, item in values.items():
        try:
            array = np.asarray(item)
        except Exception:  # noqa: BLE001 - an object that is not array-like: left out, the judge says so
            continue
        if item is not None and array.dtype != object and (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            arrays[key] = array
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        np.savez(Path(folder) / f"{name}.npz", **arrays)
    except Exception as error:  # noqa: BLE001 - reported, never raised
        print(f"(The grader could not keep these values: {type(error).__name__}: {error})")


class TaskFeedback(AssertionError):
    """A visible test's verdict, which a notebook shows as one short message, not a traceback.

    IPython renders an exception through its ``_render_traceback_`` method when it has one;
    the cell still ends in an error, so nbgrader still scores it zero.
    """

    def _render_traceback_(self):
        return [str(self)]


@contextmanager
def feedback(task):
    """Turn a visible test's failure into short feedback for the learner.

    - an untouched task (``NotImplementedError``): "has not been attempted yet", and what to do;
    - a name that is not defined yet: which cell to run;
    - a failed check (``AssertionError``): its message, which says what is wrong and hints at the fix;
    - checks that pass: "✓ Task N: correct on the visible test" (hidden tests check it again on new data).

    Any other error comes from the learner's own code and keeps its traceback, which they need.
    """
    try:
        yield
    except NotImplementedError:
        raise TaskFeedback(f"✗ {task} has not been attempted yet: replace `raise NotImplementedError()` in its code "
                           "cell with your answer, run that cell, then run this test again.") from None
    except NameError as error:
        raise TaskFeedback(f"✗ {task}: {error}: the task has not been attempted yet, or its cell has not run. Write "
                           "your answer in its code cell, run it and the cells above it, then run this test again.") from None
    except TaskFeedback:
        raise
    except AssertionError as error:
        raise TaskFeedback(f"✗ {task}: {error}") from None
    else:
        print(f"✓ {task}: correct on the visible test")
