"""``make test`` runs the suite as two pytest processes (``tools/run_tests.py``): the tests marked ``sandbox`` in one,
every other test beside it at a lower priority. That is safe only if every test that runs learners' code in the
sandbox, or checks the sandbox machine-wide, is marked: the grading tests count the sandbox user's processes, its
cgroups and the ``/tmp/course-grader-*`` folders, and an unmarked test running the sandbox beside them would make
them fail at random."""

import ast
import os
import re
import sys
from pathlib import Path

from tools import run_tests

TESTS = Path(__file__).resolve().parent

# What only code that runs or inspects the grading sandbox uses.
SANDBOX_USE = re.compile(r"grader\.(sandbox|batch|judge|zygote|kernel_launcher)\b|from grader import (sandbox|batch|judge)\b|"
                         r"verify_student|grade_batch|leftover_processes|course-grader|KerasProcess|"
                         r"grading_scheduler|autograde_support|python\", \"-m\", \"grader\"")


def module_marks(path):
    """The names of the marks in a module's ``pytestmark``."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and [target.id for target in node.targets
                                             if isinstance(target, ast.Name)] == ["pytestmark"]:
            values = node.value.elts if isinstance(node.value, ast.List) else [node.value]
            return {ast.unparse(value).removeprefix("pytest.mark.") for value in values}
    return set()


def test_every_module_that_uses_the_sandbox_is_marked_sandbox():
    unmarked = [path.name for path in sorted(TESTS.glob("test_*.py")) if path.name != Path(__file__).name
                and SANDBOX_USE.search(path.read_text()) and "sandbox" not in module_marks(path)]
    assert unmarked == [], f"add `pytestmark = pytest.mark.sandbox` to {unmarked} (tools/run_tests.py says why)"


def test_the_scan_finds_what_a_grading_test_uses():
    """The check above can fail: it finds the sandbox in the grading tests, and the marks where they are."""
    for name in ("test_grading_batch.py", "test_autograde_ch03.py", "test_zygote.py", "test_instructor_readme.py"):
        assert SANDBOX_USE.search((TESTS / name).read_text()), name
    assert SANDBOX_USE.search((TESTS / "test_plots.py").read_text()) is None
    assert module_marks(TESTS / "test_grading_batch.py") == {"slow", "sandbox"}
    assert "sandbox" in module_marks(TESTS / "test_autograde_ch03.py")
    assert module_marks(TESTS / "test_plots.py") == set()


def test_the_two_runs_split_the_tests_and_the_status_is_that_of_both(tmp_path, capfd):
    """Two runs over a small folder of tests: each runs its half, the second at a lower priority, both outputs are
    shown, and a failure in the run beside the grading tests fails the whole."""
    (tmp_path / "test_grading_side.py").write_text(
        "import os, pytest\npytestmark = pytest.mark.sandbox\n"
        f"def test_in_the_grading_run():\n    assert os.nice(0) == {os.nice(0)}\n"
        "    __import__('time').sleep(5)\n")
    (tmp_path / "test_other_side.py").write_text(
        "import os\n"
        "def test_beside_it_at_a_lower_priority():\n"
        f"    assert os.nice(0) == {min(os.nice(0) + run_tests.NICENESS, 19)}\n"  # 19 is the lowest priority
        "def test_that_fails():\n    assert 1 == 2\n")
    log = tmp_path / "others.log"
    status = run_tests.main(["-p", "no:cacheprovider", "-q", str(tmp_path)], log_path=log)
    out = capfd.readouterr().out
    assert status == 1
    assert "1 passed, 2 deselected" in out  # the grading run
    assert "1 failed, 1 passed, 1 deselected" in out and "test_that_fails" in out  # the other run, shown
    assert "grading tests: exit status 0" in out and "tests outside the sandbox: exit status 1" in out
    seconds = re.search(r"exit status 0, (\d+) s; .* exit status 1, (\d+) s", out).groups()
    assert int(seconds[1]) < int(seconds[0])  # each run's own time: the other run ended first
    assert "1 failed, 1 passed" in log.read_text()

    (tmp_path / "test_other_side.py").write_text("def test_passes():\n    pass\n")
    assert run_tests.main(["-p", "no:cacheprovider", "-q", str(tmp_path)], log_path=log) == 0


def test_pytest_alone_still_runs_every_test_in_one_process():
    """The split is ``make test``'s: the two command lines select complementary halves of the same tests."""
    grading, others = run_tests.commands(["-x"])
    assert grading[:3] == [sys.executable, "-m", "pytest"] and others[:3] == ["nice", "-n", str(run_tests.NICENESS)]
    assert grading[grading.index("-m", 3) + 1] == "sandbox" and others[others.index("-m", 6) + 1] == "not sandbox"
    assert grading[-1] == others[-1] == "-x"
