"""nbgrader extensions for this course, loaded by ``nbgrader_config.py`` (instructors only).

nbgrader gives zero points to a test cell with *any* output on standard error. Libraries
write warnings there (TensorFlow's retracing notices, deprecation warnings), so a correct
answer could be zeroed for a message it did not cause. :class:`StderrAsStdout` runs right
after execution and turns the stderr text of test cells into ordinary output, marked so
that it stays visible in the feedback. Errors still score zero: only the ``stream``
outputs named ``stderr`` are changed, never ``error`` outputs.

nbgrader's ``OverwriteCells`` puts the instructor's version of every locked cell back before
grading, and warns "Attribute 'checksum' for cell ... has changed!" whenever a locked cell
differs from the source. Every hidden-test cell of a released notebook differs (its hidden
tests were cut out at release), so every honest learner set off that warning for every
hidden test. :class:`RestoreLockedCells` does the same restoring, and warns only about
cells the learner really changed: a cell that is still as released (its source matches the
checksum written at release) is restored silently.
"""

from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells
from nbgrader.utils import compute_checksum, is_grade, is_solution

MARK = "[stderr, not counted against you] "


class StderrAsStdout(NbGraderPreprocessor):
    """Relabel stderr stream outputs of autograded test cells as stdout."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = "".join(MARK + line for line in output["text"].splitlines(keepends=True))
        return cell, resources


class RestoreLockedCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, silent about locked cells that are exactly as released."""

    def preprocess_cell(self, cell, resources, cell_index):
        released = cell.metadata.get("nbgrader", {}).get("checksum")
        self._as_released = released is not None and released == compute_checksum(cell)
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and self._as_released:
            self.log.debug("Cell %s is as released; its hidden tests are put back.", name)
            return
        super().report_change(name, attr, old, new)
