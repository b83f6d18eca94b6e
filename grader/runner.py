"""The judge's hands in the sandbox: run a learner's definitions and call them on the judge's inputs.

``grader.judge`` has it forked by the worker's runner zygote (``run_forked``: TensorFlow imported once per worker;
``grader.zygote``), or, where no zygote can run, starts ``python -m grader.runner FOLDER``; either way as root in
namespaces of its own (no network, own process tree). It drops to the unprivileged sandbox user with the kernel's
limits, then:

0. covers the folders the job lists under ``hide`` with an empty file system (as root, in its own mount
   namespace): the copies of the data sets, when the judge trains a learner's model again;
1. executes, in one fresh namespace, the cells of ``FOLDER/job.json`` (the release's locked setup cells and the
   learner's definitions; ``grader.judge.definitions`` chose them), each on its own, an error in one not stopping
   the next;
2. answers each request of the job: call a function with arrays from ``FOLDER/inputs.npz`` (or a small Keras model
   built from them; seeded first when the request says so: training), save a returned model as ``.keras`` (with
   its weights and its outputs on probe inputs, which is how the judge reads a subclassed model that safe mode
   cannot load), read a variable, or load a model the kernel kept whose class is the learner's own and predict
   with it (``grader.verify``);
3. writes ``FOLDER/out/results.npz`` (arrays only), ``FOLDER/out/errors.json`` and ``FOLDER/out/<id>.keras``.

A runner of its own imports Keras and TensorFlow on first use, not on ``import keras`` (``defer_keras``): the setup
cell's ``import keras`` and ``setup()`` cost nothing until something needs Keras, so a rubric that only calls NumPy
functions (exercises 3 and 4) never pays TensorFlow's import of about 4 s. A forked runner has them already.

Everything here runs next to the learner's code, which may have replaced any of it: this process **decides
nothing**. It only hands back what the learner's functions returned; ``grader.judge`` and the rubrics compare it,
in the instructor's process, with what it must be.
"""

import importlib.abc
import importlib.util
import json
import os
import pwd
import random
import sys
from pathlib import Path

from grader.zygote import MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, libc_call

MAX_ERROR = 500
DEFERRED = ("keras", "tensorflow")


_LazyModule = getattr(importlib.util, "_LazyModule", None)  # CPython's class of a module not yet loaded


if _LazyModule is not None:
    class _NotYetLoaded(_LazyModule):
        """A lazy module that a second ``import keras`` leaves unloaded: the import only asks for ``__spec__``."""

        def __getattribute__(self, attr):
            if attr == "__spec__":
                return object.__getattribute__(self, "__dict__")["__spec__"]
            return super().__getattribute__(attr)


class _LoadOnFirstUse(importlib.util.LazyLoader):
    def exec_module(self, module):
        super().exec_module(module)
        if _LazyModule is not None and type(module) is _LazyModule:  # otherwise a second import loads it: slower only
            module.__class__ = _NotYetLoaded


class _Deferring(importlib.abc.MetaPathFinder):
    """Finds ``keras`` and ``tensorflow`` as Python would, and has them executed on their first attribute access."""

    def find_spec(self, name, path=None, target=None):
        if name not in DEFERRED:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _LoadOnFirstUse(spec.loader)
        return spec


def defer_keras():
    """Import Keras and TensorFlow only when a cell or request uses them.

    ``import keras`` then binds a module that loads on first use (``importlib.util.LazyLoader``), and the course's
    ``helpers.repro.setup`` and ``import_keras_quietly``, which read Keras's version and seed it, are replaced in
    this process by ones that leave it unloaded: ``setup`` seeds Python and NumPy only. Nothing the judge asks the
    runner for depends on Keras's seed (a model's architecture, its outputs next to its own weights, functions of
    the judge's arrays), and the kernel, where training happens, keeps the real ``setup``.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.meta_path.insert(0, _Deferring())
    import numpy as np

    import helpers.repro as repro

    def import_keras_quietly():
        import keras

        return keras

    def setup(seed=42):
        random.seed(int(seed))
        np.random.seed(int(seed))
        return repro.Environment("(loaded on first use)", "(loaded on first use)", int(seed), ())

    repro.import_keras_quietly, repro.setup = import_keras_quietly, setup


def _keras():
    import keras

    return keras


def _to_numpy(value):
    """A returned value as a NumPy array; a tensor (which only exists once its library is loaded) through Keras."""
    import numpy as np

    if isinstance(value, (np.ndarray, np.generic)) or not hasattr(value, "shape"):
        return np.asarray(value)
    return np.asarray(_keras().ops.convert_to_numpy(value))


def _drop_privileges(folder):
    from grader.limits import Limits
    from grader.sandbox import become_sandbox_user

    become_sandbox_user(pwd.getpwnam(os.environ["GRADER_SANDBOX_USER"]), Limits.from_env(),
                        os.environ.get("GRADER_CGROUPS", ""))
    os.chdir(folder)


def _argument(spec, inputs):
    """One argument of a request: an array, a JSON value, or a small Keras model built from arrays."""
    if "array" in spec:
        return inputs[spec["array"]].copy()
    if "list" in spec:
        return inputs[spec["list"]].tolist()
    if "model" in spec:  # a Dense softmax or sigmoid layer on flattened inputs, with the judge's weights
        keras = _keras()
        weights, bias = inputs[spec["model"] + "/w"], inputs[spec["model"] + "/b"]
        activation = "sigmoid" if weights.shape[1] == 1 else "softmax"
        layers = [keras.Input(shape=tuple(spec.get("input_shape", [weights.shape[0]])))]
        if len(layers[0].shape) > 2:
            layers.append(keras.layers.Flatten())
        layers.append(keras.layers.Dense(weights.shape[1], activation=activation))
        model = keras.Sequential(layers)
        model.layers[-1].set_weights([weights, bias])
        return model
    return spec["value"]


def _hide(folders):
    """Cover each of ``folders`` with an empty, read-only file system, in this process's own mount namespace (root
    only, before the learner's code runs): what the judge keeps out of reach, such as the copies of the data sets
    when it trains a learner's model again (``grader.verify.Retrain``)."""
    for folder in folders:
        if os.path.isdir(folder):
            libc_call("mount", b"tmpfs", os.fsencode(os.path.realpath(folder)), b"tmpfs",
                      MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k,mode=0555")


def _take_keras_home():
    """A forked runner's Keras was imported by its zygote, whose Keras home may belong to a batch already over
    (``grader.zygote.ZygoteOfRoot``): use the job's (``KERAS_HOME``, with the data sets linked in unless hidden),
    as a runner of its own reads it when it imports Keras."""
    config = sys.modules.get("keras.src.backend.config")
    if config is not None and os.environ.get("KERAS_HOME"):
        config._KERAS_DIR = os.environ["KERAS_HOME"]


def main(folder):
    folder = Path(folder).resolve()
    job = json.loads((folder / "job.json").read_text())  # the judge's, read before any of the learner's code runs
    _take_keras_home()
    if os.geteuid() == 0 and os.environ.get("GRADER_SANDBOX_USER"):
        _hide(job.get("hide", []))
        _drop_privileges(folder)
    defer_keras()
    out = folder / "out"
    errors, results = {}, {}
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    for index, source in enumerate(job["cells"]):
        try:
            exec(compile(source, f"<cell {index}>", "exec"), namespace)
        except BaseException as error:  # noqa: BLE001 - a learner's cell may raise anything, SystemExit included
            errors[f"cell {index}"] = f"{type(error).__name__}: {error}"[:MAX_ERROR]

    import numpy as np

    with np.load(folder / "inputs.npz", allow_pickle=False) as stored:
        inputs = {key: stored[key] for key in stored.files}
    loaded = {}
    for request in job["requests"]:
        key = request["id"]
        try:
            if request["kind"] == "value":
                if request["name"] not in namespace:
                    raise NameError(f"{request['name']} is not defined")
                results[key] = np.asarray(namespace[request["name"]])
                continue
            if request["kind"] == "predict":  # a kept model the verifier cannot score by itself: its class is the
                # learner's own, or so is its preprocessing (pickled by the kernel; unpickled here only)
                classes = {name: item for name, item in namespace.items() if isinstance(item, type)}
                keras = _keras()
                if request["file"] not in loaded:  # one load per file, for its test and its training data
                    loaded[request["file"]] = keras.saving.load_model(folder / request["file"], custom_objects=classes)
                model = loaded[request["file"]]
                data = inputs[request["array"]]
                if request.get("transform"):
                    import pickle

                    vars(sys.modules["__main__"]).update(classes)  # the kernel pickled them as __main__.<name>
                    with open(folder / request["transform"], "rb") as stream:
                        scaler = pickle.load(stream)
                    data = np.asarray(getattr(scaler, "transform", scaler)(data), dtype="float32")
                results[key] = np.asarray(model.predict(data, batch_size=1024, verbose=0))
                optimizer = getattr(model, "optimizer", None)
                if request.get("optimizer") and optimizer is not None:  # how it says it was trained
                    results[f"{key}/optimizer"] = np.asarray(type(optimizer).__name__)
                    results[f"{key}/learning_rate"] = np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate))
                    results[f"{key}/iterations"] = np.asarray(keras.ops.convert_to_numpy(optimizer.iterations))
                continue
            function = namespace.get(request["function"])
            if not callable(function):
                raise NameError(f"{request['function']} is not defined as a function")
            args = [_argument(spec, inputs) for spec in request.get("args", [])]
            kwargs = {name: _argument(spec, inputs) for name, spec in request.get("kwargs", {}).items()}
            if request.get("seed") is not None:  # training: the same model at every regrade
                _keras().utils.set_random_seed(int(request["seed"]))
            returned = function(*args, **kwargs)
            if request["kind"] == "save":
                if request.get("probe"):  # what the model does, for a model class safe mode cannot load
                    results[f"{key}/probe"] = np.asarray(returned.predict(inputs[request["probe"]], verbose=0))
                    for index, weight in enumerate(returned.get_weights()):
                        results[f"{key}/weight/{index}"] = np.asarray(weight)
                returned.save(out / f"{key}.keras")
            elif request.get("parts"):
                for part, value in enumerate(returned):
                    results[f"{key}/{part}"] = _to_numpy(value)
            else:
                results[key] = _to_numpy(returned)
            for position, spec in enumerate(request.get("args", [])):
                if request.get("return_args") and "array" in spec:
                    results[f"{key}/arg{position}"] = np.asarray(args[position])
        except BaseException as error:  # noqa: BLE001
            errors[key] = f"{type(error).__name__}: {error}"[:MAX_ERROR]
    results = {k: v for k, v in results.items() if v.dtype != object}
    np.savez(out / "results.npz", **results)
    (out / "errors.json").write_text(json.dumps(errors))


def run_forked(request, fds):
    """The judge's runner as the zygote's child (``grader.zygote``): what ``unshare --net --pid --mount-proc`` and
    ``python -m grader.runner FOLDER`` do, without importing TensorFlow again.

    The runner is the first process of new mount, PID and network namespaces (``grader.zygote.run_in_new_namespaces``):
    no network at all (not even loopback), its own ``/proc``, a session of its own, and everything it starts killed
    when it ends. It takes the request's environment, drops to the sandbox user (``main``) and runs the job in
    ``request["folder"]``; it is killed past ``request["seconds"]``. ``fds[0]`` is its stderr, ``fds[1]`` the status
    pipe that ``grader.zygote.Zygote.run`` reads.
    """
    from grader.zygote import run_in_new_namespaces

    if not request["env"].get("GRADER_SANDBOX_USER"):
        raise ValueError("a forked runner runs as the sandbox user only: GRADER_SANDBOX_USER is not set")
    run_in_new_namespaces(request, fds, lambda job: main(job["folder"]))


if __name__ == "__main__":  # the runner (FOLDER), or its zygote (--zygote FD)
    if sys.argv[1] == "--zygote":
        from grader.zygote import serve
        from helpers.repro import import_keras_quietly

        import_keras_quietly()
        serve(int(sys.argv[2]), run_forked, fds_per_request=2)
    else:
        main(sys.argv[1])
