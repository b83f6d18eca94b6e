"""Instructor commands: ``python -m grader {batch,verify,export,status}`` from the course folder."""

import argparse
import sys
from pathlib import Path

from grader.batch import default_db_url, export_csv, grade_batch
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

    status = commands.add_parser("status", help="list each learner's grading status")
    status.add_argument("assignment")

    args = parser.parse_args(argv)
    course = args.course.resolve()
    db_url = args.db or default_db_url(course)
    if args.command == "batch":
        limits = Limits(cell_seconds=args.cell_seconds, notebook_seconds=args.notebook_seconds,
                        memory_bytes=int(args.memory_gib * 2**30))
        results = grade_batch(course, args.assignment, args.inbox, workers=args.workers, db_url=db_url,
                              limits=limits, regrade=args.regrade, scheduler=args.scheduler,
                              sandboxed=not args.unsafe_no_sandbox)
        for result in results:
            corrected = [row["grade_id"] for row in result.get("verified", []) if row["corrected"]]
            print(f"{result['student']:24s} {result['status']:10s} {result['seconds'] or 0:6.1f} s"
                  + (f"  corrected by the verifier: {', '.join(corrected)}" if corrected else ""))
    elif args.command == "verify":
        students = args.students or sorted(p.name for p in (course / "autograded").iterdir()
                                           if (p / args.assignment).is_dir())
        for student in students:
            for row in verify_student(course, db_url, args.assignment, student):
                if row["unverified"]:
                    print(f"{student}: {row['grade_id']} passed in the kernel and could not be verified: {row['why']}")
                elif row["disagrees"]:
                    print(f"{student}: {row['grade_id']} in the kernel {row['in_kernel']}, verified accuracy "
                          f"{row['verified_accuracy']} (target {row['target']})"
                          + (" -> set to 0" if row["corrected"] else " (left as it is)"))
    elif args.command == "export":
        print(export_csv(db_url, args.assignment, args.csv))
    elif args.command == "status":
        book = StatusBook(db_url)
        for row in book.all(args.assignment):
            print(f"{row['student']:24s} {row['status']:10s} attempts {row['attempts']}  {row['message'][:80]}")
        book.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
