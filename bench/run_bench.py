"""Print how long the course takes on this machine: chapters, autograding, and target margins.

    make bench            (or: .venv/bin/python bench/run_bench.py [--skip-targets] [--only fashion,diagnose,...])

Parts: fashion, diagnose, book (the six chapters against the notebook the course grew out of: both times and
the ratio), chapters (each chapter alone), autograde, judge (seconds the judge adds per submission), grading (a
mixed batch of 12 correct, wrong and adversarial submissions through grader.batch with 1 and 2 workers: submissions
per minute and the median seconds per submission; needs the sandbox, as root), targets.

Figures are wall-clock seconds on whatever machine runs this; the course's budgets are stated
for a 2-core CPU: each chapter executes in at most 2 minutes, each assignment autogrades in at
most 3 minutes through nbgrader; the reference Fashion-MNIST model aims at 88.5 % test
accuracy within 15 s of training.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from tools import nbgrader_course as course  # noqa: E402
from tools.targets import TARGETS, reference_namespace, run_targets  # noqa: E402


def executed_chapters():
    """Execute each chapter of the book in a fresh kernel; yield (path, seconds) as each one finishes."""
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        yield path, time.perf_counter() - start


def time_chapters():
    for path, seconds in executed_chapters():
        print(f"chapter   {path.stem:28s} executes in {seconds:6.1f} s", flush=True)


BASELINE = ROOT.parent / "shared" / "bench" / "mrdbourke_02_baseline.py"


def time_book_against_baseline():
    """The six chapters against the notebook the course grew out of ("02. Neural Network Classification with
    TensorFlow", its models ported to Keras 3 in ``../shared/bench/mrdbourke_02_baseline.py``), in one run on this
    machine: both times and the ratio (goal: at most 0.5)."""
    import json
    import subprocess

    if not BASELINE.exists():
        print(f"book      the baseline script is not at {BASELINE}: cannot compare", flush=True)
        return
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(BASELINE)], capture_output=True, text=True, cwd=BASELINE.parent,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    baseline = time.perf_counter() - start
    if result.returncode != 0:
        print(f"book      the baseline failed:\n{result.stderr[-2000:]}", flush=True)
        return
    sections = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"book      baseline notebook: {baseline:6.1f} s in all; its sections: {sections}", flush=True)
    chapters = 0.0
    for path, seconds in executed_chapters():
        chapters += seconds
        print(f"book      {path.stem:28s} {seconds:6.1f} s", flush=True)
    print(f"book      six chapters {chapters:6.1f} s, baseline {baseline:6.1f} s: ratio {chapters / baseline:.2f} "
          "(goal: at most 0.5)", flush=True)


def time_autograde():
    with tempfile.TemporaryDirectory() as scratch:
        for assignment in course.assignments():
            course.make_course(Path(scratch) / assignment, [assignment])
            folder = Path(scratch) / assignment
            for name in course.notebook_names(assignment):
                released = course.released_notebook(folder, assignment, name)
                answers = course.solution_answers(assignment, name)
                course.submit(folder, "bench", assignment, name, course.fill_answers(released, answers))
            start = time.perf_counter()
            course.autograde(folder, assignment, student="bench")
            seconds = time.perf_counter() - start
            got = course.scores(folder, assignment)["bench"]
            total = sum(sum(cells.values()) for cells in got.values())
            print(f"autograde {assignment:28s} one submission in {seconds:6.1f} s (scored {total:g} points)", flush=True)


def time_fashion_reference():
    """The reference Fashion-MNIST model of exercise 5: training seconds and test accuracy (aim: 88.5 % in 15 s)."""
    from helpers.grading import accuracy

    namespace = reference_namespace("ch05_multiclass", "ch05_multiclass.ipynb")
    namespace["keras"].utils.set_random_seed(0)
    start = time.perf_counter()
    model = namespace["fit_fashion"](namespace["x_train"], namespace["y_train"])
    seconds = time.perf_counter() - start
    score = accuracy(model, namespace["x_test"], namespace["y_test"])
    print(f"fashion   reference model trains in {seconds:6.1f} s, test accuracy {score:.4f} "
          f"(aim: at least 0.885 in at most 15 s)", flush=True)


def time_diagnose():
    """How long helpers.diagnose takes on 1,000 points: a healthy model, and a linear one (its slowest path)."""
    from helpers.data import circles
    from helpers.diagnose import diagnose
    from helpers.repro import import_keras_quietly

    keras = import_keras_quietly()
    X, y = circles(1000, noise=0.03, seed=0)
    for name, activation in (("ReLU network", "relu"), ("linear stack", None)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(16, activation=activation),
                                  keras.layers.Dense(16, activation=activation), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
        history = model.fit(X, y, epochs=20, verbose=0)
        diagnose(model, X, y, history)  # warm up predict
        start = time.perf_counter()
        found = diagnose(model, X, y, history)
        print(f"diagnose  {name:28s} 1,000 points in {time.perf_counter() - start:6.2f} s "
              f"({len(found)} finding(s): {', '.join(found.checks) or 'none'})", flush=True)


BATCH = ["00_reference", "00_too_little_training", "04_os_exit", "05_memory_bomb", "07_deleted_hidden_test",
         "11_overridden_predict", "14_hardcoded_predictions", "16_grader_only_branch", "17_none_for_a_model",
         "19_not_json", "21_network_access", "22_stderr_warning"]


def time_batch_grading():
    """Submissions per minute through grader.batch (sandbox, verifier), with 1 and 2 Dask workers."""
    sys.path.insert(0, str(ROOT / "tests"))
    import grading_fixtures as fx
    from grader.batch import grade_batch
    from grader.limits import Limits

    answers = course.solution_answers(fx.ASSIGNMENT, fx.NOTEBOOK)
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as scratch:
            scratch_course = course.make_course(Path(scratch) / "course", [fx.ASSIGNMENT])
            released = course.released_notebook(scratch_course, fx.ASSIGNMENT, fx.NOTEBOOK)
            fx.build_inbox(Path(scratch) / "inbox", released, answers, BATCH)
            start = time.perf_counter()
            results = grade_batch(scratch_course, fx.ASSIGNMENT, Path(scratch) / "inbox", workers=workers,
                                  limits=Limits(cell_seconds=60), progress=None)
            seconds = time.perf_counter() - start
            statuses = sorted({r["status"] for r in results})
            median = statistics.median(r["seconds"] for r in results)
            print(f"grading   {len(results)} mixed submissions of exercise 1 with {workers} worker(s): "
                  f"{seconds:6.1f} s, {len(results) / seconds * 60:.1f} per minute (goal with 2 workers: 12); median "
                  f"{median:.1f} s per submission, autograde, judge and verifier (goal: 8 s); statuses: "
                  f"{', '.join(statuses)}", flush=True)


def time_judge():
    """Seconds the judge adds to one submission of each exercise (its goal: at most 3 s), on the reference.

    Two figures: the judge alone (``judge_submission``, as if nothing else ran), and what judge and verifier together
    add to grading one learner with 1 worker: ``grader.batch.grade_and_verify`` (autograde, judge and verifier, the
    judge's runner running during autograde) against ``grade_submission`` (autograde alone) on the same submission;
    one run each, so a second or two either way is the machine's noise. The
    rubrics are imported first, and the worker's zygotes started (their time is printed: once per worker), as a
    batch's worker has them after its first learner (exercise 3's rubric imports Keras, for the course's sweep
    checks): the judge's two, then nbgrader's and the kernel's, by grading one learner of exercise 1 first."""
    import shutil

    from grader import rubrics, sandbox
    from grader.batch import default_db_url, ensure_assignment, grade_and_verify
    from grader.judge import judge_submission, run_job, runner_zygote
    from grader.limits import Limits
    from grader.run import grade_submission, grader_folder
    from grader.verify import KERAS_ZYGOTE, KerasProcess

    if sandbox.problems():
        print(f"judge     skipped: {'; '.join(sandbox.problems())}", flush=True)
        return
    scratch = Path(tempfile.mkdtemp(prefix="course-bench-judge-"))
    limits = Limits(cell_seconds=300, notebook_seconds=900, memory_bytes=3 * 2**30)

    def grade(folder, assignment, answered, verified=False):
        """Autograde (with judge and verifier when ``verified``) one learner's ``answered`` notebook in the course
        at ``folder`` (made on first use), as a batch's worker does."""
        inbox = folder / "inbox" / "bench" / assignment
        if not inbox.is_dir():
            course.make_course(folder / "course", [assignment])
            inbox.mkdir(parents=True)
            nbformat.write(answered, inbox / f"{assignment}.ipynb")
            ensure_assignment(folder / "course", assignment, default_db_url(folder / "course"))
            grader_folder(folder / "course")
            sandbox.protect(folder / "course")
        db_url = default_db_url(folder / "course")
        if verified:
            return grade_and_verify(folder / "course", assignment, "bench", folder / "inbox", db_url, limits,
                                    scratch / "sandbox", True)
        return grade_submission(folder / "course", assignment, "bench", folder / "inbox", db_url=db_url,
                                limits=limits, scratch_root=scratch / "sandbox")

    try:
        sandbox.prepare(scratch / "sandbox")
        os.chmod(scratch, 0o711)  # the sandbox user goes through it to its scratch root
        for assignment in course.assignments():
            rubrics.load(assignment)
        start = time.perf_counter()
        KERAS_ZYGOTE.start_soon()
        runner_zygote(scratch / "sandbox").start_soon()
        returncode, _ = run_job(scratch / "sandbox" / "judge" / "warm-up", [], [], {}, scratch / "sandbox", limits,
                                  sandboxed=True)
        with KerasProcess() as keras_process:
            keras_process.ask({"inspect": {}, "behaviour": None}, timeout=120)
        print(f"judge     the worker's two zygotes (runner, Keras) answer {time.perf_counter() - start:4.1f} s after "
              f"they start (once per worker; each learner's processes are then forks of them; warm-up run exit "
              f"{returncode})", flush=True)
        for assignment in course.assignments():
            name = f"{assignment}.ipynb"
            released = nbformat.read(ROOT / "exercises" / assignment / name, as_version=4)
            answered = course.fill_answers(released, course.solution_answers(assignment, name))
            nbformat.write(answered, scratch / name)
            if assignment == course.assignments()[0]:  # the zygotes of nbgrader and of the kernel, once
                warm = grade(scratch / "warm-up", assignment, answered)
                print(f"judge     nbgrader's and the kernel's zygotes start with the first learner: {warm['seconds']:4.1f} s "
                      f"to autograde it (once per worker)", flush=True)
            start = time.perf_counter()
            with KerasProcess() as keras_process:
                verdicts = judge_submission(assignment, "bench", scratch / name, secret_seed=1,
                                            scratch_root=scratch / "sandbox", keras_process=keras_process)
            alone = time.perf_counter() - start
            autograde = grade(scratch / assignment, assignment, answered)
            whole = grade(scratch / assignment, assignment, answered, verified=True)
            print(f"judge     {assignment:28s} {len(verdicts)} cells decided in {alone:4.1f} s alone (goal: 3 s); "
                  f"grading one learner: {whole['seconds']:4.1f} s against {autograde['seconds']:4.1f} s of autograde "
                  f"alone, so judge and verifier add {whole['seconds'] - autograde['seconds']:+4.1f} s "
                  f"({whole['score']:g} of {whole['max_score']:g} points)", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-targets", action="store_true", help="skip the 20-seed target runs")
    parser.add_argument("--only", default="fashion,diagnose,book,autograde,judge,grading,targets",
                        help="comma-separated parts to run (default: all)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}", flush=True)
    if "fashion" in parts:
        time_fashion_reference()
    if "diagnose" in parts:
        time_diagnose()
    if "chapters" in parts:
        time_chapters()
    if "book" in parts:
        time_book_against_baseline()
    if "autograde" in parts:
        time_autograde()
    if "judge" in parts:
        time_judge()
    if "grading" in parts:
        time_batch_grading()
    if "targets" in parts and not args.skip_targets:
        short = []
        for assignment in sorted(TARGETS):
            for run in run_targets(assignment):
                print("target    " + run.summary(), flush=True)
                if run.reached < len(run.scores):
                    short.append(f"{run.assignment} · {run.name}")
        print("target    " + (f"NOT reached on every seed: {', '.join(short)}" if short
                              else "every target reached on 20 of 20 seeds"), flush=True)
        if short:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
