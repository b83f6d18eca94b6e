"""The learning-rate sweep ("LR finder"): compute here, draw with :func:`helpers.plots.plot_lr_finder`.

The sweep trains a copy of the model for a few hundred steps while the learning rate
grows exponentially from ``start`` to ``end``, and records the rate each step really
used and the loss it produced. The original model and its optimizer are left untouched.
"""

import numpy as np

from helpers.repro import import_keras_quietly

keras = import_keras_quietly()


def exponential_rates(start, end, steps):
    """Learning rates growing by the same factor every step, from ``start`` to ``end``.

    ``rate_i = start * (end / start) ** (i / (steps - 1))`` for ``i = 0 .. steps-1``.

    Parameters
    ----------
    start, end : float
        Positive, with ``start < end``.
    steps : int
        At least 2.

    Returns
    -------
    ndarray of shape (steps,)
    """
    if not (start > 0 and end > start):
        raise ValueError(f"Need 0 < start < end, got start={start!r}, end={end!r}.")
    if int(steps) != steps or steps < 2:
        raise ValueError(f"steps must be an integer of at least 2, got {steps!r}.")
    return start * (end / start) ** (np.arange(steps) / (steps - 1))


def current_learning_rate(optimizer, logs=None):
    """The learning rate an optimizer uses now, as a float.

    Keras 3 logs it as ``"learning_rate"``, Keras 2 as ``"lr"``, and some callbacks log
    neither; all three are handled, the optimizer itself being the last resort.
    """
    logs = logs or {}
    for key in ("learning_rate", "lr"):
        if key in logs:
            return float(logs[key])
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _fresh_copy(model):
    if not isinstance(model, keras.Model):
        raise ValueError(f"find_learning_rate needs a Keras model, got {type(model).__name__}.")
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        raise ValueError("Compile the model first: model.compile(optimizer=..., loss=...).")
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    optimizer = model.optimizer.__class__.from_config(model.optimizer.get_config())
    copy.compile(optimizer=optimizer, loss=model.loss)
    return copy


def _batches(n_samples, batch_size, rng):
    """Endless index batches: a fresh shuffle each pass over the data, the last batch of a pass possibly short."""
    while True:
        order = rng.permutation(n_samples)
        for first in range(0, n_samples, batch_size):
            yield order[first: first + batch_size]


def find_learning_rate(model, X, y, *, start=1e-5, end=10.0, steps=200, batch_size=32, stop_factor=4.0, seed=0):
    """Sweep the learning rate exponentially on a copy of ``model``.

    Each step sets the next rate of :func:`exponential_rates`, trains on one batch with
    ``train_on_batch`` and records that batch's own loss. (The ``loss`` that ``fit`` hands to
    callbacks is a running mean over the epoch so far, which would blur the curve and jump
    at every epoch boundary.) The sweep stops early once the loss is NaN or more than
    ``stop_factor`` times the best loss so far (both smoothed as by :func:`smooth`): past that
    point the curve says nothing new.

    Parameters
    ----------
    model : keras.Model, compiled
        Its weights, optimizer and learning rate are not changed.
    X : ndarray of shape (n_samples, ...)
    y : ndarray of shape (n_samples, ...)
    start, end : float, default 1e-5 and 10
    steps : int, default 200
        Batches to train; the data are cycled through, reshuffled, as often as needed.
    batch_size : int, default 32
    stop_factor : float, default 4
    seed : int, default 0
        Seeds the order of the batches.

    Returns
    -------
    rates : ndarray of shape (n_done,)
        The learning rate each step actually used, read back from the optimizer.
    losses : ndarray of shape (n_done,)
        The training loss of that step's batch.
    """
    schedule = exponential_rates(start, end, steps)
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}.")
    copy = _fresh_copy(model)
    batches = _batches(len(X), batch_size, np.random.default_rng(seed))
    rates, losses, best = [], [], np.inf
    for rate in schedule:
        copy.optimizer.learning_rate = rate
        index = next(batches)
        loss = float(copy.train_on_batch(X[index], y[index], return_dict=True)["loss"])
        rates.append(current_learning_rate(copy.optimizer))
        losses.append(loss)
        if not np.isfinite(loss):
            break
        smoothed = smooth(losses)[-1]  # judge the blow-up on the smoothed curve, not on one noisy batch
        best = min(best, smoothed)
        if smoothed > stop_factor * best:
            break
    return np.asarray(rates), np.asarray(losses)


def smooth(values, beta=0.9):
    """Exponential moving average with bias correction, as fast.ai's LR finder uses it.

    Parameters
    ----------
    values : array-like of shape (n,)
    beta : float in [0, 1), default 0.9

    Returns
    -------
    ndarray of shape (n,)
    """
    values = np.asarray(values, dtype=float)
    out, average = np.empty_like(values), 0.0
    for i, value in enumerate(values):
        average = beta * average + (1 - beta) * value
        out[i] = average / (1 - beta ** (i + 1))
    return out


def _finite_sweep(rates, losses, beta):
    """Check a sweep and keep its finite points: (rates, losses, smoothed losses)."""
    rates, losses = np.asarray(rates, dtype=float), np.asarray(losses, dtype=float)
    if rates.shape != losses.shape or len(rates) < 5:
        raise ValueError("Need at least 5 (rate, loss) pairs of equal length; run a longer sweep.")
    finite = np.isfinite(losses)
    if finite.sum() < 5:
        raise ValueError("The sweep produced fewer than 5 finite losses; start it from a lower rate.")
    return rates[finite], losses[finite], smooth(losses[finite], beta)


def suggest_learning_rate(rates, losses, *, factor=10.0, beta=0.9):
    """Suggest a starting learning rate from a sweep: ``factor`` times below the loss minimum.

    The loss is smoothed first; the suggestion is the rate at the smoothed minimum divided
    by ``factor``, where the loss still falls steeply, and never below the first rate.

    Parameters
    ----------
    rates, losses : ndarray of shape (n,)
        From :func:`find_learning_rate`.
    factor : float, default 10

    Returns
    -------
    float
    """
    rates, _, smoothed = _finite_sweep(rates, losses, beta)
    best = int(np.argmin(smoothed))
    return float(max(rates[best] / factor, rates[0]))


def steep_range(rates, losses, *, low=0.1, high=0.9, beta=0.9):
    """The rates over which a sweep's smoothed loss falls steeply: a good learning rate lies inside.

    The loss falls from its level at the start of the sweep (the median of the first ten
    losses) to the minimum of the smoothed curve. The steep part starts where the smoothed
    loss has made ``low`` of that fall for good, and ends where it has made ``high`` of it.
    Below the range the rate is too low to move the loss; above it the loss is about to
    bottom out and then blow up.

    Parameters
    ----------
    rates, losses : ndarray of shape (n,)
        From :func:`find_learning_rate`.
    low, high : float, default 0.1 and 0.9
        Fractions of the fall, with ``0 <= low < high <= 1``.
    beta : float, default 0.9
        Smoothing, as in :func:`smooth`.

    Returns
    -------
    (float, float)
        The rate from which on the smoothed loss has made at least ``low`` of its fall, and
        the first rate where it has made ``high`` of it.
    """
    if not 0 <= low < high <= 1:
        raise ValueError(f"Need 0 <= low < high <= 1, got low={low!r}, high={high!r}.")
    rates, losses, smoothed = _finite_sweep(rates, losses, beta)
    best = int(np.argmin(smoothed))
    start_level = float(np.median(losses[:10]))
    fall = start_level - smoothed[best]
    if best == 0 or fall <= 0:
        raise ValueError("The loss never fell during the sweep: sweep up to a higher end rate.")
    made = (start_level - smoothed[: best + 1]) / fall
    # The steep part starts after the last point still short of `low`: noise on the flat part
    # can dip below the line for a moment, a real fall stays below it.
    short = np.flatnonzero(made < low)
    first = int(short[-1]) + 1 if short.size else 0
    last = first + int(np.argmax(made[first:] >= high))
    return float(rates[first]), float(rates[last])
