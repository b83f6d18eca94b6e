"""Decide graded cells outside the learner's kernel: their functions, values and model architectures.

A hidden test that runs in the learner's kernel can be fooled by the learner's own code (``np.allclose = lambda
*a, **k: True``). For every graded cell its exercise's rubric (``grader.rubrics``) names, the judge decides
instead, in four steps:

1. **Definitions.** From the rebuilt notebook (``grader.intake``) it takes the release's locked code cells (setup,
   data) whole, and from the learner's cells only their definitions: imports, functions, classes and constants
   (``definitions``). Training, printing and anything else that runs at the top of a cell is left out.
2. **Inputs.** The rubric draws the inputs from a seed derived from the course's secret, so they are known to
   nobody: random probabilities and thresholds, logits with large values, shapes (n,) and (n, k), a hand-set
   neuron, a random classifier.
3. **The runner** (``grader.runner``) executes the definitions and calls the functions on those inputs in the
   sandbox: the same unprivileged user, limits and network namespace as the kernel, in a fresh process. It hands
   back arrays (``.npz``, read without pickle) and models (``.keras``, inspected with Keras's safe mode in a fresh
   process by ``grader.verify``).
4. **The verdict** is the rubric's, computed here, in the instructor's process, with this process's NumPy: a cell
   passes or scores 0, whatever the kernel said, and a failed cell's message goes into the feedback.

``judge_submission`` returns the verdicts; ``grader.gradebook.record`` writes them.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np

from grader import sandbox
from grader.limits import Limits
from grader.run import nbgrader_environment
from grader.zygote import Zygote, ZygoteOfRoot

MAX_RESULTS_BYTES = 64 * 2**20
MAX_MODEL_BYTES = 256 * 2**20
JUDGE_MIN_SECONDS = 60


@dataclass
class Verdict:
    grade_id: str   # the graded cell
    answer_id: str  # the learner's answer cell that the comment goes to
    passed: bool
    message: str = ""


class Failed(Exception):
    """A rubric check's verdict: the learner's answer is wrong, and the message says how."""


def _python(source):
    """IPython syntax (magics, ``!`` commands) turned into plain Python, or ``None`` when it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        code = TransformerManager().transform_cell(source)
        return code, ast.parse(code)
    except (SyntaxError, ValueError):
        return None, None


def _calls_outside_lambdas(node):
    if isinstance(node, ast.Lambda):
        return False
    if isinstance(node, ast.Call):
        return True
    return any(_calls_outside_lambdas(child) for child in ast.iter_child_nodes(node))


def _names_only(target):
    if isinstance(target, ast.Name):
        return True
    return isinstance(target, (ast.Tuple, ast.List)) and all(_names_only(t) for t in target.elts)


def _is_definition(statement):
    """Imports, functions, classes, and constants or aliases bound to plain names (``K = 3``, ``act = relu``).

    Anything else is left out: calls at the top of a cell (training, printing, ``os._exit``), loops, and
    assignments to attributes or items (``np.allclose = ...``: patching a library changes nothing the judge uses).
    """
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(statement, ast.Assign):
        return all(_names_only(t) for t in statement.targets) and not _calls_outside_lambdas(statement.value)
    if isinstance(statement, ast.AnnAssign):
        return (statement.value is not None and _names_only(statement.target)
                and not _calls_outside_lambdas(statement.value))
    return False


def definitions(notebook):
    """The sources the runner executes, one statement each, in order: locked non-test cells whole, and the
    definitions (``_is_definition``) of the learner's cells. One that fails does not stop the others."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            continue  # tests are the instructor's, and the judge is their replacement
        code, tree = _python(cell.source)
        if tree is None:
            continue
        if meta.get("locked") and not meta.get("solution"):
            cells.append(code)
        else:
            cells += [ast.unparse(statement) for statement in tree.body if _is_definition(statement)]
    return cells


class Results:
    """What the runner handed back, read safely: arrays, errors, and facts about saved models."""

    def __init__(self, folder, facts, captures):
        out = Path(folder) / "out"
        self.arrays, self.errors = {}, {}
        if (out / "results.npz").is_file() and not (out / "results.npz").is_symlink() \
                and (out / "results.npz").stat().st_size <= MAX_RESULTS_BYTES:
            try:
                with np.load(out / "results.npz", allow_pickle=False) as stored:
                    self.arrays = {key: stored[key] for key in stored.files}
            except Exception as error:  # a file the learner's code forged: nothing in it counts
                self.errors["results"] = f"the results could not be read: {type(error).__name__}"
        if (out / "errors.json").is_file() and (out / "errors.json").stat().st_size <= 2**20:
            try:
                errors = json.loads((out / "errors.json").read_text())
                self.errors.update({str(k): str(v)[:500] for k, v in dict(errors).items()})
            except (ValueError, TypeError):
                pass
        self.facts = facts
        self.captures = captures

    def array(self, key):
        """The array the learner's code returned for request ``key``; raises ``Failed`` with its error otherwise."""
        if key in self.arrays:
            return self.arrays[key]
        error = self.errors.get(key) or self.errors.get(key.split("/")[0])  # "id/part": the request's error
        raise Failed(_plain(error or "it returned nothing the judge could read (an array was expected)"))

    def model(self, key):
        """Facts about the model the learner's function returned for ``key`` (see ``grader.verify.inspect``)."""
        facts = self.facts.get(key)
        if facts is None or facts.get("error"):
            raise Failed(_plain(self.errors.get(key) or (facts or {}).get("error") or "it returned no Keras model"))
        return facts

    def captured(self, name):
        """Arrays a hidden test kept in the kernel (``helpers.grading.keep_values``), read without pickle."""
        if name not in self.captures:
            raise Failed("the values this test needs were not kept: did the cells above it run without error?")
        return self.captures[name]


def _plain(error):
    """A runner error as the learner should read it."""
    if error.startswith("NotImplementedError"):
        return "not attempted yet: `raise NotImplementedError()` is still in the answer cell."
    return f"calling your code on the judge's inputs failed: {error}"


def _read_captures(folder):
    captures = {}
    for path in sorted(Path(folder).glob("*.npz")) if folder and Path(folder).is_dir() else []:
        if path.is_symlink() or path.stat().st_size > MAX_RESULTS_BYTES or path.with_suffix(".keras").exists():
            continue
        try:
            with np.load(path, allow_pickle=False) as stored:
                captures[path.stem] = {key: stored[key] for key in stored.files}
        except Exception:  # noqa: BLE001 - not a plain npz: nothing in it counts
            continue
    return captures


def run_in_sandbox(folder, limits, sandboxed, scratch_root=None, seconds=None):
    """Run ``grader.runner`` on ``folder``, as the sandbox user in namespaces of its own when ``sandboxed``.

    Sandboxed, the runner is a fork of this worker's runner zygote (``_run_forked``), which imported TensorFlow
    once; where no zygote can run, it is a process of its own under ``unshare``. Either way it runs in cgroups
    of its own (``sandbox.learner_cgroups``), emptied and removed when it returns. It is stopped after ``seconds``
    (default: ``JUDGE_MIN_SECONDS`` or the kernel's cell limit, whichever is longer)."""
    command = [sys.executable, "-m", "grader.runner", str(folder)]
    extra = {**limits.to_env(), "MPLBACKEND": "Agg", "HOME": str(folder), "KERAS_HOME": str(Path(folder) / ".keras")}
    if sandboxed:
        command = [*sandbox.NAMESPACES, *command]
        extra["GRADER_SANDBOX_USER"] = sandbox.SANDBOX_USER
    seconds = seconds or max(JUDGE_MIN_SECONDS, limits.cell_seconds)  # imports and every call: more than a cell
    if not sandboxed:
        return _run_process(command, folder, _runner_environment(extra), seconds)
    with sandbox.learner_cgroups(f"judge--{Path(folder).name}", limits) as groups:
        extra["GRADER_CGROUPS"] = os.pathsep.join(map(str, groups))
        env = _runner_environment(extra)
        if scratch_root is not None:
            try:
                return _run_forked(folder, scratch_root, env, seconds)
            except OSError:
                pass  # no zygote here: the runner imports TensorFlow itself
        return _run_process(command, folder, env, seconds)


def _run_process(command, folder, env, seconds):
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        _, log = process.communicate(timeout=seconds)
        return process.returncode, log[-2000:]
    except subprocess.TimeoutExpired:
        _kill_tree(process)
        return None, _stopped(seconds)


def _stopped(seconds):
    return f"the judge stopped your functions after {seconds} s: does one of them loop forever?"


def _runner_environment(extra):
    """The runner's environment: the kernel's variables, ``GRADER_*`` and ``extra``; no secret of the instructor's."""
    return {key: value for key, value in nbgrader_environment(extra).items()
            if key in sandbox.KERNEL_ENV or key.startswith("GRADER_") or key in extra}


def _runner_zygote(scratch_root):
    """The judge's runner zygote for ``scratch_root`` (``runner_zygote``, not started).

    It imports TensorFlow as root with the sandbox's Keras home (``sandbox.keras_home``: the data sets, read-only)
    and only forks (``grader.runner.run_forked``)."""
    home = str(sandbox.keras_home(scratch_root))
    environment = _runner_environment({"MPLBACKEND": "Agg", "HOME": home, "KERAS_HOME": home,
                                       "GRADER_SANDBOX_USER": sandbox.SANDBOX_USER})
    return Zygote("grader.runner", lambda: environment)


runner_zygote = ZygoteOfRoot(_runner_zygote)  # this worker's runner zygote, for every scratch root


def _run_forked(folder, scratch_root, env, seconds):
    """The runner as a fork of ``runner_zygote``: (exit status or ``None`` when stopped at ``seconds``, its log).

    Raises ``OSError`` when the zygote cannot run it here (no zygote, namespaces refused)."""
    returncode, log = runner_zygote(scratch_root).run({"folder": str(folder), "env": env}, seconds)
    if returncode is None:
        return None, _stopped(seconds)
    return returncode, (log[-2000:] or ("the judge's runner stopped with no result" if returncode == -1 else ""))


def _kill_tree(process):
    """Kill a process and every process under it, whatever user or session they moved to.

    The runner drops to the sandbox user, which clears the parent-death signal that ``unshare --kill-child``
    relies on; so its processes are found by parentage and killed first (the runner is the PID namespace's first
    process: when it dies, everything in the namespace dies with it).
    """
    import psutil

    try:
        below = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        below = []
    for child in below:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    process.kill()
    process.communicate()
    psutil.wait_procs(below, timeout=10)


def run_job(folder, cells, requests, inputs, scratch_root, limits, sandboxed, files=(), *, seconds=None, hide=()):
    """Write a runner's job into ``folder`` (its cells, requests, input arrays, or an ``.npz`` file of them written
    by the instructor's code, and ``files`` to copy in), hand it to the sandbox user, and run it
    (``run_in_sandbox``, stopped after ``seconds``); its results are then in ``folder/out``. ``hide``: folders the
    runner covers before the learner's code runs (``grader.runner._hide``); the data sets are then not linked into
    its Keras home either."""
    shutil.rmtree(folder, ignore_errors=True)
    if sandboxed:  # another learner's code, graded at the same time as the same user, cannot list its parent
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(folder.parent, 0o711)
    (folder / "out").mkdir(parents=True)
    (folder / "tmp").mkdir()
    (folder / "job.json").write_text(json.dumps({"cells": cells, "requests": requests, "hide": list(map(str, hide))}))
    if isinstance(inputs, (str, Path)):
        shutil.copyfile(inputs, folder / "inputs.npz")
    else:
        np.savez(folder / "inputs.npz", **inputs)
    for name, source in dict(files).items():
        shutil.copyfile(source, folder / name)
    datasets = Path(scratch_root) / "keras-datasets"
    if datasets.is_dir() and not hide:
        (folder / ".keras").mkdir()
        (folder / ".keras" / "datasets").symlink_to(datasets)
    if sandboxed:
        user = sandbox.sandbox_user()
        for item in [folder, *folder.rglob("*")]:
            os.lchown(item, user.pw_uid, user.pw_gid)
    os.chmod(folder, 0o700)
    return run_in_sandbox(folder, limits, sandboxed, scratch_root, seconds)


@dataclass
class Run:
    """What the runner did with one notebook's definitions (steps 1 to 3): ``decide`` turns it into verdicts."""
    rubric: object
    requests: list
    inputs: dict
    folder: Path    # the runner's scratch folder; its ``out`` holds what the learner's functions returned
    returncode: object  # ``None`` when the runner was stopped at its time limit
    log: str


def run_definitions(assignment, student, notebook_path, *, secret_seed, scratch_root, limits=Limits(),
                    sandboxed=True, keras_process=None):
    """Steps 1 to 3: run the notebook's definitions in the sandbox on the rubric's secret inputs; ``None`` when the
    exercise has no rubric.

    It reads only the rebuilt notebook, never what the kernel did, so ``grader.batch`` runs it while nbgrader
    autogrades: the runner's folder has a name the learner's kernel cannot guess (``sandbox.private_name``)."""
    from grader import rubrics

    rubric = rubrics.load(assignment)
    if rubric is None:
        return None
    notebook = nbformat.read(notebook_path, as_version=4)
    requests, inputs = rubric.requests(np.random.default_rng(secret_seed))
    folder = Path(scratch_root) / "judge" / sandbox.private_name(student, assignment)
    if keras_process is not None and any(r["kind"] == "save" for r in requests):
        keras_process.warm()  # it imports Keras while the sandbox runs
    returncode, log = run_job(folder, definitions(notebook), requests, inputs, scratch_root, limits, sandboxed)
    return Run(rubric, requests, inputs, folder, returncode, log)


def decide(run, captures=None, keras_process=None):
    """Step 4: the verdicts on what ``run`` handed back (and on ``captures``, what the kernel kept); its scratch folder
    is removed. Models are inspected in ``keras_process`` (a ``grader.verify.KerasProcess`` of this learner) when
    given, else in a fresh process of their own."""
    from grader.verify import inspect_models

    if run is None:
        return []
    folder, requests, inputs = run.folder, run.requests, run.inputs
    saved = {r["id"]: folder / "out" / f"{r['id']}.keras" for r in requests if r["kind"] == "save"}
    probes = {r["id"]: r["probe"] for r in requests if r.get("probe")}
    probes_file = folder.with_name(f"{folder.name}.probes.npz")  # the judge's own: the runner can rewrite inputs.npz
    np.savez(probes_file, **{name: inputs[name] for name in set(probes.values())})
    facts = inspect_models({key: path for key, path in saved.items()  # a plain file of a sane size, or nothing
                            if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_MODEL_BYTES},
                           behaviour={"results": str(folder / "out" / "results.npz"), "inputs": str(probes_file),
                                      "probes": probes}, keras_process=keras_process)
    probes_file.unlink()
    results = Results(folder, facts, _read_captures(captures))
    results.inputs = inputs
    if run.returncode is None:
        results.errors.setdefault("timeout", run.log)
    verdicts = []
    for grade_id, (answer_id, check) in run.rubric.CHECKS.items():
        try:
            if run.returncode is None:
                raise Failed(run.log)
            check(results)
            verdicts.append(Verdict(grade_id, answer_id, True))
        except Failed as failed:
            verdicts.append(Verdict(grade_id, answer_id, False, str(failed)))
        except Exception as error:  # noqa: BLE001 - a rubric that trips on odd output: the cell fails, saying why
            verdicts.append(Verdict(grade_id, answer_id, False,
                                    f"the judge could not read your answer ({type(error).__name__}: {error})"))
    discard(run)
    return verdicts


def discard(run):
    """Remove a run's scratch folder (a run whose notebook was not graded after all)."""
    if run is not None:
        shutil.rmtree(run.folder, ignore_errors=True)


def judge_submission(assignment, student, notebook_path, *, secret_seed, scratch_root, captures=None,
                     limits=Limits(), sandboxed=True, keras_process=None):
    """Verdicts on every graded cell the exercise's rubric decides; an empty list when it has no rubric.

    Models are inspected in ``keras_process`` (a ``grader.verify.KerasProcess`` of this learner) when given, else
    in a fresh process of their own."""
    run = run_definitions(assignment, student, notebook_path, secret_seed=secret_seed, scratch_root=scratch_root,
                          limits=limits, sandboxed=sandboxed, keras_process=keras_process)
    return decide(run, captures, keras_process)
