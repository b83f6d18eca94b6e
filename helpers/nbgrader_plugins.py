"""nbgrader extensions for this course, loaded by ``nbgrader_config.py`` (instructors only).

nbgrader gives zero points to a test cell with *any* output on standard error. Libraries
write warnings there (TensorFlow's retracing notices, deprecation warnings), so a correct
answer could be zeroed for a message it did not cause. :class:`StderrAsStdout` runs right
after execution and turns the stderr text of test cells into ordinary output, marked so
that it stays visible in the feedback. Errors still score zero: only the ``stream``
outputs named ``stderr`` are changed, never ``error`` outputs.
"""

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution

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
