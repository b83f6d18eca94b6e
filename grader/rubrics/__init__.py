"""What the judge checks, one module per exercise: ``grader.rubrics.<assignment>``.

Each module holds, next to each other, every check the judge makes for that exercise:

- ``requests(rng)``: what the runner must compute in the sandbox, as ``(requests, inputs)``: a list of requests
  (call a function on arrays, save the model a function returns, read a variable) and the arrays they use,
  drawn from ``rng``, which the judge seeds from the course's secret;
- ``CHECKS``: ``{graded cell id: (answer cell id, check)}``; ``check(results)`` raises ``grader.judge.Failed``
  with a message for the learner when the answer is wrong, and returns when it is right.

The checks run in the instructor's process on what the runner handed back (``grader.judge.Results``). Graded
cells that train a model are not here: ``grader.verify`` scores the models the hidden tests keep.
"""

import importlib

import numpy as np

from grader.judge import Failed


def load(assignment):
    """The rubric module of ``assignment``, or ``None`` when it has none."""
    try:
        return importlib.import_module(f"grader.rubrics.{assignment}")
    except ModuleNotFoundError as error:
        if error.name == f"grader.rubrics.{assignment}":
            return None
        raise


def call(key, function, *args, parts=False, return_args=False, **kwargs):
    """A request to call ``function``; arguments are ``{"array": name}``, ``{"value": v}``, ``{"model": name}``."""
    request = {"id": key, "kind": "call", "function": function, "args": list(args), "kwargs": kwargs}
    if parts:
        request["parts"] = True
    if return_args:
        request["return_args"] = True
    return request


def save(key, function, *args, probe=None, **kwargs):
    """A request to save the Keras model that ``function`` returns, for ``grader.verify.inspect_models``.

    ``probe`` names an input array: the runner also hands back the model's outputs on it and its weights, from which
    ``grader.verify`` reads a model whose class safe mode cannot load (a subclassed ``keras.Model``).
    """
    return {"id": key, "kind": "save", "function": function, "args": list(args), "kwargs": kwargs, "probe": probe}


def value(key, name):
    """A request to read the variable ``name`` after the learner's definitions ran."""
    return {"id": key, "kind": "value", "name": name}


def close(got, expected, what, *, atol=1e-6, rtol=1e-6):
    """Check that ``got`` has ``expected``'s shape and values; a learner-readable ``Failed`` otherwise."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        raise Failed(f"{what} returned shape {got.shape}; expected {expected.shape}.")
    if not np.issubdtype(got.dtype, np.number) and got.dtype != bool:
        raise Failed(f"{what} returned {got.dtype} values; numbers were expected.")
    got = got.astype("float64")
    if not np.all(np.isfinite(got)):
        raise Failed(f"{what} returned values that are not finite (nan or inf).")
    gap = np.max(np.abs(got - expected)) if got.size else 0.0
    if not np.allclose(got, expected, atol=atol, rtol=rtol):
        raise Failed(f"{what} is off by up to {gap:.3g} on inputs drawn for this check.")


def integers(got, what):
    if not np.issubdtype(np.asarray(got).dtype, np.integer):
        raise Failed(f"{what} must return integers, not {np.asarray(got).dtype}.")


def output_activation(facts):
    """The activation that produces the model's outputs: the last layer's, or a separate Activation/Softmax's."""
    for layer in reversed(facts["layers"]):
        if layer["class"] in ("Activation", "Softmax"):
            return layer["activation"] or "softmax"
        if layer["class"] == "Dense":
            return layer["activation"]
    return None


def dense_layers(facts):
    return [layer for layer in facts["layers"] if layer["class"] == "Dense"]


def check_classifier(facts, what, *, n_inputs, units, activation, loss):
    """Input width, output units and activation, and loss, read from a saved model."""
    if facts["input_shape"] != [None, n_inputs]:
        raise Failed(f"{what}: the input shape is {tuple(facts['input_shape'])}, expected (None, {n_inputs}).")
    dense = dense_layers(facts)
    if not dense or dense[-1]["units"] != units:
        raise Failed(f"{what}: the output layer has {dense[-1]['units'] if dense else 'no'} units; {units} needed.")
    if output_activation(facts) != activation:
        if output_activation(facts) == "linear" and facts.get("from_logits") and loss == facts.get("loss"):
            return  # logits, with a loss that knows it: the same model
        raise Failed(f"{what}: the outputs come from {output_activation(facts)!r}, expected {activation!r}.")
    if facts.get("loss") != loss:
        raise Failed(f"{what}: the model is compiled with loss {facts.get('loss')!r}; this task needs {loss!r}.")
