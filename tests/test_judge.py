"""The judge (``grader.judge``, ``grader.rubrics``): every graded cell decided outside the learner's kernel.

- Every graded cell of every exercise is decided outside the kernel, by the judge or by ``grader.verify``.
- ``definitions`` keeps the learner's imports, functions, classes and constants, and nothing that runs.
- On every exercise the judge passes the reference solution, fails the untouched notebook and gives honest but
  unusual answers full marks, running the learner's code in the real sandbox on inputs drawn from a secret. Each
  adversarial case (``tests/judge_cases.py``) is graded whole by ``tests/test_judge_batch.py``, which checks that it
  loses exactly its cells; the one a batch leaves out (a function that never returns) is judged here.
"""

import shutil
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import rubrics, sandbox
from grader.judge import definitions, judge_submission
from grader.limits import Limits
from grader.verify import CHECKS as MODEL_CHECKS
from judge_cases import ADVERSARIAL, CASES, SLOW_IN_A_KERNEL, SWEEP_CASES, decided
from tools import nbgrader_course as course

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = course.assignments()
LIMITS = Limits(cell_seconds=30, memory_bytes=3 * 2**30)


def test_every_graded_cell_is_decided_outside_the_kernel():
    for assignment in ASSIGNMENTS:
        notebook = f"{assignment}.ipynb"
        by_judge = set(rubrics.load(assignment).CHECKS)
        by_verifier = {check.grade_id for check in MODEL_CHECKS[assignment][assignment]}
        assert not by_judge & by_verifier, assignment
        assert by_judge | by_verifier == set(course.max_scores(assignment, notebook)), assignment
        answers = set(course.solution_answers(assignment, notebook))
        assert {answer for answer, _ in rubrics.load(assignment).CHECKS.values()} <= answers, assignment


def test_definitions_keep_what_defines_and_leave_what_runs():
    cell = nbformat.v4.new_code_cell(
        "import numpy as np\nfrom os import path\nK = 3\nalias = np.maximum\nf = lambda x: np.exp(x)\n"
        "np.allclose = lambda *a: True\nweights = np.zeros(3)\nprint('hi')\nwhile True:\n    pass\n"
        "%matplotlib inline\nclass C:\n    pass\ndef g(x):\n    return x\n",
        metadata={"nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": "a"}})
    locked = nbformat.v4.new_code_cell("data = np.ones(2)\nprint(data)",
                                       metadata={"nbgrader": {"locked": True, "grade": False, "solution": False}})
    test = nbformat.v4.new_code_cell("assert False", metadata={"nbgrader": {"grade": True, "locked": True}})
    kept = definitions(nbformat.v4.new_notebook(cells=[locked, cell, test]))
    assert kept == ["data = np.ones(2)\nprint(data)\n", "import numpy as np", "from os import path", "K = 3",
                    "alias = np.maximum", "f = lambda x: np.exp(x)", "class C:\n    pass", "def g(x):\n    return x"]


@pytest.fixture(scope="module")
def scratch():
    assert not sandbox.problems(), "; ".join(sandbox.problems())
    folder = Path(tempfile.mkdtemp(prefix="course-judge-"))
    sandbox.prepare(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def sweep(kind):
    """Values a hidden test keeps from exercise 3's sweep: a curve falling steeply around 3e-3."""
    rates = np.geomspace(1e-5, 10.0, 200)
    losses = 2.3 - 2.0 / (1 + np.exp(-3 * (np.log10(rates) + 2.5)))
    losses = np.where(rates > 0.3, losses + 30 * (rates - 0.3), losses)
    chosen = {"steep": 3e-3, "bottom": float(rates[np.argmin(losses)]), "short": 3e-3}.get(kind)
    values = {"rates": rates[:10] if kind == "short" else rates, "losses": losses[:10] if kind == "short" else losses}
    if chosen is not None:
        values["chosen_rate"] = np.asarray(chosen)
    return values


def judge(scratch, assignment, answers, *, sweep_kind="steep", name="case"):
    """The judge's verdicts ``{grade_id: Verdict}`` on the release filled with ``answers``."""
    notebook = f"{assignment}.ipynb"
    released = nbformat.read(ROOT / "exercises" / assignment / notebook, as_version=4)
    folder = scratch / "cases" / name
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "captures").mkdir(parents=True)
    nbformat.write(course.fill_answers(released, answers), folder / notebook)
    if sweep_kind:  # what the reference's hidden tests keep; the untouched notebook keeps nothing
        np.savez(folder / "captures" / "decisive.npz", DECISIVE_FEATURE=np.asarray(2))
        np.savez(folder / "captures" / "sweep.npz", **sweep(sweep_kind))
    verdicts = judge_submission(assignment, name, folder / notebook, secret_seed=20261127, scratch_root=scratch,
                                captures=folder / "captures", limits=LIMITS, sandboxed=True)
    return {verdict.grade_id: verdict for verdict in verdicts}


def failing(verdicts):
    return sorted(grade_id for grade_id, verdict in verdicts.items() if not verdict.passed)


# The adversarial cases are graded whole, judge included, by tests/test_judge_batch.py on SQLite and on PostgreSQL:
# there each must score 0 on exactly the cells the judge fails (the judge's verdict is the gradebook's score), so
# judging them here again only repeated that. Judged here: the honest unusual answers, and what a batch leaves out.
JUDGED_HERE = {assignment: {case: spec for case, spec in CASES[assignment].items()
                            if case not in ADVERSARIAL[assignment] or case in SLOW_IN_A_KERNEL}
               for assignment in ASSIGNMENTS}


def _jobs():
    """Every submission this file judges: name -> (assignment, answers, kind of kept sweep)."""
    jobs = {}
    for assignment in ASSIGNMENTS:
        answers = course.solution_answers(assignment, f"{assignment}.ipynb")
        jobs[f"{assignment}/reference"] = (assignment, answers, "steep")
        jobs[f"{assignment}/untouched"] = (assignment, {}, None)
        for case, (changes, _) in JUDGED_HERE[assignment].items():
            jobs[f"{assignment}/{case}"] = (assignment, {**answers, **changes}, "steep")
    answers = course.solution_answers("ch03_learning_rate", "ch03_learning_rate.ipynb")
    for case, (kind, _, _) in SWEEP_CASES.items():
        jobs[f"sweep/{case}"] = ("ch03_learning_rate", answers, kind)
    return jobs


@pytest.fixture(scope="module")
def judged(scratch):
    """All verdicts, judged two at a time (each judge call is its own sandboxed processes; 2 cores)."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = _jobs()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(judge, scratch, assignment, answers, sweep_kind=kind,
                                     name=name.replace("/", "--"))
                   for name, (assignment, answers, kind) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_reference_passes_and_the_untouched_notebook_fails(judged, assignment):
    reference = judged[f"{assignment}/reference"]
    assert failing(reference) == [], {k: v.message for k, v in reference.items() if not v.passed}
    untouched = judged[f"{assignment}/untouched"]
    assert failing(untouched) == decided(assignment)
    assert any("not attempted yet" in verdict.message for verdict in untouched.values())


@pytest.mark.slow
@pytest.mark.parametrize("assignment, case", [(a, c) for a in ASSIGNMENTS for c in JUDGED_HERE[a]])
def test_each_case_fails_exactly_its_cells(judged, assignment, case):
    _, expected = CASES[assignment][case]
    verdicts = judged[f"{assignment}/{case}"]
    assert failing(verdicts) == sorted(expected), {k: v.message for k, v in verdicts.items() if not v.passed}
    for grade_id in expected:
        assert verdicts[grade_id].message, grade_id  # the learner reads why


@pytest.mark.slow
@pytest.mark.parametrize("case", SWEEP_CASES)
def test_the_sweep_and_the_choice_are_judged_on_the_kept_values(judged, case):
    _, passing, expected = SWEEP_CASES[case]
    verdicts = judged[f"sweep/{case}"]
    sweep_cells = ["test_sweep_is_a_sweep_of_the_digits", "test_chosen_rate_is_on_the_steep_part"]
    assert [g for g in failing(verdicts) if g in sweep_cells] == sorted(expected)
    assert all(verdicts[g].passed for g in passing)


@pytest.mark.slow
def test_a_function_that_never_returns_is_stopped_and_leaves_no_process(judged, scratch):
    """The judge's runner drops to the sandbox user; when its time is up, it and all it started are killed."""
    import grading_fixtures as fx

    verdicts = judged["ch04_normalization/sleeps_forever"]
    assert all("stopped your functions after" in verdict.message for verdict in verdicts.values())
    assert [p for p in fx.leftover_processes() if str(scratch) in " ".join(p["cmdline"] or [])] == []


def test_there_are_enough_adversarial_cases():
    from judge_cases import ADVERSARIAL

    counts = {assignment: len(cases) for assignment, cases in ADVERSARIAL.items()}
    assert all(counts[a] >= 8 for a in ASSIGNMENTS if a != "ch01_single_neuron"), counts


def test_the_judges_inputs_depend_on_the_secret():
    for assignment in ASSIGNMENTS:
        _, first = rubrics.load(assignment).requests(np.random.default_rng(1))
        _, again = rubrics.load(assignment).requests(np.random.default_rng(1))
        _, other = rubrics.load(assignment).requests(np.random.default_rng(2))
        assert all(np.array_equal(first[k], again[k]) for k in first)
        assert any(not np.array_equal(first[k], other.get(k)) for k in first), assignment


def _forward(weights, activations, x):
    from grader.verify import ACTIVATIONS

    for (kernel, bias), name in zip(zip(weights[::2], weights[1::2]), activations):
        x = ACTIVATIONS[name](x @ kernel + bias)
    return x


def test_a_model_of_the_learners_own_class_is_read_from_what_it_computes():
    """``dense_chain``: the judge's reading of a subclassed model from its weights and its outputs on probe inputs."""
    from grader.verify import dense_chain

    rng = np.random.default_rng(0)
    probe = rng.normal(0, 3, (64, 2))
    widths, activations = [2, 32, 16, 8, 1], ["relu", "tanh", "relu", "sigmoid"]
    weights = [array for a, b in zip(widths, widths[1:]) for array in (rng.normal(0, 1, (a, b)), rng.normal(0, 1, b))]
    outputs = _forward(weights, activations, probe)
    assert dense_chain(weights, probe, outputs) == list(zip(widths[1:], activations))
    shuffled = weights[6:] + weights[:6]  # layers defined in another order than call uses them
    assert dense_chain(shuffled, probe, outputs) == list(zip(widths[1:], activations))
    with pytest.raises(ValueError, match="not those of its Dense layers"):
        dense_chain(weights, probe, np.full_like(outputs, 0.5))  # a call that ignores its layers
    with pytest.raises(ValueError, match="not kernels and biases"):
        dense_chain(weights + [np.ones(1), np.ones(1)], probe, outputs)  # e.g. a normalisation's statistics
    with pytest.raises(ValueError, match="takes 2 inputs"):
        dense_chain(weights[2:], probe, outputs)


def test_the_runner_loads_keras_only_when_something_uses_it(tmp_path):
    """``grader.runner.defer_keras``: the setup cell's ``import keras`` and ``setup()``, and a learner's second
    ``import keras``, leave TensorFlow unloaded, so exercise 4's NumPy rubric never pays for it; the first use
    loads it, and Keras then works as usual (a model argument, ``keras.ops`` on the learner's side)."""
    from grader.judge import run_job
    from grader.rubrics import call

    released = nbformat.read(ROOT / "exercises" / "ch04_normalization" / "ch04_normalization.ipynb", as_version=4)
    cells = definitions(course.fill_answers(released, course.solution_answers("ch04_normalization",
                                                                             "ch04_normalization.ipynb")))
    cells += ["import keras\nimport tensorflow as tf\nfrom helpers.repro import setup\n"
              "def loaded():\n    import sys\n    return 'tensorflow.python' in sys.modules\n"
              "def predict(model, x):\n    return keras.ops.argmax(model(x), axis=-1)\n"]
    rng = np.random.default_rng(0)
    inputs = {"train": rng.normal(5, 2, (40, 8)), "test": rng.normal(5, 2, (10, 8)),
              "clf/w": rng.normal(size=(8, 3)).astype("float32"), "clf/b": np.zeros(3, "float32")}
    requests = [call("before", "loaded"), call("seeded", "setup", {"value": 3}),
                call("scaled", "scale_splits", {"array": "train"}, {"array": "test"}, parts=True),
                call("still", "loaded"), call("classes", "predict", {"model": "clf"}, {"array": "test"}),
                call("after", "loaded")]
    returncode, log = run_job(tmp_path / "job", cells, requests, inputs, tmp_path, LIMITS, sandboxed=False)
    assert returncode == 0, log
    with np.load(tmp_path / "job" / "out" / "results.npz") as results:
        got = {key: results[key] for key in results.files}
    assert not got["before"] and not got["still"] and got["after"]
    assert np.allclose(got["scaled/0"].mean(axis=0), 0, atol=1e-6) and got["scaled/1"].shape == (10, 8)
    expected = np.argmax(inputs["test"] @ inputs["clf/w"], axis=1)
    assert np.array_equal(got["classes"], expected)


PROBE = '''
import os, socket, sys
def probe(zygote):
    try:
        os.kill(int(zygote), 9)
        reached = 1
    except ProcessLookupError:
        reached = 0
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=2).close()
        network = 1
    except OSError as error:
        network = 0 if error.errno in (101, 99, 111) or "unreachable" in str(error) else 2
    interfaces = [name for _, name in socket.if_nameindex()]  # of its own network namespace
    processes = sum(name.isdigit() for name in os.listdir("/proc"))
    return [os.getuid(), os.getpid(), reached, network, interfaces == ["lo"], processes,
            len(os.listdir("/proc/self/fd")) - 1, int("NBGRADER_SECRET_PROBE" in os.environ),  # - listdir's own
            int("tensorflow.python" in sys.modules),  # imported by the zygote, before any learner's code
            int("/course-grader/judge--" in open("/proc/self/cgroup").read()),  # a pids cgroup of its own
            int(os.getsid(0) == os.getpid())]  # a session of its own: kill(0, ...) reaches no other learner's runner
'''


@pytest.mark.slow
def test_the_forked_runner_is_as_sandboxed_as_a_runner_of_its_own(scratch, monkeypatch):
    """The judge's runner is a fork of the worker's runner zygote (``grader.runner.run_forked``): it runs as the
    sandbox user, as the first process of a PID namespace of its own (no other process to see or signal: not the
    zygote, not another learner's kernel), in a session of its own (not the zygote's, which every runner shares) and
    in a pids cgroup of its own, with no network, with only its standard streams open and none of the instructor's
    environment; a second runner is as fresh as the first."""
    import pwd

    from grader.judge import run_job, runner_zygote
    from grader.rubrics import call

    monkeypatch.setenv("NBGRADER_SECRET_PROBE", "instructor-only")
    zygote = runner_zygote(scratch)
    zygote.start_soon()
    got = []
    for attempt in range(2):
        folder = scratch / "judge" / sandbox.private_name("probe", attempt)
        zygote_pid = zygote.process.pid
        returncode, log = run_job(folder, [PROBE], [call("facts", "probe", {"value": zygote_pid})], {}, scratch,
                                  LIMITS, sandboxed=True)
        assert returncode == 0, log
        with np.load(folder / "out" / "results.npz") as results:
            got.append(results["facts"].tolist())
        assert zygote.running()  # it survived the learner's kill
    uid = pwd.getpwnam(sandbox.SANDBOX_USER).pw_uid
    for facts in got:
        assert facts == [uid, 1, 0, 0, 1, facts[5], 3, 0, 1, 1, 1], facts
        assert facts[5] <= 2  # itself, and at most a helper of its own


HOME_PROBE = '''
import os
def home(_):
    from keras.src.backend import config  # imported by the zygote, with the Keras home it had then
    datasets = os.path.join(config.keras_home(), "datasets")
    return f"{config.keras_home()}|{','.join(sorted(os.listdir(datasets)))}"
'''


@pytest.mark.slow
def test_one_runner_zygote_serves_the_next_scratch_root_after_the_first_is_gone():
    """A worker keeps its runner zygote from batch to batch (``grader.zygote.ZygoteOfRoot``): the zygote imported
    Keras with the first scratch root's Keras home, yet a runner forked for the next batch, once the first batch's
    scratch root is removed, uses its own job's Keras home and finds that batch's data sets there; nothing is made
    again in the removed root."""
    from grader.judge import run_job, runner_zygote
    from grader.rubrics import call

    roots, seen, zygotes = [], [], []
    try:
        for attempt in range(2):
            root = Path(tempfile.mkdtemp(prefix="course-grader-"))
            roots.append(root)
            sandbox.prepare(root)
            zygote = runner_zygote(root)
            zygote.start_soon()
            zygotes.append((zygote, zygote.process.pid))
            folder = root / "judge" / sandbox.private_name("home", attempt)
            returncode, log = run_job(folder, [HOME_PROBE], [call("home", "home", {"value": 0})], {}, root, LIMITS,
                                      sandboxed=True)
            assert returncode == 0, log
            with np.load(folder / "out" / "results.npz") as results:
                seen.append(str(results["home"]))
            if attempt == 0:
                shutil.rmtree(root)
    finally:
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
    assert zygotes[0] == zygotes[1], "the second batch started a new runner zygote"
    for root, (home, datasets) in zip(roots, (text.split("|") for text in seen)):
        assert home.startswith(f"{root.resolve()}/judge/") and home.endswith("/.keras"), home
        assert datasets, f"no data sets in the runner's Keras home {home}"
    assert not roots[0].exists(), "something was made again in the first batch's removed scratch root"


RETRAIN_PROBE = '''
import os
import time
def fit_fashion(images, labels):
    seen = {folder: sorted(os.listdir(folder)) if os.path.isdir(folder) else None for folder in FOLDERS}
    time.sleep(WAIT)
    raise RuntimeError(f"saw {seen}; {len(images)} images; classes {sorted(set(labels.tolist()))}")
'''


@pytest.mark.slow
def test_the_judge_trains_fit_fashion_again_out_of_reach_of_the_data_and_times_it(scratch, tmp_path):
    """Exercise 5's model is trained again by the judge (``grader.verify.Retrain``): the learner's ``fit_fashion``
    runs in the sandbox on 50,000 training images, with every copy of the data sets the grader knows of covered
    (empty), and it is stopped at its time budget, measured outside the learner's code."""
    import dataclasses
    import os
    import time

    from grader.run import INTAKE
    from grader.verify import data_set_copies, retrain

    check = next(c for c in MODEL_CHECKS["ch05_multiclass"]["ch05_multiclass"] if c.retrained)
    copies = data_set_copies(scratch)
    assert copies and all(os.listdir(folder) for folder in copies)  # what the runner must not see
    folder = tmp_path / "course" / INTAKE / "probe" / "ch05_multiclass"
    folder.mkdir(parents=True)
    got = {}
    for wait, budget in ((0, 90), (60, 2)):
        code = f"FOLDERS = {[str(path) for path in copies]!r}\nWAIT = {wait}\n" + RETRAIN_PROBE
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]),
                       folder / "ch05_multiclass.ipynb")
        timed = dataclasses.replace(check, retrained=dataclasses.replace(check.retrained, budget=budget, allowance=8))
        start = time.monotonic()
        got[budget] = retrain(tmp_path / "course", "ch05_multiclass", "probe", "ch05_multiclass", timed, 1234,
                              scratch_root=scratch, limits=LIMITS, sandboxed=True, into=tmp_path / "kept")
        got[budget] += (time.monotonic() - start,)
    model, why, _ = got[90]
    assert model is None
    for path in copies:
        assert f"'{path}': []" in why, why
    assert "50000 images; classes [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in why, why
    model, why, seconds = got[2]
    assert model is None and "more than its 2 s budget" in why, why
    assert seconds < 50  # stopped at 2 + 8 s (and the data drawn), not after the learner's 60 s
