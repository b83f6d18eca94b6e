"""Exercise 5, many classes: the judge's checks of the confusion matrix, the class viewer and label encoding.

The functions get a random linear classifier of 28x28 images (built by the runner from the judge's weights) and
random images, so the judge knows every prediction without running the learner's model.
"""

import numpy as np

from grader.judge import Failed
from grader.rubrics import call, close, integers
from helpers.data import FASHION_MNIST_CLASSES

N_IMAGES = 600


def _predictions(images, w, b):
    logits = images.reshape(len(images), -1).astype("float64") @ w + b
    top = np.sort(logits, axis=1)
    return logits.argmax(axis=1), top[:, -1] - top[:, -2]


def requests(rng):
    w = rng.normal(0, 0.01, (784, 10))
    b = rng.normal(0, 0.5, 10) - 127.5 * w.sum(axis=0)  # centred: every class is predicted for some images
    images = rng.integers(0, 256, (3 * N_IMAGES, 28, 28)).astype("uint8")
    predicted, gap = _predictions(images, w, b)
    keep = gap > 0.05  # no near-ties: float32 and float64 agree on every label
    images, predicted = images[keep][:N_IMAGES], predicted[keep][:N_IMAGES]
    for _ in range(1000):  # a draw where the first n images, shown instead of the class's own, give other predictions
        labels = rng.integers(0, 10, len(images))
        class_index, n = int(rng.integers(0, 10)), int(rng.integers(2, 6))
        of_class = np.flatnonzero(labels == class_index)[:n]
        if len(of_class) == n and not np.array_equal(predicted[of_class], predicted[:n]):
            break
    else:
        raise RuntimeError("the judge's classifier predicts too few classes to test show_class")
    confusions = []
    for _ in range(3):
        counts = rng.integers(0, 30, (10, 10))
        np.fill_diagonal(counts, rng.integers(300, 2000, 10))
        true, predicted = rng.choice(10, 2, replace=False)
        counts[true, predicted] = 100 + rng.integers(0, 50)
        confusions.append(counts)
    k = int(rng.integers(3, 11))
    inputs = {"clf/w": w.astype("float32"), "clf/b": b.astype("float32"), "images": images, "labels": labels,
              "meta": np.array([class_index, n, k]), "loss_labels": rng.integers(1, k + 1, 40),
              "float_labels": rng.integers(1, k + 1, 12).astype("float64"), "list_labels": rng.integers(1, k + 1, 7),
              "two_labels": rng.integers(1, 3, 12)}
    model = {"model": "clf", "input_shape": [28, 28]}
    requests = [call("counts", "confusion_counts", model, {"array": "images"}, {"array": "labels"}),
                call("shown", "show_class", model, {"array": "images"}, {"array": "labels"},
                     {"value": class_index}, {"value": n}, parts=True),
                call("to_loss_two", "to_loss_labels", {"array": "two_labels"}),
                call("to_loss", "to_loss_labels", {"array": "loss_labels"}, return_args=True),
                call("to_loss_floats", "to_loss_labels", {"array": "float_labels"}),
                call("to_loss_list", "to_loss_labels", {"list": "list_labels"})]
    for i, counts in enumerate(confusions):
        inputs[f"confusion{i}"] = counts
        requests.append(call(f"pair{i}", "most_confused_pair", {"array": f"confusion{i}"}, parts=True))
    return requests, inputs


def _labels_of(r):
    predicted, _ = _predictions(r.inputs["images"], r.inputs["clf/w"].astype("float64"), r.inputs["clf/b"])
    return predicted


def confusion_counts_match(r):
    expected = np.zeros((10, 10), dtype=int)
    np.add.at(expected, (r.inputs["labels"], _labels_of(r)), 1)
    got = r.array("counts")
    if got.shape != (10, 10):
        raise Failed(f"confusion_counts returned shape {got.shape}, expected (10, 10).")
    if not np.array_equal(got, expected):
        raise Failed("confusion_counts does not count the model's predictions on another model and other images: "
                     "rows are true classes, columns predicted classes (argmax of the outputs).")


def most_confused_pair(r):
    for i in range(3):
        counts = r.inputs[f"confusion{i}"].astype(float)
        np.fill_diagonal(counts, -1)
        true, predicted = np.unravel_index(np.argmax(counts), counts.shape)
        expected = (FASHION_MNIST_CLASSES[true], FASHION_MNIST_CLASSES[predicted])
        got = tuple(str(r.array(f"pair{i}/{part}")) for part in range(2)) if f"pair{i}/1" in r.arrays else None
        if got != expected:
            raise Failed(f"most_confused_pair gave {got} on a matrix whose largest mistake is {expected}: "
                         "the largest entry off the diagonal, as (true, predicted) class names.")


def _shown(r):
    class_index, n, _ = (int(v) for v in r.inputs["meta"])
    indices = np.flatnonzero(r.inputs["labels"] == class_index)[:n]
    return class_index, n, indices, _labels_of(r)[indices]


def show_class_returns_the_shown_images(r):
    class_index, n, indices, predicted = _shown(r)
    close(r.array("shown/0"), indices, f"show_class(..., class_index={class_index}, n={n})'s indices", atol=0)


def show_class_predictions(r):
    class_index, n, indices, predicted = _shown(r)
    close(r.array("shown/1"), predicted, f"show_class(..., class_index={class_index}, n={n})'s predictions", atol=0)


def to_loss_labels_two_classes(r):
    close(r.array("to_loss_two"), r.inputs["two_labels"] - 1, "to_loss_labels on labels 1 and 2", atol=0)


def to_loss_labels_many_classes(r):
    labels = r.inputs["loss_labels"]
    if not np.array_equal(r.array("to_loss/arg0"), labels):
        raise Failed("to_loss_labels changed its input: return a new array.")
    got = r.array("to_loss")
    close(got, labels - 1, "to_loss_labels", atol=0)
    integers(got, "to_loss_labels")
    floats = r.array("to_loss_floats")
    close(floats, r.inputs["float_labels"] - 1, "to_loss_labels on float labels", atol=0)
    integers(floats, "to_loss_labels on float labels")
    close(r.array("to_loss_list"), r.inputs["list_labels"] - 1, "to_loss_labels on a Python list", atol=0)


CHECKS = {
    "test_confusion_counts_match_the_predictions": ("confusion", confusion_counts_match),
    "test_most_confused_pair_on_known_matrices": ("confusion", most_confused_pair),
    "test_show_class_returns_the_shown_images": ("show_class", show_class_returns_the_shown_images),
    "test_show_class_other_class": ("show_class", show_class_predictions),
    "test_to_loss_labels_two_classes": ("to_loss_labels", to_loss_labels_two_classes),
    "test_to_loss_labels_many_classes": ("to_loss_labels", to_loss_labels_many_classes),
}
