import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from helpers.plots import (COLOURS, plot_confusion_matrix, plot_decision_boundary, plot_history, plot_lr_finder,
                           plot_points, plot_predictions)

X = np.random.default_rng(0).uniform(0, 1, size=(60, 2)).astype("float32")
y = (X[:, 1] > 0.5).astype(int)


def test_plot_decision_boundary_returns_given_axes_for_sigmoid_model(ax, sigmoid_model, capsys):
    assert plot_decision_boundary(sigmoid_model, X, y, ax=ax, resolution=30) is ax
    assert len(ax.collections) >= 2  # filled regions, the 0.5 contour and the points
    assert capsys.readouterr().out == ""


def test_plot_decision_boundary_draws_softmax_regions(ax, softmax_model):
    labels = np.digitize(X[:, 0], [1 / 3, 2 / 3])
    plot_decision_boundary(softmax_model, X, labels, ax=ax, resolution=30)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1", "class 2"]


def test_plot_decision_boundary_accepts_scikit_learn_models(ax):
    plot_decision_boundary(LogisticRegression().fit(X, y), X, y, ax=ax, resolution=20)
    assert ax.get_xlabel().startswith("feature 1")


def test_plot_decision_boundary_uses_current_axes_when_none_given(sigmoid_model):
    figure = plt.figure()
    assert plot_decision_boundary(sigmoid_model, X, y, resolution=10) is figure.gca()


def test_plot_decision_boundary_rejects_three_features(ax, sigmoid_model):
    with pytest.raises(ValueError, match="exactly two features"):
        plot_decision_boundary(sigmoid_model, np.zeros((5, 3)), np.zeros(5), ax=ax)


def test_plot_points_differs_by_marker_as_well_as_colour(ax):
    plot_points(X, y, ax=ax)
    markers = {tuple(c.get_paths()[0].vertices.round(3).ravel()[:6]) for c in ax.collections}
    assert len(markers) == 2


def test_plot_history_draws_training_and_validation(capsys):
    history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4], "accuracy": [0.5, 0.8, 0.9]}
    axes = plot_history(history)
    assert [a.get_ylabel() for a in axes] == ["loss", "accuracy"]
    assert [line.get_label() for line in axes[0].get_lines()] == ["training", "validation"]
    assert axes[0].get_lines()[1].get_ydata().tolist() == [1.1, 0.6, 0.4]
    assert capsys.readouterr().out == ""


def test_plot_history_accepts_a_keras_history_object():
    class History:
        history = {"loss": [0.7, 0.6]}

    axes = plot_history(History())
    assert len(axes) == 1


def test_plot_history_names_what_is_missing():
    with pytest.raises(ValueError, match="holds"):
        plot_history({"mae": [1.0]})


def test_confusion_matrix_writes_counts_and_row_percentages(ax):
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 1, 2, 0])
    plot_confusion_matrix(y_true, y_pred, class_names=["cat", "dog", "emu"], ax=ax)
    texts = [t.get_text() for t in ax.texts]
    assert "3\n75%" in texts and "1\n25%" in texts and "1\n50%" in texts
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "emu"]


def test_confusion_matrix_stays_readable_with_ten_classes(ax):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 500)
    plot_confusion_matrix(y_true, y_true, class_names=[f"class {i}" for i in range(10)], ax=ax)
    assert len(ax.texts) == 100
    assert all(t.get_fontsize() <= 8 for t in ax.texts)


def test_confusion_matrix_rejects_mismatched_lengths(ax):
    with pytest.raises(ValueError, match="y_pred has"):
        plot_confusion_matrix([0, 1], [0], ax=ax)


def test_plot_predictions_marks_right_and_wrong():
    images = np.zeros((4, 28, 28))
    axes = plot_predictions(images, [0, 1, 2, 3], [0, 1, 0, 3], class_names=list("abcd"), ncols=2)
    titles = [a.get_title() for a in axes]
    assert titles[2].startswith("✗ a") and "(c)" in titles[2]
    assert titles[0].startswith("✓ a")
    assert axes[2].title.get_color() == COLOURS["vermillion"] and axes[0].title.get_color() == COLOURS["blue"]


def test_plot_predictions_reshapes_flat_square_images():
    axes = plot_predictions(np.zeros((2, 64)), [0, 1], [0, 1])
    assert axes[0].get_images()[0].get_array().shape == (8, 8)


def test_plot_lr_finder_uses_a_log_axis_and_marks_the_suggestion(ax):
    rates = np.logspace(-5, 0, 50)
    losses = np.linspace(1, 0.2, 50)
    plot_lr_finder(rates, losses, suggestion=1e-3, ax=ax)
    assert ax.get_xscale() == "log"
    assert any("suggested" in line.get_label() for line in ax.get_lines())


def test_plot_lr_finder_draws_the_smoothed_curve_and_shades_the_steep_range(ax):
    rates = np.logspace(-5, 0, 50)
    losses = np.linspace(1, 0.2, 50)
    plot_lr_finder(rates, losses, steep=(1e-4, 1e-2), ax=ax)
    assert [line.get_label() for line in ax.get_lines()] == ["loss per batch", "smoothed"]
    assert any("steep fall" in patch.get_label() for patch in ax.patches)


def test_plot_lr_finder_rejects_unequal_lengths(ax):
    with pytest.raises(ValueError, match="equal length"):
        plot_lr_finder([1, 2, 3], [1, 2], ax=ax)
