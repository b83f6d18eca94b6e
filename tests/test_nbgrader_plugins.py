from nbformat.v4 import new_code_cell, new_output

from helpers.nbgrader_plugins import RestoreLockedCells, StderrAsStdout


def _cell(nbgrader, outputs):
    cell = new_code_cell("x = 1", metadata={"nbgrader": nbgrader})
    cell.outputs = outputs
    return cell


TEST_CELL = {"grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 1, "schema_version": 3}
ANSWER_CELL = {"grade": False, "solution": True, "locked": False, "grade_id": "a", "schema_version": 3}


def test_stderr_of_a_test_cell_becomes_marked_stdout():
    cell = _cell(TEST_CELL, [new_output("stream", name="stderr", text="DeprecationWarning: x\nmore\n")])
    cell, _ = StderrAsStdout().preprocess_cell(cell, {}, 0)
    assert cell.outputs[0].name == "stdout"
    assert cell.outputs[0].text.splitlines() == ["[stderr, not counted against you] DeprecationWarning: x",
                                                 "[stderr, not counted against you] more"]


def test_errors_and_answer_cells_are_left_alone():
    error = new_output("error", ename="AssertionError", evalue="no", traceback=[])
    test_cell = _cell(TEST_CELL, [error])
    StderrAsStdout().preprocess_cell(test_cell, {}, 0)
    assert test_cell.outputs[0].output_type == "error"
    answer = _cell(ANSWER_CELL, [new_output("stream", name="stderr", text="w\n")])
    StderrAsStdout().preprocess_cell(answer, {}, 0)
    assert answer.outputs[0].name == "stderr"


def test_the_course_config_runs_the_plugin_right_after_execution():
    """Execution is grader.execute.RecoveringExecute (nbgrader's Execute, hardened), followed by the plugin."""
    from traitlets.config import Config
    import runpy

    from nbgrader.preprocessors import Execute

    from grader.execute import RecoveringExecute

    namespace = runpy.run_path("nbgrader_config.py", init_globals={"get_config": Config})
    preprocessors = namespace["c"].Autograde.autograde_preprocessors
    names = [pp.__name__ for pp in preprocessors]
    assert "Execute" not in names and issubclass(RecoveringExecute, Execute)
    assert preprocessors[names.index("RecoveringExecute") + 1].__name__ == "StderrAsStdout"
    assert namespace["c"].CourseDirectory.source_directory == "solutions"
    assert namespace["c"].CourseDirectory.release_directory == "exercises"


def test_restore_locked_cells_warns_only_about_cells_the_learner_changed(caplog):
    """A hidden-test cell as released differs from the source (its hidden tests were cut): restored silently."""
    import logging

    from nbgrader.utils import compute_checksum

    source = new_code_cell("check()\n### BEGIN HIDDEN TESTS\nhidden()\n### END HIDDEN TESTS\n",
                           metadata={"nbgrader": {**TEST_CELL, "grade_id": "t"}})
    source.metadata.nbgrader["checksum"] = compute_checksum(source)
    stored = type("Stored", (), {"cell_type": "code", "locked": True, "checksum": source.metadata.nbgrader["checksum"],
                                 "source": source.source, "max_score": 1.0})()

    class Book:
        def find_source_cell(self, *args):
            return stored

        find_graded_cell = find_source_cell

    def restored(text):
        cell = new_code_cell(text, metadata={"nbgrader": {**TEST_CELL, "grade_id": "t"}})
        released = new_code_cell("check()\n", metadata={"nbgrader": {**TEST_CELL, "grade_id": "t"}})
        cell.metadata.nbgrader["checksum"] = compute_checksum(released)
        preprocessor = RestoreLockedCells()
        preprocessor.gradebook, preprocessor.notebook_id, preprocessor.assignment_id = Book(), "nb", "a"
        preprocessor.log = logging.getLogger("restore-test")
        with caplog.at_level(logging.DEBUG, logger="restore-test"):
            caplog.clear()
            cell, _ = preprocessor.preprocess_cell(cell, {}, 0)
        return cell, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]

    cell, warnings = restored("check()\n")  # as released
    assert cell.source == source.source and warnings == []
    cell, warnings = restored("pass  # the learner emptied the test\n")
    assert cell.source == source.source and len(warnings) == 1 and "'checksum'" in warnings[0]


def test_the_course_config_restores_locked_cells_quietly_and_keeps_verify_out_of_feedback():
    from traitlets.config import Config
    import runpy

    namespace = runpy.run_path("nbgrader_config.py", init_globals={"get_config": Config})
    names = [pp.__name__ for pp in namespace["c"].Autograde.sanitize_preprocessors]
    assert "RestoreLockedCells" in names and "OverwriteCells" not in names
    assert "verify" in namespace["c"].CourseDirectory.ignore


def test_output_past_the_limit_is_dropped_and_an_endless_print_is_stopped(tmp_path):
    """grader.execute.RecoveringExecute with an ordinary kernel: a cell that prints 2 MiB keeps running past the 1 MiB
    it may show; a cell that prints for ever is interrupted long before its 60-s time limit."""
    import time

    from nbformat.v4 import new_notebook

    from grader.execute import STOP_FACTOR, RecoveringExecute

    notebook = new_notebook(cells=[new_code_cell("for _ in range(2048):\n    print('x' * 1023)\nx = 1"),
                                   new_code_cell("while True:\n    print('spam ' * 20)"),
                                   new_code_cell("print('x is', x)")],
                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                     "language": "python"}})
    started = time.monotonic()
    RecoveringExecute(timeout=60, interrupt_on_timeout=True, allow_errors=True).preprocess(
        notebook, {"metadata": {"path": str(tmp_path)}})
    took = time.monotonic() - started
    verbose, endless, last = (cell.outputs for cell in notebook.cells)
    note, _, shown = "".join(output.text for output in verbose if output.output_type == "stream").partition(".]\n")
    assert "dropped the rest of this cell's output" in note and shown == ("x" * 1023 + "\n") * 1024  # the first MiB
    assert [output.get("ename") for output in endless if output.output_type == "error"] == ["OutputLimit",
                                                                                            "KeyboardInterrupt"]
    assert f"more than {STOP_FACTOR * 2**20} characters" in endless[-2].evalue
    assert last[0].text == "x is 1\n"
    assert took < 40, f"the endless print ran {took:.0f} s: it was not stopped before its time limit"
