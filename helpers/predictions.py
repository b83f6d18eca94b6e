"""From model outputs to class labels, for sigmoid and softmax models alike.

A classifier's ``predict`` returns probabilities, not labels: shape ``(n, 1)`` for a
single sigmoid unit, ``(n, k)`` for a softmax (or multi-label sigmoid) layer. These
functions turn either into labels, and check label arrays before they are compared.
"""

import numpy as np


def as_probabilities(outputs):
    """Check model outputs and return them as a 2-D float array.

    Parameters
    ----------
    outputs : array-like of shape (n,), (n, 1) or (n, k)

    Returns
    -------
    ndarray of shape (n, 1) or (n, k)

    Raises
    ------
    ValueError
        If the outputs are not one- or two-dimensional, are empty, or hold NaN.
    """
    probabilities = np.asarray(outputs, dtype="float64")
    if probabilities.ndim == 1:
        probabilities = probabilities[:, None]
    if probabilities.ndim != 2 or probabilities.shape[0] == 0:
        raise ValueError(
            f"Expected model outputs of shape (n_samples, n_outputs), got shape {np.shape(outputs)}. "
            "The model's last layer should be Dense(1, activation='sigmoid') or Dense(k, activation='softmax')."
        )
    if np.isnan(probabilities).any():
        raise ValueError("The model's outputs contain NaN: training diverged. Lower the learning rate and retrain.")
    return probabilities


def probabilities_to_labels(outputs, threshold=0.5):
    """Turn predicted probabilities into class labels.

    Parameters
    ----------
    outputs : array-like of shape (n,), (n, 1) or (n, k)
        One column: the probability of class 1, labelled 1 where it is above ``threshold``.
        Several columns: one probability per class; the label is the column of the largest.
    threshold : float, default 0.5
        Used for one column only, with a strict ``>`` as in ``keras.metrics.BinaryAccuracy``.

    Returns
    -------
    ndarray of shape (n,), int64
    """
    probabilities = as_probabilities(outputs)
    if probabilities.shape[1] == 1:
        return (probabilities[:, 0] > threshold).astype("int64")
    return probabilities.argmax(axis=1).astype("int64")


def model_outputs(model, X, batch_size=4096):
    """What ``model.predict(X, verbose=0)`` returns, as a NumPy array, quicker for a freshly trained Keras model.

    ``predict`` traces a prediction function the first time a model predicts, which for the small models of this
    course takes longer than the prediction itself (about 0.2 s on a laptop CPU). A Keras model that keeps Keras's
    own ``predict`` is therefore called directly, ``model(rows, training=False)`` as ``predict`` calls it, on
    slices of ``batch_size`` rows. Any other object (a scikit-learn classifier, a model whose class or which itself
    was given another ``predict``) has its ``predict`` called.

    Parameters
    ----------
    model : keras.Model, or any object with ``predict(X, verbose=0)``
    X : ndarray of shape (n_samples, ...)
    batch_size : int, default 4096

    Returns
    -------
    ndarray, the model's outputs: (n, 1) or (n, k) for a classifier
    """
    import sys

    keras = sys.modules.get("keras")  # only a process that imported Keras can hold a Keras model
    keeps_keras_predict = (keras is not None and isinstance(model, keras.Model)
                           and getattr(model.predict, "__func__", None) is keras.Model.predict)
    if keeps_keras_predict:  # not a predict of the model's class, nor one set on the model itself
        X = np.asarray(X)
        return np.concatenate([keras.ops.convert_to_numpy(model(X[first: first + batch_size], training=False))
                               for first in range(0, max(len(X), 1), batch_size)])
    return model.predict(X, verbose=0)


def predict_labels(model, X, threshold=0.5):
    """Predict class labels with any model whose ``predict`` returns probabilities.

    Parameters
    ----------
    model : object with ``predict(X, verbose=0)`` returning (n, 1) or (n, k) probabilities
    X : ndarray of shape (n_samples, ...)
    threshold : float, default 0.5

    Returns
    -------
    ndarray of shape (n_samples,), int64
    """
    if not callable(getattr(model, "predict", None)):
        raise ValueError(
            f"Expected a Keras model (something with a .predict method), got {type(model).__name__}. "
            "Pass the model object itself, e.g. the one returned by keras.Sequential([...])."
        )
    outputs = model_outputs(model, X)
    if len(outputs) != len(X):
        raise ValueError(f"The model returned {len(outputs)} predictions for {len(X)} inputs.")
    return probabilities_to_labels(outputs, threshold)


def check_labels(y, n_classes=None):
    """Check that labels are integers 0..k-1 in a 1-D array, and return them as int64.

    Parameters
    ----------
    y : array-like of shape (n,) or (n, 1)
    n_classes : int, optional
        When given, labels must lie in ``0..n_classes-1``.

    Returns
    -------
    ndarray of shape (n,), int64

    Raises
    ------
    ValueError
        With what to do, for one-hot labels, float labels or labels outside 0..k-1.
    """
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim == 2:
        raise ValueError(
            f"Labels have shape {labels.shape}: they look one-hot encoded. Pass integer class labels "
            "instead, e.g. y.argmax(axis=1)."
        )
    if labels.ndim != 1:
        raise ValueError(f"Labels must be a 1-D array of class numbers, got shape {labels.shape}.")
    if labels.size and not np.all(np.equal(np.mod(labels, 1), 0)):
        raise ValueError("Labels must be whole class numbers 0, 1, ..., k-1, but some are fractions.")
    labels = labels.astype("int64")
    if labels.size and labels.min() < 0:
        raise ValueError(f"Labels must run from 0 to k-1, but the smallest is {labels.min()}.")
    if n_classes is not None and labels.size and labels.max() >= n_classes:
        raise ValueError(
            f"Labels must run from 0 to {n_classes - 1} for {n_classes} classes, but the largest is "
            f"{labels.max()}. If your labels start at 1, subtract 1 from them."
        )
    return labels
