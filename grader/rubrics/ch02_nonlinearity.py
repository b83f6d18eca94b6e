"""Exercise 2, non-linearity: the judge's checks of the activations and of the specified architecture."""

import numpy as np

from grader.judge import Failed
from grader.rubrics import call, check_classifier, close, dense_layers, output_activation, save
from grader.verify import softmax

SPEC = [(32, "relu"), (32, "relu"), (16, "tanh"), (16, "relu"), (8, "relu")]


def requests(rng):
    n, k = int(rng.integers(20, 60)), int(rng.integers(3, 9))
    z = rng.normal(0, 3, (n, k)).astype("float32")
    big = np.float32(rng.uniform(300, 3000)) + np.array([0.0, 1.0], dtype="float32")
    rows = np.stack([rng.normal(0, 1, k), rng.normal(0, 400, k)]).astype("float32")
    wide = rng.normal(0, 50, (int(rng.integers(2, 6)), int(rng.integers(2, 6)), k)).astype("float32")
    inputs = {"z": z, "big": big, "rows": rows, "wide": wide}
    requests = [call(f"{name}_z", name, {"array": "z"}) for name in ("relu", "sigmoid", "softmax")]
    requests += [call(f"softmax_{key}", "softmax", {"array": key}) for key in ("big", "rows", "wide")]
    inputs["probe"] = rng.normal(0, 3, (64, 2)).astype("float32")
    return requests + [save("spec", "build_spec_model", probe="probe")], inputs


def activations_match(r):
    z = r.inputs["z"].astype("float64")
    close(r.array("relu_z"), np.maximum(z, 0), "relu", atol=1e-5)
    close(r.array("sigmoid_z"), 1 / (1 + np.exp(-z)), "sigmoid", atol=1e-5)
    close(r.array("softmax_z"), softmax(z), "softmax", atol=1e-5)


def softmax_stable_on_the_last_axis(r):
    for key, what in (("big", "softmax of two large logits"), ("rows", "softmax of a batch of rows"),
                      ("wide", "softmax of a 3-D batch")):
        got = r.array(f"softmax_{key}")
        if not np.all(np.isfinite(np.asarray(got, dtype="float64"))):
            raise Failed(f"{what} gave nan or inf: subtract the maximum of each row before exp.")
        close(got, softmax(r.inputs[key]), f"{what} (along the last axis)", atol=1e-5)


def spec_layers(r):
    facts = r.model("spec")
    got = [(layer["units"], layer["activation"]) for layer in dense_layers(facts)]
    if got[:5] != SPEC or len(got) != 6:
        raise Failed(f"build_spec_model's Dense layers are {got}; the specification is {SPEC} and one output layer.")
    if any(layer["class"] not in ("Dense", "Activation") for layer in facts["layers"]):
        raise Failed(f"Only Dense layers (and an Activation) are specified; the model has "
                     f"{[layer['class'] for layer in facts['layers']]}.")
    check_classifier(facts, "build_spec_model()", n_inputs=2, units=1, activation="sigmoid",
                     loss="binary_crossentropy")


def spec_compile_and_parameters(r):
    facts = r.model("spec")
    if facts["optimizer"] != "Adam":
        raise Failed(f"Compile with Adam, not {facts['optimizer']}.")
    widths = [2] + [units for units, _ in SPEC] + [1]
    expected = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    if facts["n_params"] != expected:
        raise Failed(f"The model has {facts['n_params']} parameters; the specification has {expected}.")
    if output_activation(facts) not in ("sigmoid", "linear"):
        raise Failed("The moons have two classes: one output with a sigmoid.")


CHECKS = {
    "test_activations_match_keras": ("activations", activations_match),
    "test_softmax_is_stable_and_uses_the_last_axis": ("activations", softmax_stable_on_the_last_axis),
    "test_spec_model_layers": ("build_spec_model", spec_layers),
    "test_spec_model_compile_and_parameter_count": ("build_spec_model", spec_compile_and_parameters),
}
