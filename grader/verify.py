"""Verdicts outside the learner's kernel: score every graded model again, and correct the gradebook.

Hidden tests save each model they grade (``helpers.grading.keep_for_verification``); ``python -m grader`` keeps
the files in ``.grader/captures/<assignment>/<student>/`` (plain ``nbgrader autograde`` leaves them in
``autograded/<student>/<assignment>/verify/``, which ``nbgrader_config.py`` keeps out of the feedback). For each
model this module

1. starts a fresh Python process, with a memory and time limit, that loads the file with Keras's **safe mode**
   (no code from the file runs: a ``Lambda`` layer or an unknown custom class makes loading fail);
2. gets the data: for the synthetic tasks (exercises 1 and 2, and the machines of exercise 4) fresh data drawn the
   same way as the test's, from a seed derived from the course's secret (``.grader/secret``, readable by the
   instructor only: never in the kernel's files, memory or environment); for the public data sets (digits, wine,
   exercises 3 and 4), which have no unseen data, the test's own evaluation split, read by this process;
3. applies the test's preprocessing when there is one (a scaler kept as ``x @ matrix + offset``, never unpickled)
   and computes the accuracy with its own NumPy code from the model's predictions.

A test that passed in the kernel but whose model scores far below the target (more than ``tolerance`` under it,
a margin that covers the sampling noise of the in-kernel test, so an honest model that passed never fails here)
gets a manual score of 0 and a comment on the learner's answer cell, which ``nbgrader generate_feedback`` shows.
So does a test that passed in the kernel with a model that cannot be checked here (none kept, a preprocessing
that is not affine, a file that does not load): a kernel's pass alone never gives points. A model whose class is
the learner's own (a subclassed ``keras.Model`` or a custom layer, which safe mode refuses) is loaded and run in the
sandbox with the learner's classes instead (``_score_own_classes``). A test that failed in the kernel is never
raised: it may check more than accuracy. Every disagreement is listed. For models trained on public data, ``flag``
tells whether the model looks trained on the test split.

Where a task says how a model is trained and how long it may take (exercise 5's ``fit_fashion``), the model
scored is not the kernel's: ``retrain`` has the judge's runner call the learner's function again in the sandbox,
on data drawn from the secret, timed by the runner's watcher (``Retrain``).

``python -m grader verify ASSIGNMENT`` runs it after ``nbgrader autograde``; ``grader.batch`` runs it for each
learner as soon as they are graded.
"""

import hashlib
import importlib
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader import sandbox
from grader.limits import Limits
from grader.run import INTAKE, captures_folder, grader_folder, nbgrader_environment
from grader.zygote import Child, Zygote, serve, take_standard_streams


def _fresh(maker, **options):
    """Fresh data for a synthetic task: 2,000 points drawn by ``helpers.data.<maker>`` from the secret seed."""
    def data(seed):
        make = getattr(importlib.import_module("helpers.data"), maker)
        X_a, X_b, y_a, y_b = make(2000, seed=seed, **options)
        return np.concatenate([X_a, X_b]), np.concatenate([y_a, y_b])
    return data


def _split(loader, seed, scale=1.0, part="test"):
    """A part of a public data set's split exactly as the test draws it (the seed is the test's own)."""
    def data(_secret_seed):
        X_train, X_test, y_train, y_test = getattr(importlib.import_module("helpers.data"), loader)(test_size=0.25,
                                                                                                    seed=seed)
        X, y = (X_test, y_test) if part == "test" else (X_train, y_train)
        return np.asarray(X, dtype="float64") / scale, np.asarray(y, dtype="float64")
    return data


RETRAIN_ROWS = 50000  # of Fashion-MNIST's 60,000 training images; the other 10,000 are held back


def _fashion(part):
    """Fashion-MNIST as the grader uses it for exercise 5, drawn from the secret ``seed``.

    The judge trains the learner's ``fit_fashion`` again (``Retrain``) on 50,000 of the 60,000 training images,
    drawn from the seed (``"retrain"``, uint8 as ``load_data()`` gives them), and scores that model on a half of the
    test images and on the 10,000 training images it was not given (``"held back"``, for ``flag``). Every label is
    renumbered by a permutation of the ten classes drawn from the seed: a function that trains on anything but the
    labels it is given (a copy of the data set it found, a model kept from the notebook) scores like chance.
    Measured when this was written (the reference, 6 draws): 0.889 to 0.897 on each test half, 0.891 to 0.896 on
    the held-back images, 10 to 12 s of training on 2 cores.
    """
    def data(seed):
        from helpers.data import fashion_mnist
        (x_train, y_train), (x_test, y_test) = fashion_mnist()
        rng = np.random.default_rng(seed)
        rows, classes = rng.permutation(len(x_train)), rng.permutation(10)
        x, y = {"first half": (x_test[:5000], y_test[:5000]), "second half": (x_test[5000:], y_test[5000:]),
                "retrain": (x_train[rows[:RETRAIN_ROWS]], y_train[rows[:RETRAIN_ROWS]]),
                "held back": (x_train[rows[RETRAIN_ROWS:]], y_train[rows[RETRAIN_ROWS:]])}[part]
        return (x if part == "retrain" else x.astype("float32")), classes[y].astype("uint8")
    return data


@dataclass(frozen=True)
class Retrain:
    """A model the judge trains again itself, in the sandbox, instead of scoring the one the kernel kept.

    The learner's definitions run in the judge's runner (``grader.runner``), which calls ``function`` on
    ``data(seed)`` (images and labels drawn from the secret), seeded, with no copy of the data set it knows of in
    reach and no network. The runner's watcher, a process the learner's code cannot touch, stops it after ``budget``
    seconds plus ``allowance`` (the learner's imports and definitions, and saving the model): the time budget is
    measured outside the learner's code. The model it returns is scored like a kept one.
    """
    function: str
    data: object
    data_in_words: str  # for the learner's feedback
    budget: int
    allowance: int = 30


FIT_FASHION = Retrain("fit_fashion", _fashion("retrain"), "50,000 of the training images, with the classes numbered "
                      "in another order", budget=90)


def _public(grade_id, answer_id, loader, seed, target, scale=1.0, trained_with=None):
    """A check of a model trained on a public data set's split: scored on its test part, and on its training part
    to tell whether the model has seen the test part (see ``flag``)."""
    return Check(grade_id, answer_id, _split(loader, seed, scale), target, 0.01,
                 trained_on=_split(loader, seed, scale, part="train"), trained_with=trained_with)


COMPARED = "its accuracy {train:.3f} on the training data it was given"
COMPARED_HELD_BACK = "its accuracy {train:.3f} on training images it was not given"  # a ``Retrain``'s held-back rows
FALLBACK_RATE = 0.01  # exercise 3's, as its hidden tests use it


def _adam_at_the_chosen_rate(captures):
    """Exercise 3's Task 3: Adam at the rate the learner chose (0.01 when the choice was refused), 5 epochs of
    batches of 32 on the 1,347 training digits: what the hidden tests ask, decided from the kept sweep."""
    from helpers.grading import usable_rate

    sweep = captures.get("sweep", {})
    try:
        rate, _ = usable_rate(float(sweep["chosen_rate"]), sweep["rates"], sweep["losses"], fallback=FALLBACK_RATE)
    except (KeyError, TypeError, ValueError):
        rate = FALLBACK_RATE
    return {"optimizer": "Adam", "learning_rate": rate, "steps": 5 * -(-1347 // 32)}


def training_problem(expected, used):
    """What differs between how a task says to train (``expected``) and how the saved model's optimizer says it
    was trained (``used``: its class, learning rate and step count), or None."""
    if used.get("optimizer") is None:
        return "its optimizer could not be read from the saved model"
    if used["optimizer"] != expected["optimizer"]:
        return f"it was compiled with {used['optimizer']}, but the task asks for {expected['optimizer']}"
    if used.get("learning_rate") is None or not np.isclose(used["learning_rate"], expected["learning_rate"], rtol=1e-4):
        return f"its learning rate is {used.get('learning_rate')}, not the {expected['learning_rate']:.3g} it was given"
    if used.get("iterations") != expected["steps"]:
        return f"it took {used.get('iterations')} training steps; the task allows exactly {expected['steps']}"
    return None


def flag(accuracy, train_accuracy, n_test, n_train, compared_with=COMPARED):
    """Why a model's test accuracy is implausibly above its accuracy on its own training data, or None.

    An honest model scores at least as well on the data it was trained on as on data it never saw; a model that has
    seen the test split does the reverse. Measured when this rule was written (the reference recipes outside the
    grader, 5 seeds on two splits each; Fashion-MNIST one seed), test minus training accuracy was -0.036 to -0.015 on
    the digits, -0.056 to -0.019 on breast cancer, 0 on wine (both 1.0) and -0.017 on Fashion-MNIST; trained on the
    test split instead, +0.042 to +0.055 on the digits and +0.028 on Fashion-MNIST, but only +0.002 to +0.026 on
    breast cancer (graded until exercise 4 moved to synthetic machines) and +0.015 to +0.068 on wine. The gap must
    exceed 0.02 and three standard errors of the difference of two proportions, so that sampling noise never flags an
    honest model; on the small, easy data sets (wine) a model trained on the test split may stay under it, and is
    not flagged.
    ``tests/test_judge_batch.py`` grades such a learner on exercise 3. For a model the judge trained again
    (exercise 5) the comparison is with the training images its retraining held back (``COMPARED_HELD_BACK``),
    which an honest model never saw either.
    """
    if accuracy is None or train_accuracy is None:
        return None
    gap = accuracy - train_accuracy
    p_test, p_train = (min(max(p, 1 / (n + 1)), n / (n + 1)) for p, n in ((accuracy, n_test), (train_accuracy, n_train)))
    error = (p_test * (1 - p_test) / n_test + p_train * (1 - p_train) / n_train) ** 0.5
    if gap > 0.02 and gap > 3 * error:
        return (f"its test accuracy {accuracy:.3f} is {gap:.3f} above {compared_with.format(train=train_accuracy)} "
                f"({gap / error:.1f} standard errors): it looks trained on the test split")
    return None


@dataclass(frozen=True)
class Check:
    grade_id: str       # the test cell whose verdict is checked
    answer_id: str      # the learner's answer cell: its comment carries the verifier's verdict into the feedback
    data: object        # seed -> (X, y), fresh data drawn as the test draws its own
    target: float
    tolerance: float = 0.03
    trained_on: object = None  # seed -> (X, y), the data the exercise handed out to train on, for ``flag``
    trained_with: object = None  # captures -> {"optimizer", "learning_rate", "steps"} the task prescribes
    retrained: Retrain = None  # the judge trains the model again itself: the kernel's kept model is not used

    @property
    def seed_name(self):
        """What its secret seed is drawn for: the checks of one ``Retrain`` share it (one training, one renumbering
        of the classes), every other check has its own."""
        return self.retrained.function if self.retrained is not None else self.grade_id


CHECKS = {
    "ch01_single_neuron": {
        "ch01_single_neuron": [
            Check("test_train_model_reaches_target_on_test_split", "train_model", _fresh("single_neuron_task"), 0.92),
            Check("test_train_model_reaches_target_on_hidden_data", "train_model", _fresh("single_neuron_task"), 0.92),
        ],
    },
    "ch02_nonlinearity": {
        "ch02_nonlinearity": [
            Check("test_fit_circles_separates_the_rings", "fit_circles", _fresh("circles", noise=0.03, test_size=0.5), 0.97),
            Check("test_fit_circles_on_hidden_data", "fit_circles", _fresh("circles", noise=0.03, test_size=0.5), 0.97),
            Check("test_fit_moons_separates_the_moons", "fit_moons", _fresh("moons", noise=0.2, test_size=0.5), 0.93),
            Check("test_fit_moons_on_hidden_data", "fit_moons", _fresh("moons", noise=0.2, test_size=0.5), 0.93),
        ],
    },
    "ch03_learning_rate": {
        "ch03_learning_rate": [
            _public("test_train_given_model_reaches_the_target", "train_given_model", "digits", 0, 0.90, 16.0,
                    trained_with=_adam_at_the_chosen_rate),
            _public("test_train_given_model_on_a_fresh_split", "train_given_model", "digits", 2718, 0.90, 16.0,
                    trained_with=_adam_at_the_chosen_rate),
        ],
    },
    "ch04_normalization": {
        "ch04_normalization": [
            # Synthetic machines: scored on 2,000 rows of other machines drawn from the secret, never handed out.
            Check("test_fit_machines_reaches_the_target", "fit_machines", _fresh("machines"), 0.87, 0.02),
            Check("test_fit_machines_on_other_machines", "fit_machines", _fresh("machines"), 0.87, 0.02),
            _public("test_fit_wine_normalizes_and_reaches_the_target", "fit_wine", "wine", 0, 0.93),
            _public("test_fit_wine_on_a_fresh_split", "fit_wine", "wine", 1618, 0.93),
        ],
    },
    "ch05_multiclass": {
        "ch05_multiclass": [
            # The judge's model, not the kernel's: fit_fashion trained again on 50,000 training images the secret
            # draws, classes renumbered, timed outside the learner's code; 10,000 held back for ``flag``.
            *(Check(grade_id, "fit_fashion", _fashion(half), 0.88, 0.01, trained_on=_fashion("held back"),
                    retrained=FIT_FASHION)
              for grade_id, half in (("test_fit_fashion_reaches_the_target_within_budget", "first half"),
                                     ("test_fit_fashion_on_the_other_half", "second half"))),
        ],
    },
}


def course_secret(course):
    """The course's verification secret, created on first use, readable by its owner only."""
    path = grader_folder(course) / "secret"
    if not path.exists():
        # Workers of a batch may all get here on a new course: each writes a private file and links it into place;
        # the first link wins and everyone reads that one.
        staging = path.with_name(f".secret.{os.getpid()}.{secrets.token_hex(4)}")
        staging.write_text(secrets.token_hex(32))
        os.chmod(staging, 0o600)
        try:
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    return path.read_text().strip()


def seed_for(secret, assignment, student, grade_id):
    digest = hashlib.sha256(f"{secret}/{assignment}/{student}/{grade_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def score_models(jobs, *, timeout=300, memory_bytes=4 * 2**30, keras_process=None):
    """Accuracies of saved models on fresh data, computed in one fresh process (``keras_process`` when given).

    ``jobs`` holds ``(model_path, assignment, notebook, grade_id, seed)`` tuples; returns one dict per job:
    ``accuracy``, ``train_accuracy`` (for a model trained on a public split, else None), their example counts
    ``n_accuracy`` and ``n_train_accuracy``, and ``error`` (why the model could not be scored, else None).
    """
    if not jobs:
        return []
    try:
        return _ask([[str(path), *rest] for path, *rest in jobs], timeout, memory_bytes, keras_process)
    except subprocess.TimeoutExpired:
        return [_unscored(f"scoring the models took more than {timeout} s")] * len(jobs)
    except (RuntimeError, ValueError) as error:
        return [_unscored(str(error)[:300])] * len(jobs)


def _unscored(why):
    return {"accuracy": None, "train_accuracy": None, "error": why}


def _memory_limit(memory_bytes):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    return limit


class KerasProcess:
    """One fresh, memory-limited Python process that does a learner's Keras work for the instructor.

    The judge's model inspection (``inspect_models``) and the verifier's scoring (``score_models``) of one
    submission each need Keras, and importing it costs seconds. ``grader.batch`` makes one of these per learner and
    closes it when the learner is done, so nothing of one learner ever reaches a process that reads another's files.
    The process is a fresh child of the worker's Keras zygote (``KERAS_ZYGOTE``), which imported Keras once; ``warm``
    starts it as soon as it is sure to be needed; a learner with no model to read never starts it. Requests and
    replies are one JSON line each; a reply line starts with a token only this object knows, so nothing the process
    prints by accident is read as a reply. A request
    that crashes the process, or runs past its time limit, fails alone: the process is killed, and the next request
    starts a new one.
    """

    def __init__(self, memory_bytes=4 * 2**30):
        self.memory_bytes, self.process, self.token = memory_bytes, None, None

    def __enter__(self):
        return self

    def warm(self):
        """Start the process now, if it is not running, so that Keras is imported by the time it is asked."""
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        import queue
        import threading

        self.token = secrets.token_hex(16)
        self.stderr = tempfile.TemporaryFile()
        try:  # a child of this worker's Keras zygote: Keras is imported already
            self.process = self._fork()
        except OSError:  # no zygote could start here: a process of its own, which imports Keras itself
            self.process = subprocess.Popen([sys.executable, "-m", "grader.verify", "--serve"],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                            text=True, preexec_fn=_memory_limit(self.memory_bytes),
                                            env=nbgrader_environment({"GRADER_REPLY_TOKEN": self.token}))
        self.lines = queue.Queue()

        def read(stream, lines):
            for line in stream:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, args=(self.process.stdout, self.lines), daemon=True).start()

    def _fork(self):
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        try:
            pid = KERAS_ZYGOTE.fork({"token": self.token, "memory_bytes": self.memory_bytes},
                                    [stdin_r, stdout_w, self.stderr.fileno()])
        except OSError:
            os.close(stdin_w)
            os.close(stdout_r)
            raise
        finally:
            os.close(stdin_r)
            os.close(stdout_w)
        return Child(pid, open(stdin_w, "w"), open(stdout_r))

    def ask(self, payload, timeout):
        """The reply to ``payload``; raises RuntimeError (the process failed: its last words) or TimeoutExpired."""
        import queue
        import time

        if self.process is None or self.process.poll() is not None:
            self.close()
            self.start()
        try:
            self.process.stdin.write(json.dumps(payload) + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it died: the reader says so below
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                self.close()
                raise subprocess.TimeoutExpired("python -m grader.verify --serve", timeout) from None
            if line is None:
                why = self._last_words()
                self.close()
                raise RuntimeError(why)
            if line.startswith(self.token):
                return json.loads(line[len(self.token):])

    def _last_words(self):
        self.process.wait()
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace").strip().splitlines()
        return (text or [f"no result (exit status {self.process.returncode})"])[-1][:300]

    def close(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.stderr.close()
            self.process = None


# This worker's zygote for KerasProcess: it imports Keras once (``grader.zygote``).
KERAS_ZYGOTE = Zygote("grader.verify", nbgrader_environment)


def _ask(payload, timeout, memory_bytes, keras_process=None):
    """``payload``'s reply from ``keras_process``, or from a fresh process started for it alone."""
    if keras_process is not None:
        return keras_process.ask(payload, timeout)
    with KerasProcess(memory_bytes) as process:
        return process.ask(payload, timeout)  # started by ask


def inspect_models(paths, *, behaviour=None, timeout=300, memory_bytes=4 * 2**30, keras_process=None):
    """Facts about saved models (layers, loss, optimizer, ...), read in one fresh process with Keras's safe mode
    (``keras_process`` when given).

    ``paths`` maps a key to a ``.keras`` file; returns ``{key: facts}``, where facts hold ``error`` when the file
    could not be read. The judge's rubrics decide from these facts (``grader.rubrics``). ``behaviour`` (the runner's
    ``results`` and ``inputs`` files, and ``probes``: the input array each key was probed on) lets a model of the
    learner's own class, which safe mode refuses to load, be read from what it did instead (``_custom_model_facts``).
    """
    if not paths:
        return {}
    try:
        return _ask({"inspect": {key: str(path) for key, path in paths.items()}, "behaviour": behaviour},
                    timeout, memory_bytes, keras_process)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as error:
        return {key: {"error": f"the saved model could not be inspected: {error}"[:300]} for key in paths}


def softmax(z):
    """Softmax along the last axis, shifted by each row's maximum (the judge's own, for its checks)."""
    z = np.asarray(z, dtype="float64")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {  # the order decides between activations that agree on every probe (relu before linear)
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": softmax,
    "linear": lambda z: z,
}


def dense_chain(weights, probe, outputs):
    """``[(units, activation), ...]``: the Dense layers whose weights are ``weights`` (kernel, bias, kernel, bias, ...)
    and that turn ``probe`` into ``outputs``; raises ``ValueError`` saying why there are none.

    The activations are found by trying each of ``ACTIVATIONS`` on each layer (a depth-first search that computes
    each prefix once). Weights listed in another order than the layers are used are chained by their shapes.
    """
    if not weights or len(weights) % 2:
        raise ValueError(f"its {len(weights)} weight arrays are not kernels and biases of Dense layers")
    pairs = [(np.asarray(w, dtype="float64"), np.asarray(b, dtype="float64")) for w, b in zip(weights[::2], weights[1::2])]
    if any(w.ndim != 2 or b.shape != (w.shape[1],) for w, b in pairs):
        raise ValueError(f"its weights {[tuple(np.shape(a)) for a in weights]} are not kernels and biases of Dense "
                         "layers (only Dense layers and activations are read from a model of your own class)")
    chain, width, left = [], probe.shape[1], list(range(len(pairs)))
    while left:
        following = [index for index in left if pairs[index][0].shape[0] == width]
        if not following:
            raise ValueError(f"no layer of its weights {[tuple(w.shape) for w, _ in pairs]} takes {width} inputs")
        chain.append(pairs[following[0]])
        left.remove(following[0])
        width = chain[-1][0].shape[1]
    outputs = np.asarray(outputs, dtype="float64")

    def search(h, depth):
        if depth == len(chain):
            return [] if h.shape == outputs.shape and np.allclose(h, outputs, atol=1e-4, rtol=1e-3) else None
        kernel, bias = chain[depth]
        z = h @ kernel + bias
        for name, activation in ACTIVATIONS.items():
            with np.errstate(over="ignore"):
                rest = search(activation(z), depth + 1)
            if rest is not None:
                return [(kernel.shape[1], name), *rest]
        return None

    found = search(np.asarray(probe, dtype="float64"), 0)
    if found is None:
        raise ValueError("its outputs on the judge's inputs are not those of its Dense layers with relu, sigmoid, "
                         "tanh, softmax or linear activations")
    return found


def _custom_model_facts(keras, path, key, behaviour):
    """Facts about a model of the learner's own class, which safe mode cannot load: compile settings from the file's
    JSON (read as data), layers from its weights and its outputs in the sandbox (``dense_chain``). ``None`` when the
    model's class is Keras's own or nothing was recorded."""
    import zipfile
    from types import SimpleNamespace

    from helpers.grading import loss_name

    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("config.json")
        if info.file_size > 2**20:
            return None
        config = json.loads(archive.read(info))
    probe_name = (behaviour or {}).get("probes", {}).get(key)
    if config.get("class_name") in ("Sequential", "Functional", "Model") or not probe_name:
        return None
    results = Path(behaviour["results"])
    if results.is_symlink() or not results.is_file() or results.stat().st_size > 64 * 2**20:
        return None
    with np.load(results, allow_pickle=False) as stored, np.load(behaviour["inputs"], allow_pickle=False) as inputs:
        if f"{key}/probe" not in stored.files:
            return None
        weights = [stored[f"{key}/weight/{index}"] for index in range(len(stored.files))
                   if f"{key}/weight/{index}" in stored.files]
        outputs, probe = stored[f"{key}/probe"], inputs[probe_name]
    try:
        layers = dense_chain(weights, probe, outputs)
    except ValueError as why:
        return {"error": f"your model class {config.get('class_name')} was read from what it computes, and {why}."}
    compiled = config.get("compile_config") or {}
    optimizer, rate, loss, from_logits = None, None, None, False
    try:
        optimizer = keras.optimizers.deserialize(compiled["optimizer"])
        rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # noqa: BLE001 - not compiled, a schedule, or an optimizer of the learner's own
        pass
    try:
        loss = keras.losses.deserialize(compiled["loss"]) if isinstance(compiled.get("loss"), dict) else compiled.get("loss")
        from_logits = bool(loss.get_config().get("from_logits")) if isinstance(loss, keras.losses.Loss) else False
        loss = loss_name(SimpleNamespace(loss=loss)) if loss is not None else None
    except Exception:  # noqa: BLE001 - a loss of the learner's own: no name
        loss = None
    return {
        "input_shape": [None, int(probe.shape[1])],
        "layers": [{"class": "Dense", "units": int(units), "activation": activation} for units, activation in layers],
        "n_params": int(sum(np.size(w) for w in weights)),
        "optimizer": type(optimizer).__name__ if optimizer is not None else None,
        "learning_rate": rate,
        "iterations": None,
        "loss": loss,
        "from_logits": from_logits,
        "normalization": [],
        "read_from": "what the model computes (its class is the learner's own)",
    }


def _inspect_here(key, path, behaviour=None):
    """Run in the fresh process: what a model saved as ``path`` is, read in safe mode (no code from the file runs)."""
    from helpers.grading import loss_name
    from helpers.repro import import_keras_quietly

    keras = import_keras_quietly()
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception:  # noqa: BLE001 - a loss or optimizer that does not compile back: read the layers alone
        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as error:  # noqa: BLE001
            try:
                custom = _custom_model_facts(keras, path, key, behaviour)
            except Exception:  # noqa: BLE001 - a file that is not what it claims: the safe-mode error stands
                custom = None
            return custom or {"error": f"the model could not be loaded in safe mode: {error}"[:300]}
    layers = [{"class": type(layer).__name__, "units": getattr(layer, "units", None),
               "activation": getattr(getattr(layer, "activation", None), "__name__", None)} for layer in model.layers
              if type(layer).__name__ != "InputLayer"]  # a functional model lists its input; Sequential does not
    optimizer = getattr(model, "optimizer", None)
    rate = getattr(optimizer, "learning_rate", None)
    try:
        rate = float(keras.ops.convert_to_numpy(rate))
    except Exception:  # noqa: BLE001 - a schedule, or no optimizer
        rate = None
    loss = getattr(model, "loss", None)
    return {
        "input_shape": [None if d is None else int(d) for d in model.inputs[0].shape] if model.inputs else None,
        "layers": layers,
        "n_params": int(model.count_params()),
        "optimizer": type(optimizer).__name__ if optimizer is not None else None,
        "learning_rate": rate,
        "iterations": int(keras.ops.convert_to_numpy(optimizer.iterations)) if optimizer is not None else None,
        "loss": loss_name(model) if loss is not None else None,
        "from_logits": bool(loss.get_config().get("from_logits")) if isinstance(loss, keras.losses.Loss) else False,
        "normalization": [{"mean": np.asarray(keras.ops.convert_to_numpy(layer.mean)).ravel().tolist(),
                           "variance": np.asarray(keras.ops.convert_to_numpy(layer.variance)).ravel().tolist()}
                          for layer in model.layers if isinstance(layer, keras.layers.Normalization)],
    }


def _score_here(model_path, assignment, notebook, grade_id, seed):
    """Run in the fresh process: load in safe mode, draw the data, count right answers with NumPy.

    Returns the accuracy on the check's data and, for a model trained on a public split, on the training data the
    exercise handed out (``train_accuracy``), each with the number of examples it was measured on.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from helpers.repro import import_keras_quietly

    keras = import_keras_quietly()
    check = next(c for c in CHECKS[assignment][notebook] if c.grade_id == grade_id)
    failed = {"accuracy": None, "train_accuracy": None}
    model = None
    if check.trained_with is not None:  # the optimizer is read too: loaded compiled when it compiles back
        try:
            model = keras.saving.load_model(model_path, safe_mode=True)
        except Exception:  # noqa: BLE001 - tried again without compiling below
            model = None
    try:
        model = model or keras.saving.load_model(model_path, safe_mode=True, compile=False)
    except Exception as error:  # a class of the learner's own, or a Lambda: ``verify_student`` tries the sandbox
        return {**failed, "error": f"the saved model could not be loaded in safe mode: {error}"[:300],
                "needs_sandbox": True}
    model_path = Path(model_path)
    if model_path.with_suffix(".transform.pkl").exists():  # a preprocessing that is not affine: the sandbox applies it
        return {**failed, "error": "its preprocessing is not affine, and could only be applied in the sandbox",
                "needs_sandbox": True}
    result = {**failed, "error": None}
    if check.trained_with is not None:
        result["training"] = _optimizer_facts(keras, model)
    for key, (X, y) in _inputs(check, model_path, seed).items():
        try:
            outputs = np.asarray(model.predict(X, batch_size=1024, verbose=0))
        except Exception as error:
            return {**failed, "error": f"the saved model could not predict: {error}"[:300]}
        try:
            result[key], result[f"n_{key}"] = _accuracy(outputs, y), len(y)
        except ValueError as error:
            return {**failed, "error": str(error)}
    return result


def _optimizer_facts(keras, model):
    """The model's optimizer class, learning rate and step count (``iterations``), or Nones when it has none."""
    try:
        optimizer = model.optimizer
        return {"optimizer": type(optimizer).__name__,
                "learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
                "iterations": int(keras.ops.convert_to_numpy(optimizer.iterations))}
    except Exception:  # noqa: BLE001 - not compiled, a schedule, an optimizer of the learner's own
        return {"optimizer": None, "learning_rate": None, "iterations": None}


def _inputs(check, model_path, seed):
    """``{"accuracy": (X, y), "train_accuracy": (X, y)}``: the data a kept model is scored on, with the test's
    preprocessing applied when it was kept as numbers (``x @ matrix + offset``, read without pickle)."""
    affine = None
    if Path(model_path).with_suffix(".npz").exists() and not Path(model_path).with_suffix(".transform.pkl").exists():
        with np.load(Path(model_path).with_suffix(".npz"), allow_pickle=False) as kept:
            affine = kept["matrix"], kept["offset"]
    parts = {}
    for key, data in (("accuracy", check.data), ("train_accuracy", check.trained_on)):
        if data is not None:
            X, y = data(seed)
            if affine is not None:
                X = np.asarray(X, dtype="float64").reshape(len(X), -1) @ affine[0] + affine[1]
            parts[key] = np.asarray(X, dtype="float32"), np.asarray(y)
    return parts


def _accuracy(outputs, y):
    """The share of right answers, from a model's outputs (one sigmoid column, or one column per class)."""
    outputs = np.asarray(outputs, dtype="float64")
    if outputs.ndim != 2 or len(outputs) != len(y):
        raise ValueError(f"the saved model's outputs have shape {outputs.shape}")
    labels = (outputs[:, 0] > 0.5).astype(int) if outputs.shape[1] == 1 else outputs.argmax(axis=1)
    return float(np.count_nonzero(labels == y) / len(y))


def _graded_notebook(course, assignment, student, notebook):
    """The notebook whose definitions the sandbox runs: intake's rebuilt copy, or plain nbgrader's graded one."""
    return next((path for path in (Path(course) / INTAKE / student / assignment / f"{notebook}.ipynb",
                                   Path(course) / "autograded" / student / assignment / f"{notebook}.ipynb")
                 if path.is_file()), None)


def data_set_copies(scratch_root):
    """The folders that hold the copies of the data sets the grader knows of: the scratch root's (the kernels'
    and the runners') and this process's Keras cache. A ``Retrain`` covers them (``grader.runner._hide``)."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    return [path for path in (Path(scratch_root) / "keras-datasets", home / "datasets") if path.is_dir()]


def retrain(course, assignment, student, notebook, check, seed, *, scratch_root, limits, sandboxed, into,
            keras_process=None):
    """Train ``check.retrained.function`` again in the sandbox (``Retrain``), on data drawn from ``seed``.

    Returns ``(path, None)``, the model it returned copied to ``into``, or ``(None, why)`` in the learner's words:
    over the time budget, an error, or no Keras model returned."""
    import nbformat

    from grader.judge import MAX_MODEL_BYTES, Results, _plain, definitions, run_job

    spec = check.retrained
    source = _graded_notebook(course, assignment, student, notebook)
    if source is None:
        return None, "its notebook was not found"
    job = Path(scratch_root) / "judge" / sandbox.private_name(student, assignment, notebook, "retrain")
    drawn = Path(tempfile.mkdtemp(prefix="course-grader-draw-")) / "inputs.npz"
    request = {"id": "retrained", "kind": "save", "function": spec.function, "seed": seed % 2**31,
               "args": [{"array": "images"}, {"array": "labels"}]}
    try:
        _ask({"draw": [assignment, notebook, check.grade_id, seed, str(drawn)]}, 300, 4 * 2**30, keras_process)
        returncode, log = run_job(job, definitions(nbformat.read(source, as_version=4)), [request], drawn,
                                  scratch_root, limits, sandboxed, seconds=spec.budget + spec.allowance,
                                  hide=data_set_copies(scratch_root) if sandboxed else ())
        if returncode is None:
            return None, (f"training it took more than its {spec.budget} s budget (the grader stopped it after "
                          f"{spec.budget + spec.allowance} s, your imports and definitions included)")
        model = job / "out" / "retrained.keras"
        if not model.is_file() or model.is_symlink() or model.stat().st_size > MAX_MODEL_BYTES:
            error = Results(job, {}, {}).errors.get("retrained")
            return None, (_plain(error) if error else f"it returned no Keras model that could be saved ({log[-300:]})")
        into.mkdir(parents=True, exist_ok=True)
        kept = into / f"retrained-{spec.function}.keras"
        shutil.copyfile(model, kept)
        return kept, None
    finally:
        shutil.rmtree(drawn.parent, ignore_errors=True)
        shutil.rmtree(job, ignore_errors=True)


def _score_own_classes(course, assignment, student, models, seeds, *, scratch_root, limits, sandboxed):
    """Score, in the sandbox, kept models that the verifier cannot score by itself: a model or layer class of the
    learner's own (safe mode refuses it), or a preprocessing that is not affine (kept pickled).

    ``models`` maps ``(notebook, Check)`` to a kept ``.keras`` file. The runner (``grader.runner``) executes the
    learner's definitions, loads each file with the learner's classes (still refusing ``Lambda`` layers), unpickles
    and applies the preprocessing, and hands back the outputs on the data, never the labels; the accuracy is
    computed here. Returns ``{grade_id: score}``.
    """
    import nbformat

    from grader.judge import Failed, Results, definitions, run_job

    scores, by_notebook = {}, {}
    for (notebook, check), path in models.items():
        by_notebook.setdefault(notebook, []).append((check, path))
    for notebook, pending in by_notebook.items():
        source = _graded_notebook(course, assignment, student, notebook)
        if source is None:
            continue
        requests, inputs, files, truth = [], {}, {}, {}
        for check, path in pending:
            files[f"{check.grade_id}.keras"] = path
            transform = path.with_suffix(".transform.pkl")
            if transform.is_file() and not transform.is_symlink():
                files[transform.name] = transform
            for key, (X, y) in _inputs(check, path, seeds[check.grade_id]).items():
                inputs[f"{check.grade_id}/{key}"], truth[(check.grade_id, key)] = X, y
                requests.append({"id": f"{check.grade_id}/{key}", "kind": "predict", "file": f"{check.grade_id}.keras",
                                 "array": f"{check.grade_id}/{key}",
                                 "transform": transform.name if transform.name in files else None,
                                 "optimizer": check.trained_with is not None and key == "accuracy"})
        job = Path(scratch_root) / "judge" / sandbox.private_name(student, assignment, notebook, "models")
        code = definitions(nbformat.read(source, as_version=4))
        returncode, log = run_job(job, code, requests, inputs, scratch_root, limits, sandboxed, files)
        results = Results(job, {}, {})
        for check, _ in pending:
            score = {"accuracy": None, "train_accuracy": None, "error": None}
            for key in ("accuracy", "train_accuracy"):
                if (check.grade_id, key) not in truth:
                    continue
                y = truth[(check.grade_id, key)]
                try:
                    score[key], score[f"n_{key}"] = _accuracy(results.array(f"{check.grade_id}/{key}"), y), len(y)
                except (Failed, ValueError) as error:
                    why = log if returncode is None else str(error)
                    score = _unscored(f"loading it with your own classes in the sandbox failed: {why}"[:300])
                    break
            if check.trained_with is not None:
                found = {name: results.arrays.get(f"{check.grade_id}/accuracy/{name}")
                         for name in ("optimizer", "learning_rate", "iterations")}
                try:
                    score["training"] = {"optimizer": str(found["optimizer"].item()),
                                         "learning_rate": float(found["learning_rate"].item()),
                                         "iterations": int(found["iterations"].item())}
                except (AttributeError, TypeError, ValueError):  # missing, or not what the runner writes
                    score["training"] = {}
            scores[check.grade_id] = score
        shutil.rmtree(job, ignore_errors=True)
    return scores


def verify_student(course, db_url, assignment, student, *, scratch_root=None, limits=None, sandboxed=True,
                   keras_process=None):
    """Check every model of one learner's graded submission; correct the gradebook; return one row per check.

    The models are scored in ``keras_process`` (a ``KerasProcess`` of this learner) when given, else in a fresh one.

    ``scratch_root``, ``limits`` and ``sandboxed`` are for kept models of the learner's own classes, which are
    scored in the sandbox (``_score_own_classes``); without a scratch root a temporary one is made.
    """
    from nbgrader.api import Gradebook, MissingEntry

    course, rows = Path(course), []
    secret = course_secret(course)
    with Gradebook(db_url) as gradebook:
        found = []
        for notebook, checks in CHECKS.get(assignment, {}).items():
            for check in checks:
                try:
                    found.append((notebook, check, gradebook.find_grade(check.grade_id, notebook, assignment, student)))
                except MissingEntry:
                    continue
        folder = captures_folder(course, assignment, student)
        if not folder.is_dir():  # graded by plain `nbgrader autograde`: the kernel kept them next to the notebook
            folder = course / "autograded" / student / assignment / "verify"
        seeds = {c.grade_id: seed_for(secret, assignment, student, c.seed_name) for _, c, _ in found}
        models = {c.grade_id: folder / f"{c.grade_id}.keras" for _, c, _ in found if c.retrained is None}
        not_retrained = {}  # grade_id -> why the judge's training of it gave no model
        temporary = []  # the scratch root made on first need, when none was given

        def sandbox_root():
            """Where the sandbox runs this learner's code, or None where it cannot run here."""
            if sandboxed and sandbox.problems():
                return None
            if scratch_root is not None:
                return scratch_root
            if not temporary:
                temporary.append(Path(tempfile.mkdtemp(prefix="course-grader-")))
                os.chmod(temporary[0], 0o711)
            return temporary[0]

        try:
            for (notebook, spec), checks in _by_retraining(found).items():
                if not any(_passed(grade) for _, grade in checks):
                    continue  # nothing to take back
                first = checks[0][0]  # its checks share one seed (``seed_name``)
                root = sandbox_root()
                if root is None:
                    model, why = None, f"it could not run in the sandbox here ({'; '.join(sandbox.problems())})"
                else:
                    model, why = retrain(course, assignment, student, notebook, first, seeds[first.grade_id],
                                         scratch_root=root, limits=limits or Limits(),
                                         sandboxed=sandboxed, into=folder, keras_process=keras_process)
                for check, _ in checks:
                    models[check.grade_id] = model
                    not_retrained[check.grade_id] = why
            kept = [(n, c, g) for n, c, g in found if models.get(c.grade_id) and models[c.grade_id].is_file()]
            scored = dict(zip([c.grade_id for _, c, _ in kept], score_models(
                [(models[c.grade_id], assignment, n, c.grade_id, seeds[c.grade_id]) for n, c, _ in kept],
                keras_process=keras_process)))
            own = {(n, c): models[c.grade_id] for n, c, g in kept if scored[c.grade_id].get("needs_sandbox")
                   and _passed(g)}
            if own and (root := sandbox_root()) is not None:
                scored.update(_score_own_classes(course, assignment, student, own, seeds, scratch_root=root,
                                                 limits=limits or Limits(), sandboxed=sandboxed))
        finally:
            for made in temporary:
                shutil.rmtree(made, ignore_errors=True)
        captures = None
        for notebook, check, grade in found:
            passed_in_kernel = _passed(grade)
            retrained = not_retrained.get(check.grade_id)
            score = scored.get(check.grade_id, _unscored(retrained or "no model was kept for verification"))
            accuracy, why = score["accuracy"], score["error"]
            verified = None if accuracy is None else accuracy >= check.target - check.tolerance
            problem = None
            if verified and check.trained_with is not None:
                if captures is None:
                    from grader.judge import _read_captures
                    captures = _read_captures(folder)
                problem = training_problem(check.trained_with(captures), score.get("training") or {})
                verified = problem is None
            row = {"student": student, "grade_id": check.grade_id, "in_kernel": grade.auto_score,
                   "verified_accuracy": accuracy, "train_accuracy": score["train_accuracy"], "target": check.target,
                   "corrected": False, "disagrees": verified is not None and passed_in_kernel != verified,
                   "why": why, "training": problem, "retrained": check.retrained is not None,
                   "flagged": flag(accuracy, score["train_accuracy"], score.get("n_accuracy"),
                                   score.get("n_train_accuracy"),
                                   COMPARED_HELD_BACK if check.retrained is not None else COMPARED)}
            if passed_in_kernel and verified is not True:  # a kernel's pass alone never gives points
                grade.manual_score = 0.0
                comment = gradebook.find_comment(check.answer_id, notebook, assignment, student)
                if retrained:
                    note = (f"Verified outside your notebook: {check.grade_id} passed in the notebook, but when the "
                            f"grader called {check.retrained.function} again, outside your notebook, on "
                            f"{check.retrained.data_in_words}, {retrained}. Its points are set to 0. Train only on the arguments "
                            "your function is given, within the budget.")
                elif problem:
                    note = (f"Verified outside your notebook: {check.grade_id} passed in the notebook, but the model "
                            f"it trained does not follow the task: {problem}. Its points are set to 0.")
                elif verified is False:
                    note = (f"Verified outside your notebook: {check.grade_id} passed in the notebook, but the model "
                            f"it trained scored accuracy {accuracy:.3f} on fresh data (target {check.target}). Its "
                            "points are set to 0. Code that changes how models or metrics are scored does not change "
                            "the grade.")
                else:
                    note = (f"Verified outside your notebook: {check.grade_id} passed in the notebook, but its model "
                            f"could not be checked outside it ({why}), so its points are set to 0. Keep the test "
                            "cells as they are and return a Keras model that can be saved and loaded again: one of "
                            "Keras's layers, or your own model class whose __init__ accepts **kwargs and passes them "
                            "to super().__init__ (or that defines get_config). Your instructor can review this.")
                if note not in (comment.manual_comment or ""):  # a rerun adds nothing
                    comment.manual_comment = "\n\n".join(filter(None, [comment.manual_comment, note]))
                gradebook.db.commit()
                row["corrected"] = True
            rows.append(row)
    return rows


def _draw_here(assignment, notebook, grade_id, seed, path):
    """Run in the fresh process: the training data of a check's ``Retrain``, written to ``path`` (``.npz``)."""
    check = next(c for c in CHECKS[assignment][notebook] if c.grade_id == grade_id)
    images, labels = check.retrained.data(seed)
    np.savez(path, images=images, labels=labels)
    return {"images": list(images.shape)}


def _passed(grade):
    return grade.auto_score is not None and grade.auto_score >= grade.max_score


def _by_retraining(found):
    """``{(notebook, Retrain): [(check, grade), ...]}``: the checks that score one model the judge trains again."""
    groups = {}
    for notebook, check, grade in found:
        if check.retrained is not None:
            groups.setdefault((notebook, check.retrained), []).append((check, grade))
    return groups


def _answer(payload):
    """One request of ``KerasProcess``: inspect models (a dict), draw a retraining's data, or score models (a
    list)."""
    if isinstance(payload, dict) and "draw" in payload:
        return _draw_here(*payload["draw"])
    if isinstance(payload, dict):
        return {key: _inspect_here(key, path, payload.get("behaviour")) for key, path in payload["inspect"].items()}
    return [_score_here(path, assignment, notebook, grade_id, int(seed))
            for path, assignment, notebook, grade_id, seed in payload]


def _serve(token, stdin=sys.stdin):
    """A ``KerasProcess``'s loop: one JSON request a line on stdin, one reply a line on stdout."""
    for request in stdin:
        print(token + json.dumps(_answer(json.loads(request))), flush=True)


def _forked(request, fds):
    """A ``KerasProcess`` forked by the zygote: the request's streams and memory limit, then ``_serve``."""
    take_standard_streams(fds)
    _memory_limit(request["memory_bytes"])()
    _serve(request["token"], open(0, closefd=False))


if __name__ == "__main__":  # ``KerasProcess`` (--serve) or ``Zygote`` (--zygote FD)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from helpers.repro import import_keras_quietly

    import_keras_quietly()  # while the instructor's side waits for the sandbox, not after
    if sys.argv[1] == "--zygote":
        serve(int(sys.argv[2]), _forked, fds_per_request=3)
    else:
        _serve(os.environ.get("GRADER_REPLY_TOKEN", ""))
