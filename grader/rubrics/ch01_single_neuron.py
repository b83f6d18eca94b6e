"""Exercise 1, a single neuron: the judge's checks, on inputs drawn from the course's secret."""

import numpy as np

from grader.judge import Failed
from grader.rubrics import call, check_classifier, close, dense_layers, integers, save


def requests(rng):
    p = rng.uniform(0.0, 1.0, 60)
    threshold = float(np.round(rng.uniform(0.2, 0.8), 2))
    p[:3] = [threshold, 0.5, threshold + 1e-3]  # on the threshold itself the label is 0 (strictly greater)
    rate = float(np.round(rng.uniform(0.01, 0.5), 3))
    w = np.round(rng.uniform(0.5, 5.0, (2, 1)) * rng.choice([-1, 1], (2, 1)), 2)
    b = np.round(rng.uniform(-3, 3, (1,)), 2)
    x1 = float(np.round(rng.uniform(-2, 2), 2))
    inputs = {"p": p, "p_col": p[:, None], "hand/w": w, "hand/b": b, "meta": np.array([threshold, rate, x1]),
              "probe": rng.normal(0, 3, (64, 2)).astype("float32")}
    return [
        save("neuron", "build_model", probe="probe"),
        save("neuron_rate", "build_model", probe="probe", learning_rate={"value": rate}),
        call("labels_half", "to_labels", {"array": "p_col"}),
        call("labels_threshold", "to_labels", {"array": "p"}, threshold={"value": threshold}),
        call("labels_threshold_col", "to_labels", {"array": "p_col"}, threshold={"value": threshold}),
        call("boundary", "boundary_x2", {"model": "hand"}, x1={"value": x1}),
    ], inputs


def one_sigmoid_neuron(r):
    facts = r.model("neuron")
    check_classifier(facts, "build_model()", n_inputs=2, units=1, activation="sigmoid", loss="binary_crossentropy")
    classes = [layer["class"] for layer in facts["layers"]]
    if len(dense_layers(facts)) != 1 or set(classes) - {"Dense", "Activation"}:
        raise Failed(f"build_model() must be one Dense neuron; it has the layers {classes}.")


def adam_at_given_rate(r):
    for key, rate in (("neuron", 0.1), ("neuron_rate", None)):
        facts = r.model(key)
        if facts["optimizer"] != "Adam":
            raise Failed(f"Compile with keras.optimizers.Adam(...), not {facts['optimizer']}.")
        rate = rate if rate is not None else _meta(r)[1]
        if facts["learning_rate"] is None or abs(facts["learning_rate"] - rate) > 1e-6 * max(1.0, rate):
            raise Failed(f"build_model(learning_rate={rate:g}) compiled Adam with learning rate "
                         f"{facts['learning_rate']}: pass the argument on to Adam.")


def _meta(r):
    return r.inputs["meta"]


def labels_at_one_half(r):
    got = r.array("labels_half")
    close(got, (r.inputs["p"] > 0.5).astype(int), "to_labels on (n, 1) probabilities", atol=0)


def labels_at_given_threshold(r):
    threshold = _meta(r)[0]
    expected = (r.inputs["p"] > threshold).astype(int)
    for key, shape in (("labels_threshold", "(n,)"), ("labels_threshold_col", "(n, 1)")):
        got = r.array(key)
        close(got, expected, f"to_labels(p, threshold={threshold:g}) on {shape} probabilities", atol=0)
        integers(got, "to_labels")


def boundary_of_a_hand_set_neuron(r):
    w, b, x1 = r.inputs["hand/w"][:, 0], r.inputs["hand/b"][0], _meta(r)[2]
    close(np.asarray(r.array("boundary"), dtype="float64").reshape(()), -(b + w[0] * x1) / w[1],
          f"boundary_x2 of a neuron with other weights, at x1 = {x1:g},", atol=1e-5, rtol=1e-5)


def decisive_feature(r):
    got = r.captured("decisive").get("DECISIVE_FEATURE")  # kept by the hidden test: it may be computed from weights
    if got is None or got.shape != () or got.item() != 2:
        raise Failed("DECISIVE_FEATURE is not the feature that decides the labels: look at the trained weights.")


CHECKS = {
    "test_build_model_is_one_sigmoid_neuron": ("build_model", one_sigmoid_neuron),
    "test_build_model_uses_adam_at_given_rate": ("build_model", adam_at_given_rate),
    "test_to_labels_thresholds_at_one_half": ("to_labels", labels_at_one_half),
    "test_to_labels_uses_given_threshold": ("to_labels", labels_at_given_threshold),
    "test_boundary_x2_of_a_known_neuron": ("boundary_x2", boundary_of_a_hand_set_neuron),
    "test_decisive_feature": ("decisive_feature", decisive_feature),
}
