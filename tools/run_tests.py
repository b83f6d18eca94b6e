"""The whole test suite (``make test``) as two pytest processes side by side, to keep both cores busy.

- **The grading tests** (marked ``sandbox``: they run learners' code as the sandbox user, in cgroups and
  ``/tmp/course-grader-*`` folders, and check across the machine that nothing is left behind) run in one process, one
  test at a time as before, at normal priority, with their output shown as it comes.
- **Every other test** (the book build and the chapters, the site in Chromium, formgrader, the helpers, the accuracy
  targets) runs beside them in a second process at a lower priority. Much of the grading tests' time is spent
  waiting on one kernel or one judge while the other core idles; the second process fills that time, and yields the
  cores to the grading when both want them. Its output goes to ``test-artifacts/pytest-others.log`` and is printed
  once the grading tests have ended.

The lower priority is ``nice`` alone. With autogroups (``/proc/sys/kernel/sched_autogroup_enabled``) the scheduler
first shares the cores between sessions, and every kernel Jupyter starts opens a session of its own, so the second
run's kernels are not held back much. A cpu cgroup of low weight would hold them (cpu.shares 110 against 1024 was
tried on 2026-12-07), but it starved the second run's formgrader test past its 30-s wait for the page, so it is
not used.

The split is only about time: ``python -m pytest`` still runs every test in one process. Arguments are passed to
both runs (``python -m tools.run_tests -x --durations=25``); to pick tests, call pytest itself. The exit status is
0 only when both runs pass.
"""

import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "test-artifacts" / "pytest-others.log"
GRADING = "sandbox"
NICENESS = 10


def commands(args):
    """The two pytest command lines: the grading tests, and every other test at a lower priority. Only the first
    keeps pytest's cache (``--lf``); two runs writing it at once would each drop the other's failures."""
    pytest = [sys.executable, "-m", "pytest", "-ra"]
    return ([*pytest, "-m", GRADING, *args],
            ["nice", "-n", str(NICENESS), *pytest, "-p", "no:cacheprovider", "-m", f"not {GRADING}", *args])


def main(args, log_path=LOG):
    grading_command, others_command = commands(args)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log_path, "w") as log:
        print(f"tests outside the sandbox run beside these at nice {NICENESS}; their output: {log_path}", flush=True)
        others = subprocess.Popen(others_command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        ended = []  # when the other run ended: it may end long before the grading run
        waiter = threading.Thread(target=lambda: ended.append((others.wait(), time.monotonic() - start)), daemon=True)
        waiter.start()
        try:
            grading_status = subprocess.call(grading_command, cwd=ROOT)
            grading_seconds = time.monotonic() - start
            waiter.join()
            others_status, others_seconds = ended[0]
        finally:
            if others.poll() is None:  # interrupted: stop the other run too
                others.terminate()
                others.wait()
    print(f"\n{'=' * 30} tests outside the sandbox ({log_path}) {'=' * 30}", flush=True)
    sys.stdout.write(log_path.read_text())
    sys.stdout.flush()
    print(f"\ngrading tests: exit status {grading_status}, {grading_seconds:.0f} s; "
          f"tests outside the sandbox: exit status {others_status}, {others_seconds:.0f} s; "
          f"both ended {time.monotonic() - start:.0f} s after the start")
    return 0 if grading_status == others_status == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
