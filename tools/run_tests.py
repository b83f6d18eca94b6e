"""The whole test suite (``make test``) as two pytest processes side by side, to keep both cores busy.

- **The grading tests** (marked ``sandbox``: they run learners' code as the sandbox user, in cgroups and
  ``/tmp/course-grader-*`` folders, and check across the machine that nothing is left behind) run in one process, one
  test at a time as before, at normal priority, with their output shown as it comes.
- **Every other test** (the book build and the chapters, the site in Chromium, formgrader, the helpers, the accuracy
  targets) runs beside them in a second process at a lower priority. Much of the grading tests' time is spent
  waiting on one kernel or one judge while the other core idles; the second process fills that time, and yields the
  cores to the grading when both want them. Its output goes to ``test-artifacts/pytest-others.log`` and is printed
  once the grading tests have ended.

A lower priority takes more than ``nice`` on Linux: with autogroups (``/proc/sys/kernel/sched_autogroup_enabled``)
the scheduler first shares the cores between sessions, and every kernel that Jupyter starts opens a session of its
own, at full weight whatever its niceness. So where root can make one, the second run and everything it starts go
into a cpu cgroup of low weight (``low_priority_cgroup``), which holds across sessions; elsewhere only ``nice``.

The split is only about time: ``python -m pytest`` still runs every test in one process. Arguments are passed to
both runs (``python -m tools.run_tests -x --durations=25``); to pick tests, call pytest itself. The exit status is
0 only when both runs pass.
"""

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "test-artifacts" / "pytest-others.log"
GRADING = "sandbox"
NICENESS = 10
CGROUPS = Path("/sys/fs/cgroup")
# The second run's share of a busy core against one session of the grading tests: cgroup v1's cpu.shares (the
# default weight is 1024) and cgroup v2's cpu.weight (default 100), both about a tenth, as nice 10 would be.
SHARES, WEIGHT = 110, 10


@contextmanager
def low_priority_cgroup():
    """A new cpu cgroup of low weight at the top of the hierarchy (cgroup v1's cpu controller, else cgroup v2 where
    its root hands out cpu): the folder, removed afterwards; ``None`` where this process cannot make one."""
    group = None
    try:
        if (CGROUPS / "cpu" / "cpu.shares").exists():
            group = CGROUPS / "cpu" / f"course-tests-{os.getpid()}"
            group.mkdir()
            (group / "cpu.shares").write_text(str(SHARES))
        elif "cpu" in (CGROUPS / "cgroup.subtree_control").read_text().split():
            group = CGROUPS / f"course-tests-{os.getpid()}"
            group.mkdir()
            (group / "cpu.weight").write_text(str(WEIGHT))
    except OSError:
        if group is not None and group.exists():
            group.rmdir()
        group = None
    try:
        yield group
    finally:
        if group is not None:
            try:
                group.rmdir()
            except OSError:  # a process of the run outlived it: the empty group goes when the machine restarts
                pass


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
    with open(log_path, "w") as log, low_priority_cgroup() as group:
        print(f"tests outside the sandbox run beside these at nice {NICENESS}"
              f"{f' in the cpu cgroup {group}' if group else ''}; their output: {log_path}", flush=True)

        def join_the_group():  # in the child, before pytest starts: all it starts is in the group too
            try:
                (group / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:  # then only niced
                pass

        others = subprocess.Popen(others_command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  preexec_fn=join_the_group if group else None)
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
