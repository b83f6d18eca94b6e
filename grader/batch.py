"""Grade a folder of submissions with parallel workers on Dask's distributed scheduler.

``grade_batch(course, assignment, inbox, workers=W)`` grades every learner folder in ``inbox``
(``<inbox>/<student>/<assignment>/<notebook>.ipynb``, the layout ``nbgrader collect`` makes) with
``grader.run.grade_submission`` and ``grader.verify.verify_student``, W at a time, and prints a progress bar.

- **Workers** are Dask workers: a ``LocalCluster`` of W single-threaded processes by default, or any running
  Dask scheduler (``scheduler="tcp://host:8786"``) whose workers see the same course folder and Python
  environment; the code is the same.
- **Gradebook**: nbgrader's ``db_url``. SQLite (the default, ``<course>/gradebook.db``) takes a few workers on one
  machine; PostgreSQL takes many, on many machines.
- **Stop and rerun**: each learner has one ``grading_status`` row (``grader.status``). A rerun grades only the
  learners whose row is missing or unfinished (``queued``), or everyone with ``regrade=True``; grading a learner
  replaces their submission, so nobody ever has two, and nothing of the others changes.
"""

import sys
import tempfile
import time
from pathlib import Path

from grader import sandbox
from grader.limits import Limits
from grader.run import grade_submission, nbgrader_environment
from grader.status import FINAL, StatusBook
from grader.verify import verify_student


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


def grade_and_verify(course, assignment, student, inbox, db_url, limits, scratch_root, sandboxed):
    """One learner, start to end; this is what a Dask worker runs. Never raises: errors become a status."""
    try:
        result = grade_submission(course, assignment, student, inbox, db_url=db_url, limits=limits,
                                  scratch_root=scratch_root, sandboxed=sandboxed)
        if result["status"] == "error" and "database is locked" in result["message"]:
            time.sleep(2)  # SQLite was busy with another worker's write: try once more
            result = grade_submission(course, assignment, student, inbox, db_url=db_url, limits=limits,
                                      scratch_root=scratch_root, sandboxed=sandboxed)
        result["verified"] = verify_student(course, db_url, assignment, student) if result["status"] == "graded" else []
        return result
    except Exception as error:  # the grader's own failure: recorded, and the batch goes on
        return {"student": student, "assignment": assignment, "status": "error", "message": repr(error)[:2000],
                "seconds": None, "verified": []}


def _bar(done, total, started, workers, stream):
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.perf_counter() - started, 1e-9) * 60
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} graded · {workers} workers · "
                 f"{rate:.1f} per minute")
    stream.flush()


def grade_batch(course, assignment, inbox, *, workers=2, db_url=None, limits=Limits(), regrade=False,
                scheduler=None, sandboxed=True, progress=sys.stderr):
    """Grade every learner in ``inbox``; return their results (status, message, seconds, verification rows)."""
    from dask.distributed import Client, LocalCluster, as_completed

    course = Path(course).resolve()
    db_url = db_url or default_db_url(course)
    if sandboxed and sandbox.problems():
        raise RuntimeError("Cannot grade in the sandbox: " + "; ".join(sandbox.problems()) +
                           ". Fix that, or pass sandboxed=False (--unsafe-no-sandbox) on a machine you trust.")
    ensure_assignment(course, assignment, db_url)
    if sandboxed:
        sandbox.protect(course)
    students = sorted(p.name for p in Path(inbox).iterdir() if p.is_dir())
    book = StatusBook(db_url)
    todo = [s for s in students if regrade or (book.get(s, assignment) or {}).get("status") not in FINAL]
    for student in todo:
        book.set(student, assignment, "queued")
    scratch_root = tempfile.mkdtemp(prefix="course-grader-")
    results, started = [], time.perf_counter()
    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                  dashboard_address=None, memory_limit=0)
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
                         attempt=True)
                results.append(result)
                if progress:
                    _bar(len(results), len(todo), started, workers, progress)
    finally:
        if cluster is not None:
            cluster.close()
        book.close()
        if progress:
            progress.write("\n")
    return sorted(results, key=lambda r: r["student"])


def export_csv(db_url, assignment, path):
    """Write one row per learner: status, message, total score and each graded cell's score."""
    import csv

    from nbgrader.api import Gradebook, MissingEntry

    book = StatusBook(db_url)
    statuses = {row["student"]: row for row in book.all(assignment)}
    book.close()
    with Gradebook(db_url) as gradebook:
        cells = sorted({(g.notebook.name, g.name) for nb in gradebook.find_assignment(assignment).notebooks
                        for g in nb.grade_cells})
        with open(path, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["student", "status", "score", "max_score", *[f"{nb}:{cell}" for nb, cell in cells],
                             "message"])
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
