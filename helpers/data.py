"""The course's data sets, in one place, through the standard loaders.

Every function is seeded and returns NumPy arrays: features ``X`` of shape
``(n_samples, n_features)`` and integer labels ``y`` of shape ``(n_samples,)``.
"""

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_blobs, make_circles, make_moons
from sklearn.model_selection import train_test_split

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def _split(X, y, test_size, seed):
    if test_size is None:
        return X, y
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction between 0 and 1, or None; got {test_size!r}.")
    return tuple(train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y))


def _check_n(n_samples):
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 4:
        raise ValueError(f"n_samples must be an integer of at least 4, got {n_samples!r}.")


def single_neuron_task(n_samples=400, *, noise=0.05, test_size=0.25, seed=0):
    """Points in the unit square, labelled 1 when the second feature is above 0.5.

    This is the task from the question that started the course: "label 1 when the
    second feature is above 0.5, the first feature does not matter". Gaussian noise of
    standard deviation ``noise`` is added to the second feature before labelling, so
    points near the line ``x2 = 0.5`` may carry either label (a perfect model reaches
    about ``1 - 0.8 * noise`` accuracy).

    Parameters
    ----------
    n_samples : int, default 400
    noise : float, default 0.05
    test_size : float or None, default 0.25
        Fraction held out for testing; ``None`` returns all points unsplit.
    seed : int, default 0

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        ``X`` of shape (n, 2), float32; ``y`` of shape (n,), int64 in {0, 1}.
        With ``test_size=None``: ``X, y``.
    """
    _check_n(n_samples)
    if noise < 0:
        raise ValueError(f"noise must be zero or positive, got {noise!r}.")
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, size=(n_samples, 2)).astype("float32")
    y = (X[:, 1] + rng.normal(0.0, noise, n_samples) > 0.5).astype("int64")
    return _split(X, y, test_size, seed)


def circles(n_samples=1000, *, noise=0.03, factor=0.8, test_size=None, seed=0):
    """Two concentric rings (scikit-learn's ``make_circles``): no straight line separates them.

    Returns
    -------
    X : ndarray of shape (n, 2), float32
    y : ndarray of shape (n,), int64; 1 for the inner ring
        Split into ``X_train, X_test, y_train, y_test`` when ``test_size`` is given.
    """
    _check_n(n_samples)
    X, y = make_circles(n_samples, noise=noise, factor=factor, random_state=seed)
    return _split(X.astype("float32"), y.astype("int64"), test_size, seed)


def moons(n_samples=1000, *, noise=0.2, test_size=None, seed=0):
    """Two interleaving half-moons (scikit-learn's ``make_moons``).

    Returns
    -------
    X : ndarray of shape (n, 2), float32
    y : ndarray of shape (n,), int64
        Split into ``X_train, X_test, y_train, y_test`` when ``test_size`` is given.
    """
    _check_n(n_samples)
    X, y = make_moons(n_samples, noise=noise, random_state=seed)
    return _split(X.astype("float32"), y.astype("int64"), test_size, seed)


def blobs(n_samples=200, *, separation=4.0, cluster_std=1.0, test_size=None, seed=0):
    """Two round clusters of points (scikit-learn's ``make_blobs``), centred at ``-s/2`` and ``+s/2`` on both axes.

    With the default ``separation=4`` and ``cluster_std=1`` the centres are about 5.7 standard
    deviations apart, so a straight line separates the classes almost perfectly. This is the
    "neural net fails on toy dataset" data of chapter 3.

    Returns
    -------
    X : ndarray of shape (n, 2), float32
    y : ndarray of shape (n,), int64; 1 for the cluster at ``(+s/2, +s/2)``
        Split into ``X_train, X_test, y_train, y_test`` when ``test_size`` is given.
    """
    _check_n(n_samples)
    if separation <= 0 or cluster_std <= 0:
        raise ValueError(f"separation and cluster_std must be positive, got {separation!r} and {cluster_std!r}.")
    half = separation / 2
    X, y = make_blobs(n_samples, centers=[[-half, -half], [half, half]], cluster_std=cluster_std, random_state=seed)
    return _split(X.astype("float32"), y.astype("int64"), test_size, seed)


def digits(*, test_size=0.25, seed=0):
    """8x8 images of handwritten digits (scikit-learn's ``load_digits``), flattened.

    Pixel values run from 0 to 16 and are returned unscaled.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        ``X`` of shape (n, 64), float32; ``y`` of shape (n,), int64 in 0..9.
        With ``test_size=None``: ``X, y``.
    """
    bunch = load_digits()
    return _split(bunch.data.astype("float32"), bunch.target.astype("int64"), test_size, seed)


def breast_cancer(*, test_size=0.25, seed=0):
    """Breast-cancer diagnosis from 30 measurements of cell nuclei (scikit-learn's ``load_breast_cancer``).

    The features are on very different scales: areas run into the thousands, smoothness
    stays below 0.2. They are returned unscaled. Label 1 is benign, 0 malignant.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        ``X`` of shape (n, 30), float32; ``y`` of shape (n,), int64 in {0, 1}.
        With ``test_size=None``: ``X, y``.
    """
    bunch = load_breast_cancer()
    return _split(bunch.data.astype("float32"), bunch.target.astype("int64"), test_size, seed)


def wine(*, test_size=0.25, seed=0):
    """Three wine cultivars from 13 chemical measurements (scikit-learn's ``load_wine``), unscaled.

    Proline runs to about 1,700 while hue stays below 2.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        ``X`` of shape (n, 13), float32; ``y`` of shape (n,), int64 in 0..2.
        With ``test_size=None``: ``X, y``.
    """
    bunch = load_wine()
    return _split(bunch.data.astype("float32"), bunch.target.astype("int64"), test_size, seed)


# (name, unit, typical reading, spread) of each sensor of ``machines``: scales from thousandths to hundreds of
# thousands; every typical reading is at least 5 spreads above 0, so readings stay positive, as real ones do.
MACHINE_SENSORS = (
    ("temperature", "K", 330.0, 8.0),
    ("pressure", "Pa", 2.0e5, 2.0e4),
    ("vibration", "m/s", 0.004, 0.0008),
    ("speed", "rpm", 3000.0, 400.0),
    ("current", "A", 12.0, 2.0),
    ("hours since service", "h", 2000.0, 400.0),
    ("oil viscosity", "Pa s", 0.05, 0.005),
    ("humidity", "fraction", 0.45, 0.08),
)


def machines(n_samples=1000, *, test_size=0.25, seed=0):
    """Readings of eight sensors on industrial machines, each in its own unit, and whether the machine failed.

    A synthetic data set with the trouble of real tabular data: the features are in kelvin, pascals, metres per
    second, hours and so on (:data:`MACHINE_SENSORS`), so their scales differ by a factor of about ten million, and
    they are returned unscaled. The machines themselves are always the same: four hidden conditions (wear, load,
    ...) drive the sensors and the risk of failure through a fixed rule, with noise. ``seed`` draws *which*
    machines are read, so every seed gives new rows of the same problem, and there is no fixed test split to
    download: exercise 4's grader draws its rows with the course secret.

    Parameters
    ----------
    n_samples : int, default 1000
    test_size : float or None, default 0.25
    seed : int, default 0

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        ``X`` of shape (n, 8), float32; ``y`` of shape (n,), int64 in {0, 1} (1: failed).
        With ``test_size=None``: ``X, y``.
    """
    _check_n(n_samples)
    world = np.random.default_rng(2026)  # the fixed rule: how conditions drive sensors and failures
    mixing = world.normal(size=(4, len(MACHINE_SENSORS)))
    weights = world.normal(size=4)
    rng = np.random.default_rng(seed)
    conditions = rng.normal(size=(n_samples, 4))
    risk = conditions @ weights + conditions[:, 0] * conditions[:, 1]
    y = (risk + rng.normal(0, 0.25, n_samples) > 0).astype("int64")
    readings = conditions @ mixing + rng.normal(0, 0.3, (n_samples, len(MACHINE_SENSORS)))
    readings /= np.sqrt((mixing ** 2).sum(axis=0) + 0.09)  # unit spread before each sensor's own unit
    typical, spread = (np.array([sensor[k] for sensor in MACHINE_SENSORS]) for k in (2, 3))
    X = np.maximum(typical + readings * spread, 0.0).astype("float32")  # no sensor reads below 0
    return _split(X, y, test_size, seed)


def fashion_mnist():
    """Fashion-MNIST through ``keras.datasets.fashion_mnist.load_data()``.

    Keras downloads the data on first use and keeps it in ``~/.keras/datasets``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of ndarray
        Images of shape (60000, 28, 28) and (10000, 28, 28), uint8 in 0..255, unscaled;
        labels of shape (60000,) and (10000,), uint8 in 0..9. Class names are in
        :data:`FASHION_MNIST_CLASSES`.

    Raises
    ------
    RuntimeError
        If the data are not in the Keras cache and cannot be downloaded.
    """
    from helpers.repro import import_keras_quietly

    keras = import_keras_quietly()
    try:
        return keras.datasets.fashion_mnist.load_data()
    except Exception as error:  # urllib, OSError and friends: all mean "could not fetch"
        raise RuntimeError(
            "Could not load Fashion-MNIST: it is not in the Keras cache (~/.keras/datasets/fashion-mnist/) "
            "and downloading it failed. Connect to the internet and run this cell again, or copy the four "
            "*-ubyte.gz files into that folder."
        ) from error
