"""Grade a folder of submissions with parallel workers on Dask's distributed scheduler.

``grade_batch(course, assignment, inbox, workers=W)`` grades every learner folder in ``inbox``
(``<inbox>/<student>/<assignment>/<notebook>.ipynb``, the layout ``nbgrader collect`` makes) with
``grader.run.grade_submission`` and ``grader.verify.verify_student``, W at a time, and prints a progress bar.

- **Workers** are Dask workers: a ``LocalCluster`` of W single-threaded processes by default, or any running
  Dask scheduler (``scheduler="tcp://host:8786"``) whose workers see the same course folder and Python
  environment; the code is the same.
- **Gradebook**: nbgrader's ``db_url``. SQLite (the default, ``<course>/gradebook.db``) takes a few workers on one
  machine; PostgreSQL takes many, on many machines.
- **Stop and rerun**: each learner has one ``grading_status`` row (``grader.status``). A rerun skips a learner
  whose result stands: status ``graded``, ``missing``, ``invalid``, ``too large`` or ``timed out`` *and* the same
  submission as then (``fingerprint``); it grades everyone else: new learners, unfinished rows, ``error`` rows and
  anyone whose notebook changed (a ``missing`` learner who has now submitted). ``regrade=True`` grades everyone.
  Every skipped learner is in the results, with why. Grading a learner replaces their submission, so nobody ever
  has two, and nothing of the others changes.
- **The inbox is only read** (``grader.run.check_inbox``), so ``submitted/`` itself can be the inbox.
- **Feedback follows the gradebook**: grading a learner deletes their old feedback, and the batch ends with
  ``nbgrader generate_feedback``, which writes it again for every graded learner who has none.
"""

import hashlib
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader import sandbox
from grader.limits import Limits
from grader.run import captures_folder, check_inbox, grade_submission, grader_folder, nbgrader_environment
from grader.status import SETTLED, StatusBook
from grader.verify import KERAS_ZYGOTE, KerasProcess, verify_student


def default_db_url(course):
    return f"sqlite:///{Path(course).resolve() / 'gradebook.db'}"


def ensure_assignment(course, assignment, db_url):
    """Make sure the gradebook at ``db_url`` knows the assignment (``nbgrader generate_assignment`` if not)."""
    import subprocess

    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
            return
        except MissingEntry:
            pass
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force", f"--db={db_url}"],
                   cwd=course, env=nbgrader_environment(), check=True, capture_output=True)


def fingerprint(inbox, student, assignment):
    """SHA-256 of a learner's submitted files (names and contents): it changes when they submit again."""
    folder = Path(inbox) / student / assignment
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []:
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with open(path, "rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()


def total_score(db_url, assignment, student):
    """``(score, max_score)`` of a learner's submission in the gradebook, or ``(None, None)``."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return None, None
        return submission.score, submission.max_score


def verify_line(rows):
    """What the verifier did for one learner, in a few words."""
    parts, agree, nothing = [], 0, 0
    for row in rows:
        if row.get("flagged"):
            parts.append(f"{row['grade_id']} flagged for review: {row['flagged']}")
        if row["corrected"] and row["verified_accuracy"] is None and row.get("retrained"):
            parts.append(f"{row['grade_id']} set to 0: passed in the kernel, but trained again outside it, "
                         f"{row['why']}")
        elif row["corrected"] and row["verified_accuracy"] is None:
            parts.append(f"{row['grade_id']} set to 0: passed in the kernel, but its model could not be checked "
                         f"outside it ({row['why']})")
        elif row["corrected"] and row.get("training"):
            parts.append(f"{row['grade_id']} set to 0 ({row['training']})")
        elif row["corrected"]:
            parts.append(f"{row['grade_id']} set to 0 (accuracy {row['verified_accuracy']:.3f}, target {row['target']})")
        elif row["disagrees"]:
            parts.append(f"{row['grade_id']} failed in the kernel but scored {row['verified_accuracy']:.3f} here; "
                         "left at its kernel score")
        elif row["verified_accuracy"] is None:
            nothing += 1
        else:
            agree += 1
    if agree:
        parts.append(f"{agree} model(s) verified, in agreement with the kernel")
    if nothing:
        parts.append(f"{nothing} test(s) failed in the kernel with no model to verify")
    return "; ".join(parts) or "no model to verify"


def grade_and_verify(course, assignment, student, inbox, db_url, limits, scratch_root, sandboxed):
    """One learner, start to end; this is what a Dask worker runs. Never raises: errors become a status."""
    started = time.perf_counter()
    try:
        KERAS_ZYGOTE.start_soon()  # this worker's Keras import, once, while intake and the kernel's start run
        submitted = fingerprint(inbox, student, assignment)
        # One Keras process for this learner's models, the judge's and the verifier's. The judge's runner runs the
        # learner's definitions while nbgrader autogrades (``EarlyJudge``); the verdicts wait for the kernel's end.
        with KerasProcess() as keras_process:
            early = EarlyJudge(course, assignment, student, limits, scratch_root, sandboxed, keras_process)
            try:
                result = grade_submission(course, assignment, student, inbox, db_url=db_url, limits=limits,
                                          scratch_root=scratch_root, sandboxed=sandboxed, after_intake=early.start)
                if result["status"] == "error" and "database is locked" in result["message"]:
                    time.sleep(2)  # SQLite was busy with another worker's write: try once more
                    result = grade_submission(course, assignment, student, inbox, db_url=db_url, limits=limits,
                                              scratch_root=scratch_root, sandboxed=sandboxed,
                                              after_intake=early.start)
                runs = early.wait()
                result["judged"], result["verified"] = [], []
                if result["status"] == "graded":
                    if any(captures_folder(course, assignment, student).glob("*.keras")):
                        keras_process.warm()
                    result["judged"] = judge_and_record(course, assignment, student, db_url, limits, scratch_root,
                                                        sandboxed, keras_process, runs)
                    result["verified"] = verify_student(course, db_url, assignment, student,
                                                        scratch_root=scratch_root, limits=limits,
                                                        sandboxed=sandboxed, keras_process=keras_process)
            finally:
                early.discard()
        changed = [f"{row['grade_id']} {row['in_kernel'] or 0:g}->{row['judged']:g}" for row in result["judged"]
                   if row["changed"]]
        if changed:
            result["message"] = " ".join(filter(None, [result["message"], "Judge: " + ", ".join(changed) + "."]))
        if any(row["corrected"] or row["flagged"] for row in result["verified"]):
            result["message"] = " ".join(filter(None, [result["message"],
                                                       "Verifier: " + verify_line(result["verified"])]))
        if any(row["flagged"] for row in result["verified"]):  # scores stand; the instructor decides
            result["status"] = "flagged"
        result["fingerprint"] = submitted
        result["score"], result["max_score"] = total_score(db_url, assignment, student)
        result["seconds"] = round(time.perf_counter() - started, 1)  # autograde, judge and verifier together
        return result
    except Exception as error:  # the grader's own failure: recorded, and the batch goes on
        return {"student": student, "assignment": assignment, "status": "error", "message": repr(error)[:2000],
                "seconds": None, "verified": [], "judged": [], "fingerprint": None, "score": None, "max_score": None}


def judge_and_record(course, assignment, student, db_url, limits, scratch_root, sandboxed, keras_process=None,
                     runs=None):
    """Run the judge (``grader.judge``) on a graded learner's rebuilt notebooks; write its verdicts; return rows.

    ``runs`` (``{notebook stem: grader.judge.Run}``) holds the runner's work already done (``EarlyJudge``)."""
    from grader.gradebook import record
    from grader.judge import decide
    from grader.run import captures_folder, rebuilt_notebooks

    rows, runs = [], dict(runs or {})
    for notebook in rebuilt_notebooks(course, assignment, student):
        run = runs.pop(notebook.stem, None) or _run_notebook(course, assignment, student, notebook, limits,
                                                             scratch_root, sandboxed, keras_process)
        verdicts = decide(run, captures_folder(course, assignment, student), keras_process)
        rows += record(db_url, assignment, notebook.stem, student, verdicts)
    return rows


def _run_notebook(course, assignment, student, notebook, limits, scratch_root, sandboxed, keras_process):
    """The judge's runner on one rebuilt notebook, with its seed from the course's secret (``grader.judge.Run``)."""
    from grader.judge import run_definitions
    from grader.verify import course_secret, seed_for

    seed = seed_for(course_secret(course), assignment, student, f"judge/{notebook.stem}")
    return run_definitions(assignment, student, notebook, secret_seed=seed, scratch_root=scratch_root, limits=limits,
                           sandboxed=sandboxed, keras_process=keras_process)


class EarlyJudge:
    """The judge's runner on a learner's rebuilt notebooks, in a thread, while nbgrader autogrades them.

    The runner needs only the rebuilt notebook and the secret inputs, not the kernel's captures, so its TensorFlow
    import and the learner's definitions cost no wall time of their own; ``decide`` still waits for the kernel.
    ``start`` is what ``grade_submission`` calls after intake (once, even when grading is tried again); ``wait``
    returns ``{notebook stem: grader.judge.Run}``, and ``discard`` removes the scratch folders of runs nobody used.
    """

    def __init__(self, course, assignment, student, limits, scratch_root, sandboxed, keras_process):
        self.args = course, assignment, student, limits, scratch_root, sandboxed, keras_process
        self.thread, self.runs, self.error = None, {}, None

    def start(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="early-judge", daemon=True)
            self.thread.start()

    def _run(self):
        from grader.run import rebuilt_notebooks

        course, assignment, student = self.args[:3]
        try:
            for notebook in rebuilt_notebooks(course, assignment, student):
                self.runs[notebook.stem] = _run_notebook(course, assignment, student, notebook, *self.args[3:])
        except Exception as error:  # noqa: BLE001 - raised again by wait(), in the worker's own thread
            self.error = error

    def wait(self):
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error
        return self.runs

    def discard(self):
        from grader.judge import discard

        if self.thread is not None:
            self.thread.join()
        for run in self.runs.values():
            discard(run)
        self.runs = {}


def _bar(done, total, started, workers, stream):
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.perf_counter() - started, 1e-9) * 60
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} graded · {workers} workers · "
                 f"{rate:.1f} per minute")
    stream.flush()


def local_cluster(workers, dashboard_address=None):
    """The Dask cluster a batch starts when it is given no scheduler: ``workers`` single-threaded processes."""
    from dask.distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=dashboard_address,
                        memory_limit=0)


def grade_batch(course, assignment, inbox, *, workers=2, db_url=None, limits=Limits(), regrade=False,
                scheduler=None, sandboxed=True, progress=sys.stderr):
    """Grade every learner in ``inbox``; return their results (status, message, seconds, verification rows)."""
    from dask.distributed import Client, as_completed

    course = Path(course).resolve()
    db_url = db_url or default_db_url(course)
    if sandboxed and sandbox.problems():
        raise RuntimeError("Cannot grade in the sandbox: " + "; ".join(sandbox.problems()) +
                           ". Fix that, or pass sandboxed=False (--unsafe-no-sandbox) on a machine you trust.")
    check_inbox(course, inbox)
    ensure_assignment(course, assignment, db_url)
    grader_folder(course)
    if sandboxed:
        sandbox.protect(course)
    students = sorted(p.name for p in Path(inbox).iterdir() if p.is_dir())
    book = StatusBook(db_url)
    todo, skipped = [], []
    for student in students:
        row = book.get(student, assignment) or {}
        if not regrade and row.get("status") in SETTLED and row.get("fingerprint") == fingerprint(inbox, student,
                                                                                                 assignment):
            score, max_score = total_score(db_url, assignment, student)
            skipped.append({**row, "score": score, "max_score": max_score, "verified": [], "seconds": None,
                            "skipped": f"already {row['status']}, and the submission has not changed since"})
        else:
            todo.append(student)
    if skipped and progress:
        progress.write(f"Skipping {len(skipped)} learner(s) whose result stands (same submission as when graded; "
                       f"--regrade grades them again): {', '.join(r['student'] for r in skipped)}\n")
    for student in todo:
        book.set(student, assignment, "queued")
    scratch_root = tempfile.mkdtemp(prefix="course-grader-")
    results, started = [], time.perf_counter()
    cluster = None if scheduler else local_cluster(workers)
    try:
        with Client(scheduler or cluster) as client:
            futures = [client.submit(grade_and_verify, str(course), assignment, student, str(inbox), db_url, limits,
                                     scratch_root, sandboxed, key=f"grade-{assignment}-{student}-{time.time_ns()}",
                                     pure=False) for student in todo]
            if progress:
                _bar(0, len(todo), started, workers, progress)
            for future in as_completed(futures):
                result = future.result()
                book.set(result["student"], assignment, result["status"], result["message"], result["seconds"],
                         attempt=True, fingerprint=result["fingerprint"])
                results.append(result)
                if progress:
                    _bar(len(results), len(todo), started, workers, progress)
    finally:
        if cluster is not None:
            cluster.close()
        book.close()
        shutil.rmtree(scratch_root, ignore_errors=True)  # kernels' folders and the datasets copy: ~30 MB a batch
        if progress:
            progress.write("\n")
    if any(result["status"] in ("graded", "flagged") for result in results):  # the others got their note when refused
        write_feedback(course, assignment, db_url)
    return sorted(results + skipped, key=lambda r: r["student"])


def write_feedback(course, assignment, db_url):
    """``nbgrader generate_feedback`` for every autograded learner of ``assignment`` who has no feedback yet.

    Grading a learner deletes their old feedback first, so after a batch each learner's feedback is the one of
    their current gradebook row: the HTML of their graded notebook, or the note that says why it was not graded.
    """
    import subprocess

    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", assignment, f"--db={db_url}"],
                          cwd=course, env=nbgrader_environment(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_feedback failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


CSV_HEADER = ["student", "status", "score", "max_score"]


def export_csv(db_url, assignment, path, *, force=False):
    """Write one row per learner: status, message, total score and each graded cell's score.

    Raises
    ------
    FileExistsError
        If ``path`` exists and is not a file this function wrote (say, ``nbgrader export``'s ``grades.csv``),
        unless ``force``.
    """
    import csv

    from nbgrader.api import Gradebook, MissingEntry

    path = Path(path)
    if path.exists() and not force:
        with open(path, newline="", errors="replace") as stream:
            first = next(csv.reader(stream), [])
        if first[:len(CSV_HEADER)] != CSV_HEADER:
            raise FileExistsError(f"{path} exists and was not written by `python -m grader export` (its first line "
                                  f"is {','.join(first)[:80]!r}): choose another file name, or add --force to "
                                  "overwrite it.")

    book = StatusBook(db_url)
    statuses = {row["student"]: row for row in book.all(assignment)}
    book.close()
    with Gradebook(db_url) as gradebook:
        cells = sorted({(g.notebook.name, g.name) for nb in gradebook.find_assignment(assignment).notebooks
                        for g in nb.grade_cells})
        with open(path, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow([*CSV_HEADER, *[f"{nb}:{cell}" for nb, cell in cells], "message"])
            for student in sorted({s.id for s in gradebook.students} | set(statuses)):
                try:
                    submission = gradebook.find_submission(assignment, student)
                except MissingEntry:
                    continue
                scores = {(g.notebook.name, g.name): g.score for nb in submission.notebooks for g in nb.grades}
                status = statuses.get(student, {})
                writer.writerow([student, status.get("status", "graded by nbgrader"), submission.score,
                                 submission.max_score, *[scores.get(cell) for cell in cells],
                                 status.get("message", "")])
    return Path(path)
