"""Why isn't my model learning? ``diagnose`` looks for the classic mistakes and says how to fix each.

It reads the model's layers and compiled loss, the data and, when given, the training
history; it may call ``predict`` on up to 2,000 samples, and it never trains the model.
Each :class:`Finding` says what is wrong, the evidence (the numbers it saw) and the fix.
A :class:`Diagnosis` is a list of findings that prints as plain text and as HTML in a
notebook; an empty one means none of the checks fired.

    findings = diagnose(model, X_train, y_train, history)
    findings            # in a notebook: a short report
    findings.checks     # ["labels-not-zero-based", ...], for tests
"""

import html
import math
from dataclasses import dataclass

import numpy as np

from helpers.repro import import_keras_quietly

keras = import_keras_quietly()

CROSS_ENTROPIES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy")
REGRESSION_LOSSES = ("mean_squared_error", "mean_absolute_error", "mean_squared_logarithmic_error", "huber",
                     "log_cosh", "mean_absolute_percentage_error", "mse", "mae")
SCALING_LAYERS = ("Normalization", "Rescaling")
MAX_PREDICT = 2000


@dataclass(frozen=True)
class Finding:
    """One mistake: a short id, what is wrong, the evidence seen, and the fix."""

    check: str
    problem: str
    evidence: str
    fix: str

    def __str__(self):
        return f"{self.problem} ({self.evidence}). {self.fix}"

    def short(self):
        """One line for a grading message: the problem and the fix."""
        return f"{self.problem}: {self.fix[0].lower()}{self.fix[1:]}"


class Diagnosis(list):
    """The findings of :func:`diagnose`: a list that prints well in a notebook."""

    @property
    def checks(self):
        """The ids of the checks that fired, in order."""
        return [finding.check for finding in self]

    def summary(self):
        """All findings on one line, for an assertion message; empty when there are none."""
        return " · ".join(finding.short() for finding in self)

    def __str__(self):
        if not self:
            return "diagnose: no known mistake found."
        lines = [f"diagnose: {len(self)} possible problem{'s' if len(self) > 1 else ''}"]
        lines += [f"{i}. {finding}" for i, finding in enumerate(self, 1)]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        if not self:
            return "<p><strong>diagnose:</strong> no known mistake found.</p>"
        items = "".join(
            f"<li><strong>{html.escape(f.problem)}</strong><br>Evidence: {html.escape(f.evidence)}<br>"
            f"Fix: {html.escape(f.fix)} <code>[{html.escape(f.check)}]</code></li>"
            for f in self
        )
        return f"<p><strong>diagnose:</strong> {len(self)} possible problem(s)</p><ol>{items}</ol>"


# ---------------------------------------------------------------- reading the model

def _loss_info(model):
    """(snake-case loss name or None, from_logits)."""
    from helpers.grading import loss_name

    loss = getattr(model, "loss", None)
    from_logits = False
    if isinstance(loss, keras.losses.Loss):
        from_logits = bool(loss.get_config().get("from_logits", False))
    return loss_name(model), from_logits


def _output_activation(model):
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not layers:
        return None
    last = layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return "softmax"
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", None)


def _output_units(model):
    try:
        return int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return getattr(model.layers[-1], "units", None) if model.layers else None


def _metric_names(model):
    try:
        metrics = (model.get_compile_config() or {}).get("metrics") or []
    except (AttributeError, TypeError, ValueError):
        return []
    names = []
    for metric in keras.tree.flatten(metrics):
        if isinstance(metric, str):
            names.append(metric)
        elif isinstance(metric, dict):
            names.append(str(metric.get("config", {}).get("name", metric.get("class_name", ""))))
        else:
            names.append(str(getattr(metric, "name", "")))
    return [name.lower() for name in names]


def _scales_its_inputs(model):
    for layer in model.layers:
        if type(layer).__name__ in SCALING_LAYERS:
            return True
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            return False
    return False


def _is_linear_only(model):
    """No non-linear activation anywhere before the output layer."""
    for layer in model.layers[:-1]:
        if isinstance(layer, (keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU)):
            if getattr(getattr(layer, "activation", None), "__name__", "relu") != "linear":
                return False
        activation = getattr(getattr(layer, "activation", None), "__name__", None)
        if activation not in (None, "linear"):
            return False
    return True


# ---------------------------------------------------------------- reading the data

def _describe_labels(y):
    """A dict: kind ('integer', 'float', 'one-hot', 'k-hot', 'other'), n_classes and, where the labels name
    one class per sample, ``values``: those class numbers as int64 (from int, bool, whole-number float, (n, 1)
    or one-hot labels)."""
    y = np.asarray(y)
    if y.dtype == bool:
        y = y.astype("int64")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.size == 0 or not np.issubdtype(y.dtype, np.number):
        return {"kind": "other"}
    if y.ndim == 2:
        binary = np.isin(y, (0, 1)).all()
        one_hot = binary and np.all(y.sum(axis=1) == 1)
        if one_hot:
            return {"kind": "one-hot", "n_classes": y.shape[1], "values": y.argmax(axis=1).astype("int64")}
        return {"kind": "k-hot" if binary else "float", "n_classes": y.shape[1]}
    y = y.ravel()
    if not np.all(np.isfinite(y)) or not np.all(np.equal(np.mod(y, 1), 0)):
        return {"kind": "float", "minimum": float(np.nanmin(y)), "maximum": float(np.nanmax(y))}
    values = y.astype("int64")
    classes = np.unique(values)
    return {"kind": "integer", "classes": classes, "n_classes": len(classes),
            "minimum": int(classes[0]), "maximum": int(classes[-1]), "values": values}


def _history_losses(history):
    if history is None:
        return None
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or "loss" not in logs:
        return None
    return np.asarray(logs["loss"], dtype=float)


def _batch_size(history, n_samples, batch_size):
    if batch_size is not None:
        return int(batch_size)
    params = getattr(history, "params", None) or {}
    steps = params.get("steps")
    if steps:
        return int(math.ceil(n_samples / steps))
    return None


# ---------------------------------------------------------------- the checks

def _check_labels(labels, loss, units, found):
    kind = labels["kind"]
    if kind == "integer":
        low, high, k = labels["minimum"], labels["maximum"], labels["n_classes"]
        if low > 0 and loss in CROSS_ENTROPIES:
            found.append(Finding(
                "labels-not-zero-based", f"Your labels run from {low} to {high}, not from 0",
                f"classes {labels['classes'][:10].tolist()}",
                f"Cross-entropy losses need labels 0..k-1: use y - {low}, or np.unique(y, return_inverse=True)."))
        if units == 1 and k > 2 and loss in CROSS_ENTROPIES:
            found.append(Finding(
                "too-many-classes-for-one-unit", f"There are {k} classes but the model has one output unit",
                f"labels {low}..{high}, output units 1",
                f"Use Dense({k}, activation='softmax') with sparse categorical cross-entropy."))
        elif units and units > 1 and high >= units and loss == "sparse_categorical_crossentropy":
            found.append(Finding(
                "labels-out-of-range", f"Label {high} needs at least {high + 1} output units; the model has {units}",
                f"labels {low}..{high}, output units {units}",
                "Make the labels run from 0 to k-1, and give the output layer k units."))
        if loss == "categorical_crossentropy":
            found.append(Finding(
                "integer-labels-with-categorical-loss", "Integer labels go to categorical cross-entropy, which wants one-hot labels",
                f"labels of shape (n,), {k} classes",
                "Use loss='sparse_categorical_crossentropy', or one-hot encode with keras.utils.to_categorical(y)."))
    elif kind == "one-hot" and loss == "sparse_categorical_crossentropy":
        found.append(Finding(
            "one-hot-with-sparse-loss", "One-hot labels go to sparse categorical cross-entropy, which wants integers",
            f"labels of shape (n, {labels['n_classes']}), one 1 per row",
            "Use loss='categorical_crossentropy', or pass y.argmax(axis=1)."))
    elif kind == "float" and loss in CROSS_ENTROPIES:
        found.append(Finding(
            "float-labels", "The labels are fractions, but the loss is a classification loss",
            f"labels from {labels.get('minimum', 0):.3g} to {labels.get('maximum', 1):.3g}, not whole class numbers",
            "Give class numbers 0..k-1 (e.g. (y > 0.5).astype(int)), or use a regression loss such as 'mse'."))


def _check_output_and_loss(loss, from_logits, units, activation, labels, found):
    if loss == "binary_crossentropy" and not from_logits and activation != "sigmoid":
        found.append(Finding(
            "bce-without-sigmoid", "Your output layer has no sigmoid but the loss is binary cross-entropy",
            f"output activation {activation!r}",
            "Add activation='sigmoid' to the output layer, or use "
            "keras.losses.BinaryCrossentropy(from_logits=True)."))
    if activation == "softmax" and units == 1:
        found.append(Finding(
            "softmax-on-one-unit", "A softmax over a single unit always outputs 1.0",
            "output layer Dense(1, activation='softmax')",
            "For two classes use Dense(1, activation='sigmoid') with binary cross-entropy, "
            "or Dense(2, activation='softmax') with sparse categorical cross-entropy."))
    single_label = labels["kind"] in ("integer", "one-hot")
    if activation == "sigmoid" and units and units > 1 and single_label and labels.get("n_classes", 0) > 2:
        found.append(Finding(
            "sigmoid-for-single-label", f"{units} sigmoid outputs for one label per example: they do not compete",
            f"{labels['n_classes']} classes, one per sample, output activation 'sigmoid'",
            "Use activation='softmax' with sparse categorical cross-entropy; sigmoids are for several labels per example."))
    if from_logits and activation in ("sigmoid", "softmax"):
        found.append(Finding(
            "from-logits-on-probabilities", f"The loss expects logits (from_logits=True) but the output layer applies {activation}",
            f"output activation {activation!r}, from_logits=True",
            "Remove the activation from the output layer, or drop from_logits=True."))
    if loss in ("categorical_crossentropy", "sparse_categorical_crossentropy") and not from_logits \
            and activation not in ("softmax", "sigmoid") and units and units > 1:
        found.append(Finding(
            "categorical-without-softmax", "The output layer has no softmax but the loss expects probabilities",
            f"output activation {activation!r}, from_logits=False",
            "Add activation='softmax' to the output layer, or use "
            "keras.losses.SparseCategoricalCrossentropy(from_logits=True)."))


def _check_inputs(model, X, found):
    if _scales_its_inputs(model):
        return
    X = np.asarray(X, dtype="float64").reshape(len(X), -1)
    if X.size == 0:
        return
    biggest = float(np.max(np.abs(X)))
    if biggest >= 100:
        found.append(Finding(
            "inputs-large", "The inputs are not scaled: they reach the hundreds or more",
            f"largest absolute input {biggest:.4g}",
            "Scale them: divide pixels by 255, standardise other features with a StandardScaler fitted on the "
            "training split, or start the model with keras.layers.Normalization."))
    spreads = X.std(axis=0)
    varying = spreads[spreads > 0]
    if varying.size >= 2:
        low, high = np.percentile(varying, [10, 90]) if varying.size >= 10 else (varying.min(), varying.max())
        if high > 100 * low:
            found.append(Finding(
                "inputs-scales-apart", "The features are on very different scales",
                f"standard deviations from {low:.3g} to {high:.3g}",
                "Standardise each feature (StandardScaler fitted on the training split, or keras.layers.Normalization)."))
    constant = np.flatnonzero(spreads == 0)
    if constant.size and (X.shape[1] <= 20 or constant.size >= 0.2 * X.shape[1]):
        found.append(Finding(
            "constant-feature", f"{constant.size} feature(s) never vary, so they cannot help tell classes apart",
            f"constant feature index(es) {constant[:10].tolist()} of {X.shape[1]}",
            "Check how the data were built: a feature that should decide the label must vary across the samples."))


def _check_linear(model, X, y, labels, accuracy_value, found):
    if "values" not in labels or not _is_linear_only(model) or labels["n_classes"] < 2:
        return
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype="float64").reshape(len(X), -1)[:MAX_PREDICT]
    y = labels["values"][:MAX_PREDICT]
    if np.bincount(y - y.min()).min() < 3:
        return
    X = StandardScaler().fit_transform(X)
    best_line = LogisticRegression(max_iter=300).fit(X, y).score(X, y)  # the line's best case: its own data
    curved = cross_val_score(KNeighborsClassifier(15), X, y, cv=3).mean()
    # Flag only when a curved boundary does clearly better than any line: otherwise the data,
    # not the model, are the problem (a constant feature, say) and other checks say so.
    if curved > best_line + 0.1 and (accuracy_value is None or accuracy_value <= best_line + 0.05):
        found.append(Finding(
            "linear-only", "The model has no non-linear activation, so it can only draw straight lines",
            f"a straight-line classifier reaches {best_line:.2f} on these data, a curved one {curved:.2f}"
            + (f"; the model {accuracy_value:.2f}" if accuracy_value is not None else ""),
            "Give the hidden layers a non-linear activation such as activation='relu'."))


def _still_creeping(losses):
    """A loss that falls at an almost steady pace and is still high: it has not begun to converge.

    Healthy training falls fast at first and then flattens; a rate too low gives a near-straight,
    slow decline, its last third falling at least half as fast as its first.
    """
    third = max(2, len(losses) // 3)
    early = (losses[0] - losses[third]) / third
    late = (losses[-third - 1] - losses[-1]) / third
    return bool(early > 0 and late > 0.5 * early and losses[-1] > 0.3 and losses[-1] > 0.5 * losses[0])


def _check_learning_rate(losses, n_classes, found):
    if losses is None or len(losses) == 0:
        return
    if not np.all(np.isfinite(losses)):
        first_bad = int(np.flatnonzero(~np.isfinite(losses))[0]) + 1
        found.append(Finding(
            "loss-nan", "The training loss became NaN: training diverged",
            f"loss not finite from epoch {first_bad}",
            "Lower the learning rate (run a learning-rate sweep), and check the inputs are scaled."))
        return
    if len(losses) < 3:
        return
    first, last = losses[0], losses[-1]
    rises = np.diff(losses) > 0.1 * np.abs(losses[:-1])
    if last > first * 1.05:
        found.append(Finding(
            "lr-too-high", "The training loss went up instead of down: the learning rate is too high",
            f"loss {first:.3g} in the first epoch, {last:.3g} in the last",
            "Lower the learning rate, 3x to 10x; a learning-rate sweep shows where."))
    elif len(losses) >= 5 and rises.mean() >= 0.3:
        found.append(Finding(
            "lr-too-high", "The training loss jumps up and down: the learning rate is too high",
            f"the loss rose by more than 10 % in {int(rises.sum())} of {len(losses) - 1} epochs",
            "Lower the learning rate, 3x to 10x; a learning-rate sweep shows where."))
    elif len(losses) >= 5 and _still_creeping(losses):
        found.append(Finding(
            "lr-too-low", "The training loss barely moved, and is still creeping down: the learning rate is too low "
                          "for this many steps",
            f"loss {first:.3g} in the first epoch, {last:.3g} after {len(losses)}",
            "Raise the learning rate (a learning-rate sweep shows by how much), or train for many more epochs."))
    if n_classes and n_classes >= 2 and abs(last - math.log(n_classes)) < 0.03 * math.log(n_classes):
        found.append(Finding(
            "loss-at-chance", f"The training loss sits at ln {n_classes} = {math.log(n_classes):.3f}, "
                              "the loss of a model that guesses",
            f"last training loss {last:.3f}",
            "The model has learned nothing yet; look at the other findings, the learning rate first."))


def _check_predictions(model, X, y, labels, found):
    """Predict on up to MAX_PREDICT samples; return the accuracy, or None if it cannot be computed."""
    from helpers.predictions import predict_labels

    if "values" not in labels:
        return None
    X, y = X[:MAX_PREDICT], labels["values"][:MAX_PREDICT]
    try:
        predicted = predict_labels(model, X)
    except Exception:  # noqa: BLE001 - a model that cannot predict is reported elsewhere
        return None
    accuracy_value = float(np.mean(predicted == y))
    values, counts = np.unique(predicted, return_counts=True)
    majority = np.bincount(y - y.min()).max() / len(y)
    if counts.max() >= 0.98 * len(y) and len(np.unique(y)) > 1:
        found.append(Finding(
            "predicts-one-class", f"The model predicts class {values[np.argmax(counts)]} for almost every sample",
            f"{counts.max()} of {len(y)} predictions are the same class; accuracy {accuracy_value:.2f}",
            "The model is guessing; look at the other findings first (labels, output layer, scaling, learning rate)."))
    elif accuracy_value <= majority + 0.02 and len(np.unique(y)) > 1:
        found.append(Finding(
            "accuracy-at-majority", "The accuracy is no better than always answering the most common class",
            f"accuracy {accuracy_value:.2f}, most common class {majority:.2f} of the samples",
            "The model is guessing; look at the other findings first (labels, output layer, scaling, learning rate)."))
    return accuracy_value


def _check_metrics(model, loss, found):
    if loss in REGRESSION_LOSSES and any(name in ("accuracy", "acc") for name in _metric_names(model)):
        found.append(Finding(
            "accuracy-with-regression-loss", f"The metric 'accuracy' is used with the regression loss {loss!r}",
            f"loss {loss!r}, metrics {_metric_names(model)}",
            "For classification use a cross-entropy loss; for regression use metrics such as 'mae' instead."))


def _check_batchnorm(model, n_samples, batch, steps, found):
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers or not (n_samples < 32 or (batch is not None and batch <= 4)):
        return
    momentum = float(layers[0].momentum)
    evidence = f"{n_samples} samples" + (f", batches of {batch}" if batch is not None else "")
    behind = ""
    if steps:
        left = momentum ** steps
        evidence += f", {steps} training steps"
        behind = (f" After {steps} steps its running averages still hold {left:.0%} of their starting values "
                  "(mean 0, variance 1), so predict sees other numbers than training did.")
    found.append(Finding(
        "batchnorm-small-batches",
        "BatchNormalization with few samples and few steps: in training it standardises with each batch's own "
        f"statistics; predict uses running averages that move only {1 - momentum:.0%} of the way per step." + behind,
        evidence,
        "Remove BatchNormalization and scale the inputs yourself, or train on more data in batches of 32 or more."))


def _training_steps(history):
    params = getattr(history, "params", None) or {}
    steps, epochs = params.get("steps"), params.get("epochs")
    logs = getattr(history, "history", None) or {}
    ran = len(logs.get("loss", [])) or epochs
    return int(steps * ran) if steps and ran else None


def _check_same_data(X, X_eval, found):
    if X_eval is None:
        return
    X_eval = np.asarray(X_eval)
    if X_eval is X or (X_eval.shape == np.shape(X) and np.array_equal(X_eval, X)):
        found.append(Finding(
            "evaluated-on-training-data", "The evaluation data are the training data",
            f"the same {len(X_eval)} samples",
            "Hold out a test split (train_test_split) and evaluate on data the model never saw."))


def diagnose(model, X, y, history=None, *, X_eval=None, batch_size=None):
    """Look for the classic reasons a classifier does not learn, without training it.

    Parameters
    ----------
    model : keras.Model, compiled
    X : ndarray of shape (n_samples, ...)
        The data the model was trained on (or is scored on).
    y : ndarray of shape (n_samples,), (n_samples, 1) or (n_samples, k)
        Their labels: integers, whole-number floats (``[0., 1.]``), booleans, one-hot or k-hot rows.
    history : keras.callbacks.History or dict, optional
        What ``fit`` returned. When omitted, the model's last ``fit`` history is used if any.
    X_eval : ndarray, optional
        The data used to evaluate the model, to check it is not ``X`` itself.
    batch_size : int, optional
        The training batch size, if it cannot be read from ``history``.

    Returns
    -------
    Diagnosis
        A list of :class:`Finding`; empty when no check fired.
    """
    from helpers.grading import check_is_model

    check_is_model(model, "diagnose(model, ...)")
    X = np.asarray(X)
    if len(X) != len(np.asarray(y)):
        raise ValueError(f"X has {len(X)} samples but y has {len(np.asarray(y))} labels.")
    if history is None:
        history = getattr(model, "history", None)
    found = Diagnosis()
    loss, from_logits = _loss_info(model)
    units, activation = _output_units(model), _output_activation(model)
    labels = _describe_labels(y)
    _check_labels(labels, loss, units, found)
    _check_output_and_loss(loss, from_logits, units, activation, labels, found)
    _check_metrics(model, loss, found)
    _check_inputs(model, X, found)
    accuracy_value = _check_predictions(model, X, y, labels, found)
    _check_linear(model, X, y, labels, accuracy_value, found)
    n_classes = labels.get("n_classes") if loss in CROSS_ENTROPIES else None
    _check_learning_rate(_history_losses(history), n_classes, found)
    _check_batchnorm(model, len(X), _batch_size(history, len(X), batch_size), _training_steps(history), found)
    _check_same_data(X, X_eval, found)
    return found
