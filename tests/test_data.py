import numpy as np
import pytest

from helpers import data


def test_single_neuron_task_labels_follow_the_second_feature_without_noise():
    X, y = data.single_neuron_task(200, noise=0.0, test_size=None, seed=1)
    assert X.shape == (200, 2) and y.shape == (200,)
    np.testing.assert_array_equal(y, (X[:, 1] > 0.5).astype(int))


def test_single_neuron_task_splits_and_repeats_with_the_seed():
    first = data.single_neuron_task(400, seed=2)
    second = data.single_neuron_task(400, seed=2)
    X_train, X_test, y_train, y_test = first
    assert (len(X_train), len(X_test)) == (300, 100)
    assert set(np.unique(y_train)) == {0, 1}
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    other = data.single_neuron_task(400, seed=3)[0]
    assert not np.array_equal(X_train, other)


def test_single_neuron_task_noise_flips_some_labels_near_the_line():
    X, y = data.single_neuron_task(5000, noise=0.05, test_size=None, seed=0)
    disagreement = np.mean(y != (X[:, 1] > 0.5))
    assert 0.01 < disagreement < 0.08


@pytest.mark.parametrize("loader", [data.circles, data.moons])
def test_two_feature_sets_have_two_balanced_classes(loader):
    X, y = loader(300, seed=0)
    assert X.shape == (300, 2) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [150, 150]
    X_train, X_test, y_train, y_test = loader(300, test_size=0.2, seed=0)
    assert len(X_test) == 60


def test_circles_cannot_be_split_by_a_line():
    from sklearn.linear_model import LogisticRegression

    X, y = data.circles(1000, seed=0)
    assert LogisticRegression().fit(X, y).score(X, y) < 0.7


def test_digits_are_64_unscaled_pixels_and_ten_classes():
    X_train, X_test, y_train, y_test = data.digits(seed=0)
    assert X_train.shape[1] == 64 and X_train.max() == 16
    assert set(np.unique(y_train)) == set(range(10))


@pytest.mark.parametrize("kwargs, message", [
    ({"n_samples": 2}, "at least 4"),
    ({"test_size": 1.5}, "fraction between 0 and 1"),
    ({"noise": -0.1}, "zero or positive"),
])
def test_bad_arguments_say_what_to_pass(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.single_neuron_task(**kwargs)


def test_fashion_mnist_comes_from_the_keras_loader():
    (x_train, y_train), (x_test, y_test) = data.fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and x_train.max() == 255
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert len(data.FASHION_MNIST_CLASSES) == 10


def test_fashion_mnist_without_cache_or_network_explains_the_fix(monkeypatch):
    import keras

    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(RuntimeError, match="Connect to the internet"):
        data.fashion_mnist()


def test_blobs_are_two_clusters_a_line_separates():
    X, y = data.blobs(400, test_size=None, seed=0)
    assert X.shape == (400, 2) and X.dtype == np.float32 and np.bincount(y).tolist() == [200, 200]
    assert np.mean((X.sum(axis=1) > 0) == y) > 0.99  # the diagonal line x1 + x2 = 0 splits them
    X_train, X_test, y_train, y_test = data.blobs(200, test_size=0.25, seed=1)
    assert (len(X_train), len(X_test)) == (150, 50)


def test_blobs_reject_a_non_positive_spread():
    with pytest.raises(ValueError, match="positive"):
        data.blobs(100, cluster_std=0)


@pytest.mark.parametrize("loader, n_features, n_classes", [(data.breast_cancer, 30, 2), (data.wine, 13, 3)])
def test_tabular_sets_come_unscaled_with_stratified_splits(loader, n_features, n_classes):
    X_train, X_test, y_train, y_test = loader(test_size=0.25, seed=0)
    assert X_train.shape[1] == X_test.shape[1] == n_features and X_train.dtype == np.float32
    assert set(np.unique(y_test)) == set(range(n_classes))
    assert X_train.max() > 100 * np.median(X_train.std(axis=0))  # very different scales: the point of chapter 4
    X, y = loader(test_size=None)
    assert len(X) == len(X_train) + len(X_test) == len(y)


def test_machines_are_one_problem_with_fresh_rows_per_seed_and_scales_millions_apart():
    X_a, y_a = data.machines(2000, test_size=None, seed=1)
    X_b, y_b = data.machines(2000, test_size=None, seed=2)
    assert X_a.shape == (2000, len(data.MACHINE_SENSORS)) and X_a.dtype == np.float32 and set(np.unique(y_a)) == {0, 1}
    assert not np.allclose(X_a, X_b)  # other machines ...
    assert np.allclose(X_a.mean(axis=0), X_b.mean(axis=0), rtol=0.05)  # ... of the same park
    assert 0.3 < y_a.mean() < 0.7 and abs(y_a.mean() - y_b.mean()) < 0.05
    spreads = X_a.std(axis=0)
    assert spreads.max() / spreads.min() > 1e6  # the point of exercise 4's Task 2
    assert np.array_equal(data.machines(50, test_size=None, seed=3)[0], data.machines(50, test_size=None, seed=3)[0])
    X_train, X_test, y_train, y_test = data.machines(1000, seed=0)
    assert (len(X_train), len(X_test)) == (750, 250)
