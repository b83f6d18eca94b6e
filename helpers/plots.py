"""Figures used across the course.

Every function draws on the ``ax`` it is given (or the current Axes), returns the Axes,
and never prints, calls ``plt.show`` or writes files.

Colour-blind readers can read every figure:
- lines and single colours come from the Okabe-Ito palette (``COLOURS``), which importing this module also makes
  matplotlib's default colour cycle, so a plain ``ax.plot`` is safe too;
- colour maps are ones designed for colour-vision deficiency (``SAFE_CMAPS``): ColorBrewer's RdYlBu and Blues,
  viridis, cividis and greys;
- classes differ by marker shape as well as colour, a confusion matrix writes its numbers in the cells, and
  right/wrong predictions carry a tick or a cross.
"""

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from sklearn.metrics import confusion_matrix

from helpers.predictions import as_probabilities, check_labels, model_outputs

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")

# Okabe & Ito (2008), "Color Universal Design": distinguishable with any common colour-vision deficiency.
COLOURS = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "sky blue": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
SAFE_CMAPS = ("RdYlBu", "Blues", "viridis", "cividis", "gray", "gray_r", "Greys")

mpl.rcParams["axes.prop_cycle"] = cycler(color=list(COLOURS.values()))
mpl.rcParams["image.cmap"] = "viridis"


def _check_features(X):
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"plot_decision_boundary needs inputs with exactly two features, shape (n_samples, 2); got {X.shape}."
        )
    return X


def plot_points(X, y, *, ax=None, cmap="RdYlBu", alpha=0.8, title=None):
    """Scatter two-feature points, one colour and marker per class.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.gca()
    X = _check_features(X)
    y = check_labels(y)
    classes = np.unique(y)
    colours = plt.get_cmap(cmap)(np.linspace(0.05, 0.95, max(len(classes), 2)))
    for index, label in enumerate(classes):
        mask = y == label
        ax.scatter(
            X[mask, 0], X[mask, 1], s=18, alpha=alpha, color=colours[index],
            marker=MARKERS[index % len(MARKERS)], edgecolor="k", linewidth=0.3, label=f"class {label}",
        )
    ax.set_xlabel("feature 1 ($x_1$)")
    ax.set_ylabel("feature 2 ($x_2$)")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_decision_boundary(model, X, y, *, ax=None, resolution=200, cmap="RdYlBu", title=None):
    """Plot the decision regions of a classifier with two input features.

    Parameters
    ----------
    model : object whose ``predict`` returns (n, 1) sigmoid or (n, k) softmax probabilities
        Keras models and scikit-learn classifiers with ``predict_proba`` both work.
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
    ax : matplotlib.axes.Axes, optional
    resolution : int, default 200
        Grid points along each axis.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.gca()
    X = _check_features(X)
    margin_x = 0.1 * (np.ptp(X[:, 0]) or 1.0)
    margin_y = 0.1 * (np.ptp(X[:, 1]) or 1.0)
    xs = np.linspace(X[:, 0].min() - margin_x, X[:, 0].max() + margin_x, resolution)
    ys = np.linspace(X[:, 1].min() - margin_y, X[:, 1].max() + margin_y, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()]).astype("float32")
    if hasattr(model, "predict_proba"):  # scikit-learn: keep the probability of class 1 only for two classes
        outputs = model.predict_proba(grid)
        outputs = outputs[:, 1:] if outputs.shape[1] == 2 else outputs
    else:
        outputs = model_outputs(model, grid)
    probabilities = as_probabilities(outputs)
    if probabilities.shape[1] == 1:
        surface = probabilities[:, 0].reshape(grid_x.shape)
        ax.contourf(grid_x, grid_y, surface, levels=np.linspace(0, 1, 11), cmap=cmap, alpha=0.45)
        ax.contour(grid_x, grid_y, surface, levels=[0.5], colors="k", linewidths=1.2)
    else:
        regions = probabilities.argmax(axis=1).reshape(grid_x.shape)
        k = probabilities.shape[1]
        ax.contourf(grid_x, grid_y, regions, levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.45)
    plot_points(X, y, ax=ax, cmap=cmap, title=title)
    return ax


def plot_history(history, *, metrics=("loss", "accuracy"), axes=None, title=None):
    """Plot training and validation curves, one panel per metric.

    Parameters
    ----------
    history : keras.callbacks.History or dict
        ``model.fit(...)`` returns a History; its ``.history`` dict maps names such as
        ``"loss"`` and ``"val_loss"`` to one value per epoch.
    metrics : sequence of str, default ("loss", "accuracy")
        Names to plot; names missing from the history are left out.
    axes : sequence of matplotlib.axes.Axes, optional
        One per metric that is present; new side-by-side Axes when omitted.
    title : str, optional

    Returns
    -------
    list of matplotlib.axes.Axes
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError("plot_history needs the History returned by model.fit(...) or its .history dict.")
    present = [name for name in metrics if name in logs]
    if not present:
        raise ValueError(f"None of {list(metrics)} is in the history; it holds {sorted(logs)}.")
    if axes is None:
        _, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 3.4), squeeze=False)
        axes = list(axes[0])
    if len(axes) < len(present):
        raise ValueError(f"Got {len(axes)} Axes for {len(present)} metrics {present}.")
    for ax, name in zip(axes, present):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], "-", marker=".", label="training")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], "--", marker=".", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend(fontsize="small")
        if title:
            ax.set_title(f"{title}: {name}")
    return list(axes[: len(present)])


def plot_confusion_matrix(y_true, y_pred, *, class_names=None, ax=None, cmap="Blues", title=None):
    """Plot a confusion matrix with counts and row percentages written in every cell.

    Rows are the true classes, columns the predicted ones; a row's percentages add up to
    100 %, so the diagonal reads as each class's recall.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_samples,)
        Integer labels 0..k-1.
    class_names : sequence of str, optional
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    y_true = check_labels(y_true)
    y_pred = check_labels(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}.")
    k = max(int(y_true.max()), int(y_pred.max())) + 1
    if class_names is not None:
        if len(class_names) < k:
            raise ValueError(f"Got {len(class_names)} class names for labels 0..{k - 1}.")
        k = len(class_names)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    counts = confusion_matrix(y_true, y_pred, labels=np.arange(k))
    row_totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, row_totals, out=np.zeros(counts.shape, dtype=float), where=row_totals > 0)
    ax = ax or plt.gca()
    ax.imshow(shares, cmap=cmap, vmin=0, vmax=1)
    small = k > 6
    for i in range(k):
        for j in range(k):
            colour = "white" if shares[i, j] > 0.6 else "black"
            text = f"{counts[i, j]}\n{100 * shares[i, j]:.0f}%"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=7 if small else 10)
    ax.set_xticks(range(k), names, rotation=45 if small else 0, ha="right" if small else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "Confusion matrix (count and % of the true class)")
    return ax


def plot_predictions(images, y_true, y_pred, *, class_names=None, ncols=5, axes=None, cmap="gray_r"):
    """Show images in a grid, titled "predicted (true)", green when right and red when wrong.

    Titles also start with a tick or a cross, so right and wrong do not rest on colour alone.

    Parameters
    ----------
    images : ndarray of shape (n, height, width) or (n, height * width) for square images
    y_true, y_pred : ndarray of shape (n,)
    class_names : sequence of str, optional
    ncols : int, default 5
    axes : array of matplotlib.axes.Axes, optional
        At least ``n`` Axes; a new grid when omitted.

    Returns
    -------
    list of matplotlib.axes.Axes
    """
    images = np.asarray(images)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"Cannot reshape rows of {images.shape[1]} pixels into square images.")
        images = images.reshape(-1, side, side)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width); got {images.shape}.")
    y_true, y_pred = check_labels(y_true), check_labels(y_pred)
    n = len(images)
    if not n == len(y_true) == len(y_pred):
        raise ValueError(f"Got {n} images, {len(y_true)} true labels and {len(y_pred)} predictions.")
    if axes is None:
        nrows = int(np.ceil(n / ncols))
        _, grid = plt.subplots(nrows, ncols, figsize=(1.8 * ncols, 2.0 * nrows), squeeze=False)
        axes = grid.ravel()
    axes = list(np.ravel(axes))
    name = (lambda label: class_names[label]) if class_names is not None else str
    for ax in axes:
        ax.axis("off")
    for ax, image, true, pred in zip(axes, images, y_true, y_pred):
        right = true == pred
        ax.imshow(image, cmap=cmap)
        ax.set_title(
            f"{'✓' if right else '✗'} {name(pred)}\n({name(true)})",
            color=COLOURS["blue"] if right else COLOURS["vermillion"], fontsize=8,
        )
    return axes[:n]


def plot_lr_finder(rates, losses, *, suggestion=None, steep=None, ax=None, title=None):
    """Plot the loss against the learning rate of a sweep, on a log axis.

    Parameters
    ----------
    rates, losses : ndarray of shape (n_steps,)
        From :func:`helpers.training.find_learning_rate`.
    suggestion : float, optional
        A rate to mark, e.g. from :func:`helpers.training.suggest_learning_rate`.
    steep : (float, float), optional
        A range of rates to shade, e.g. from :func:`helpers.training.steep_range`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    rates, losses = np.asarray(rates, dtype=float), np.asarray(losses, dtype=float)
    if rates.shape != losses.shape or rates.ndim != 1 or len(rates) < 2:
        raise ValueError(f"rates and losses must be 1-D arrays of equal length; got {rates.shape} and {losses.shape}.")
    ax = ax or plt.gca()
    ax.plot(rates, losses, "-", color=COLOURS["blue"], alpha=0.35, label="loss per batch")
    finite_at = np.isfinite(losses)
    if finite_at.sum() >= 2:
        from helpers.training import smooth

        ax.plot(rates[finite_at], smooth(losses[finite_at]), "-", color=COLOURS["blue"], label="smoothed")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    finite = losses[np.isfinite(losses)]
    if finite.size:
        top = min(finite.max(), 3 * finite[: max(1, len(finite) // 10)].mean())
        ax.set_ylim(finite.min() - 0.05 * abs(finite.min()), top * 1.05 if top > 0 else None)
    if steep is not None:
        ax.axvspan(*steep, color=COLOURS["green"], alpha=0.2, label=f"steep fall {steep[0]:.2g} to {steep[1]:.2g}")
    if suggestion is not None:
        ax.axvline(suggestion, color=COLOURS["vermillion"], linestyle="--", label=f"suggested {suggestion:.2g}")
    ax.legend(fontsize="small")
    ax.set_title(title or "Learning-rate sweep")
    return ax
