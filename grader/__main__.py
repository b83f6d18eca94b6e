"""Instructor commands: ``python -m grader {batch,verify,export,status}`` from the course folder."""

import argparse
import sys
from pathlib import Path

from grader.batch import default_db_url, export_csv, grade_batch, total_score, verify_line
from grader.limits import Limits
from grader.status import StatusBook
from grader.verify import verify_student


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    parser.add_argument("--course", type=Path, default=Path("."), help="the course folder (default: here)")
    parser.add_argument("--db", help="nbgrader db_url (default: sqlite:///<course>/gradebook.db); e.g. "
                                     "postgresql+psycopg://grader@/gradebook?host=/run/postgresql")
    commands = parser.add_subparsers(dest="command", required=True)

    batch = commands.add_parser("batch", help="grade every learner folder in INBOX (<student>/<assignment>/*.ipynb)")
    batch.add_argument("assignment")
    batch.add_argument("inbox", type=Path)
    batch.add_argument("--workers", type=int, default=2)
    batch.add_argument("--scheduler", help="address of a running Dask scheduler, instead of a local cluster")
    batch.add_argument("--regrade", action="store_true", help="grade again learners who already have a final status")
    batch.add_argument("--cell-seconds", type=int, default=Limits.cell_seconds)
    batch.add_argument("--notebook-seconds", type=int, default=Limits.notebook_seconds)
    batch.add_argument("--memory-gib", type=float, default=Limits.memory_bytes / 2**30)
    batch.add_argument("--unsafe-no-sandbox", action="store_true",
                       help="run learners' code as yourself, with network (only for code you trust)")

    verify = commands.add_parser("verify", help="score every graded model again outside the kernel; fix the gradebook")
    verify.add_argument("assignment")
    verify.add_argument("students", nargs="*", help="default: every learner autograded for the assignment")

    export = commands.add_parser("export", help="write grades and statuses to CSV")
    export.add_argument("assignment")
    export.add_argument("csv", type=Path)
    export.add_argument("--force", action="store_true", help="overwrite CSV even if another program wrote it")

    status = commands.add_parser("status", help="list each learner's grading status")
    status.add_argument("assignment")

    args = parser.parse_args(argv)
    course = args.course.resolve()
    db_url = args.db or default_db_url(course)
    if args.command == "batch":
        limits = Limits(cell_seconds=args.cell_seconds, notebook_seconds=args.notebook_seconds,
                        memory_bytes=int(args.memory_gib * 2**30))
        try:
            results = grade_batch(course, args.assignment, args.inbox, workers=args.workers, db_url=db_url,
                                  limits=limits, regrade=args.regrade, scheduler=args.scheduler,
                                  sandboxed=not args.unsafe_no_sandbox)
        except ValueError as refused:  # an inbox that cannot be graded safely: nothing was touched
            print(f"Nothing was graded: {refused}", file=sys.stderr)
            return 2
        for result in results:
            print(learner_line(result))
        graded = [r for r in results if not r.get("skipped")]
        print(f"{len(graded)} learner(s) graded or refused, {len(results) - len(graded)} skipped; feedback is in "
              f"feedback/<student>/{args.assignment}/.")
    elif args.command == "verify":
        autograded = course / "autograded"
        students = args.students or (sorted(p.name for p in autograded.iterdir() if (p / args.assignment).is_dir())
                                     if autograded.is_dir() else [])
        if not students:
            print(f"No learner is autograded for {args.assignment}: nothing to verify.")
        counts = {"agree": 0, "corrected": 0, "unchecked": 0, "left": 0, "flagged": 0}
        for student in students:
            rows = verify_student(course, db_url, args.assignment, student)
            for row in rows:
                kind = ("unchecked" if row["corrected"] and row["verified_accuracy"] is None
                        else "corrected" if row["corrected"] else "left" if row["disagrees"] else "agree")
                counts[kind] += 1
                counts["flagged"] += bool(row["flagged"])
            print(f"{student}: {verify_line(rows)}")
        if students:
            print(f"Verified {len(students)} learner(s): {counts['agree']} test(s) agree, {counts['corrected']} set "
                  f"to 0 (model below target), {counts['unchecked']} set to 0 (passed in the kernel, but the model "
                  f"could not be checked outside it), {counts['left']} failed in the "
                  f"kernel and were left as they are, {counts['flagged']} flagged for review (a model that looks "
                  "trained on the test split; its score stands until you decide). Run `nbgrader generate_feedback "
                  f"{args.assignment} --force` so that feedback shows the changes.")
    elif args.command == "export":
        try:
            print(export_csv(db_url, args.assignment, args.csv, force=args.force))
        except FileExistsError as error:
            print(error, file=sys.stderr)
            return 1
    elif args.command == "status":
        book = StatusBook(db_url)
        rows = book.all(args.assignment)
        book.close()
        if not rows:
            print(f"No learner has been graded for {args.assignment} with `python -m grader batch`.")
        for row in rows:
            row["score"], row["max_score"] = total_score(db_url, args.assignment, row["student"])
            print(learner_line(row, attempts=True))
    return 0


def _points(value):
    return "-" if value is None else f"{value:g}"


def learner_line(result, attempts=False):
    """One learner's line in `batch` and `status`: status, score, time, and what the verifier changed."""
    line = (f"{result['student']:24s} {result['status']:10s} {_points(result.get('score')):>5s}/"
            f"{_points(result.get('max_score')):<5s}")
    if result.get("skipped"):
        return line + f" skipped: {result['skipped']}"
    line += f" {result['seconds'] or 0:6.1f} s"
    if attempts:
        line += f"  attempts {result['attempts']}"
    if result.get("message"):
        line += f"  {result['message'].splitlines()[0][:160]}"
    return line


if __name__ == "__main__":
    sys.exit(main())
