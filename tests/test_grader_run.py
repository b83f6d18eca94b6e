"""grader.run, grader.batch and grader.status pieces that keep learners' work safe (fast: no nbgrader run)."""

import os

import pytest
import sqlalchemy as sa

from grader.batch import fingerprint
from grader.run import _copy_plain_files, check_inbox
from grader.status import StatusBook
from grader.verify import flag

pytestmark = pytest.mark.sandbox


def test_check_inbox_accepts_submitted_and_outside_folders(tmp_path):
    for inbox in (tmp_path / "submitted", tmp_path.parent / f"{tmp_path.name}-inbox"):
        inbox.mkdir()
        check_inbox(tmp_path, inbox)


@pytest.mark.parametrize("inside", [".grader", ".grader/intake", "autograded", "feedback/alice"])
def test_check_inbox_refuses_folders_that_grading_empties(tmp_path, inside):
    (tmp_path / inside).mkdir(parents=True)
    with pytest.raises(ValueError, match="which grading empties"):
        check_inbox(tmp_path, tmp_path / inside)


def test_check_inbox_says_what_a_missing_inbox_should_hold(tmp_path):
    with pytest.raises(ValueError, match="one folder per learner"):
        check_inbox(tmp_path, tmp_path / "nowhere")


def test_fingerprint_changes_with_the_submission_only(tmp_path):
    folder = tmp_path / "alice" / "ex"
    folder.mkdir(parents=True)
    empty = fingerprint(tmp_path, "alice", "ex")
    (folder / "ex.ipynb").write_text("{}")
    first = fingerprint(tmp_path, "alice", "ex")
    assert first != empty and fingerprint(tmp_path, "alice", "ex") == first
    (folder / "ex.ipynb").write_text("{ }")
    assert fingerprint(tmp_path, "alice", "ex") != first
    assert fingerprint(tmp_path, "nobody", "ex") == empty


def test_only_regular_files_are_copied_from_the_kernels_folder(tmp_path):
    """A learner's kernel could leave a link to a file only root may read; grading must not copy its content."""
    source, target = tmp_path / "verify", tmp_path / "captures"
    source.mkdir()
    (source / "model.keras").write_bytes(b"model")
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    os.symlink(secret, source / "fake.keras")
    (source / "folder").mkdir()
    _copy_plain_files(source, target)
    assert sorted(p.name for p in target.iterdir()) == ["model.keras"]


def test_a_gradebook_from_before_fingerprints_gets_the_column(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE grading_status (student VARCHAR(128), assignment VARCHAR(128), "
                                   "status VARCHAR(32) NOT NULL, message TEXT NOT NULL, attempts INTEGER NOT NULL, "
                                   "seconds FLOAT, updated DATETIME NOT NULL, PRIMARY KEY (student, assignment))"))
        connection.execute(sa.text("INSERT INTO grading_status VALUES ('bob', 'ex', 'graded', '', 1, 2.0, "
                                   "'2026-01-01 00:00:00')"))
    engine.dispose()
    book = StatusBook(url)
    assert book.get("bob", "ex")["fingerprint"] is None
    book.set("bob", "ex", "graded", fingerprint="abc")
    assert book.get("bob", "ex")["fingerprint"] == "abc"
    book.close()


def _prepare_after(barrier, scratch, keras_home, results):
    import os
    import shutil
    import threading

    from grader import sandbox

    os.environ["KERAS_HOME"] = str(keras_home)
    copy = shutil.copytree

    def copy_when_all_have_looked(*args, **kwargs):  # the worst timing: every worker saw no copy yet
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:  # a worker came late, saw the copy, and needs none
            pass
        return copy(*args, **kwargs)

    shutil.copytree = copy_when_all_have_looked
    barrier.wait()
    try:
        sandbox.prepare(scratch)
        results.put("ok")
    except Exception as error:  # noqa: BLE001 - reported to the test
        results.put(repr(error))


def test_workers_preparing_the_same_scratch_root_at_once_do_not_trip_over_each_other(tmp_path):
    """A batch's workers all prepare the scratch root when they start. Each used to copy the Keras datasets straight
    into place, and the slower one failed with FileExistsError, which cost the first learner of a batch their grade
    (status error)."""
    import json
    import multiprocessing

    keras_home = tmp_path / "keras"
    (keras_home / "datasets" / "fashion-mnist").mkdir(parents=True)
    for index in range(40):
        (keras_home / "datasets" / "fashion-mnist" / f"part-{index}.gz").write_bytes(os.urandom(256 * 1024))
    scratch = tmp_path / "scratch"
    context = multiprocessing.get_context("fork")
    workers = 4
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=_prepare_after, args=(barrier, scratch, keras_home, results))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
    assert outcomes == ["ok"] * workers, outcomes
    copied = sorted(path.name for path in (scratch / "keras-datasets" / "fashion-mnist").iterdir())
    assert copied == sorted(f"part-{index}.gz" for index in range(40))
    assert [path.name for path in scratch.iterdir() if path.name.startswith(".")] == []
    kernel = json.loads((scratch / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert kernel["argv"][1:3] == ["-m", "grader.kernel_launcher"]


def _read_secret(barrier, course, results):
    from grader.verify import course_secret

    barrier.wait()
    results.put(course_secret(course))


def test_workers_starting_on_a_new_course_agree_on_one_secret(tmp_path):
    import multiprocessing
    import stat

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_read_secret, args=(barrier, tmp_path, results)) for _ in range(4)]
    for process in processes:
        process.start()
    seen = {results.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(timeout=30)
    secret = tmp_path / ".grader" / "secret"
    assert seen == {secret.read_text().strip()} and len(seen.pop()) == 64
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert sorted(path.name for path in secret.parent.iterdir()) == ["secret"]


@pytest.mark.parametrize("test, train, n_test, n_train", [
    (0.967, 0.976, 450, 1347),   # digits, the reference: a little lower on the test split, as honest models are
    (0.971, 0.970, 450, 1347),   # the reference's largest gap over 10 seeds
    (0.893, 0.880, 5000, 10000),  # above, but by less than 0.02
    (1.000, 0.970, 45, 133),      # wine: too few rows to tell
    (0.993, 0.974, 143, 426),     # breast cancer trained on its test split: too small and easy to tell
    (None, 0.9, 450, 1347),
])
def test_a_model_that_could_be_honest_is_not_flagged(test, train, n_test, n_train):
    assert flag(test, train, n_test, n_train) is None


@pytest.mark.parametrize("test, train, n_test, n_train", [
    (1.000, 0.955, 450, 1347),    # digits, trained on the test split instead (measured: gaps 0.040 to 0.054)
    (0.950, 0.850, 5000, 10000),  # Fashion-MNIST trained on the test images
])
def test_a_model_better_on_the_test_split_than_on_its_training_data_is_flagged(test, train, n_test, n_train):
    why = flag(test, train, n_test, n_train)
    assert why and "trained on the test split" in why and f"{test:.3f}" in why and f"{train:.3f}" in why



HOARD = """
import os, pwd, sys, time
from grader.limits import Limits
from grader.sandbox import SANDBOX_USER, become_sandbox_user
groups, limit, wanted = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
become_sandbox_user(pwd.getpwnam(SANDBOX_USER), Limits(processes=limit), groups)
held = 0
while held < wanted:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    held += 1
print(held, flush=True)
time.sleep(120)
"""

FILL = """
import os, pwd, sys, time
from grader.limits import Limits
from grader.sandbox import SANDBOX_USER, become_sandbox_user
become_sandbox_user(pwd.getpwnam(SANDBOX_USER), Limits(memory_bytes=int(sys.argv[2])), sys.argv[1])
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (150 * 2**20)  # written, so in use, not only reserved
        time.sleep(3)
        os._exit(0)
    children.append(pid)
print(" ".join(str(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])) for pid in children), flush=True)
"""


def _learner(script, groups, *args):
    """A learner's process, run as the sandbox user in ``groups``; and the first line it prints."""
    import subprocess
    import sys
    from pathlib import Path

    process = subprocess.Popen([sys.executable, "-c", script, os.pathsep.join(map(str, groups)), *map(str, args)],
                               cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    return process, process.stdout.readline().strip()


def test_the_process_limit_is_per_learner_not_per_sandbox_user():
    """Every learner's code runs as the one sandbox user. As RLIMIT_NPROC the process limit counts all of that
    user's processes, so a learner who starts every process they may leaves a learner graded at the same moment none;
    in cgroups per learner (``sandbox.learner_cgroups``) the other learner starts theirs. Leaving the groups kills
    what the learner left running, and removes the groups."""
    import signal

    import psutil

    from grader import sandbox
    from grader.limits import Limits

    assert set(sandbox.cgroup_hierarchies()) == {"pids", "memory"}, "no cgroups that root can use on this machine"
    hoarder, held = _learner(HOARD, [], 40, 1000)  # per user: the first learner takes every process the user may
    try:
        other, started = _learner(HOARD, [], 40, 10)
        os.killpg(other.pid, signal.SIGKILL)
        assert int(held) >= 35 and int(started) < 5, (held, started)
    finally:
        os.killpg(hoarder.pid, signal.SIGKILL)
    with sandbox.learner_cgroups("test-hoarder", Limits(processes=40)) as mine, \
            sandbox.learner_cgroups("test-other", Limits(processes=40)) as theirs:
        hoarder, held = _learner(HOARD, mine, 40, 1000)
        other, started = _learner(HOARD, theirs, 40, 10)
        assert int(held) >= 35 and int(started) == 10, (held, started)
        pids_group = next(group for group in mine if (group / "pids.max").exists())
        assert (pids_group / "pids.current").read_text().strip() == "40"
        pids = [int(pid) for pid in (pids_group / "cgroup.procs").read_text().split()]
        assert hoarder.pid in pids and len(pids) == int(held) + 1
    assert not any(group.exists() for group in [*mine, *theirs])
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
    hoarder.wait(10)
    other.wait(10)


def test_the_memory_limit_holds_for_all_of_a_learners_processes_together():
    """RLIMIT_AS limits each process: three processes of 150 MiB each pass a limit of 256 MiB. In the learner's
    memory cgroup the limit holds for all of them together, and the kernel stops one of them, not another learner's."""
    from grader import sandbox
    from grader.limits import Limits

    limit = 256 * 2**20
    _, alone = _learner(FILL, [], limit)
    assert alone == "0 0 0", alone
    with sandbox.learner_cgroups("test-filler", Limits(memory_bytes=limit)) as groups:
        _, together = _learner(FILL, groups, limit)
        memory_group = next(group for group in groups if (group / "memory.max_usage_in_bytes").exists())
        assert int((memory_group / "memory.max_usage_in_bytes").read_text()) <= limit
    assert "-9" in together.split(), together
