"""Take in a learner's submitted notebook: find it, refuse what cannot be graded, rebuild it from the release.

``rebuild`` is the heart of it. The graded notebook is the *released* notebook (its tests, locked cells, points,
cell ids, kernelspec and metadata) with only the learner's answer cells, and any cells the learner added, copied
in. So a deleted or edited test, changed points, a duplicated id or another kernelspec do not reach nbgrader.
"""

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.limits import Limits


class Refused(Exception):
    """A submission that cannot be graded at all; ``status`` is one word for the gradebook, the message says why."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Intake:
    notebook: nbformat.NotebookNode
    notes: list = field(default_factory=list)


def find_notebook(folder, name):
    """The learner's notebook ``name`` in ``folder``, or the only notebook there if it was renamed (with a note)."""
    folder = Path(folder)
    expected = folder / name
    if expected.is_file():
        return expected, []
    others = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith(".")) if folder.is_dir() else []
    if len(others) == 1:
        return others[0], [f"Your notebook was called {others[0].name!r} instead of {name!r}; it was graded anyway."]
    found = ", ".join(p.name for p in others) or "no notebook"
    raise Refused("missing", f"No notebook {name!r} was submitted (found: {found}). Submit the notebook you were "
                             "given, under its original name.")


def load(path, limits=Limits()):
    """Read a submitted notebook, refusing one that is too large or not a notebook."""
    size = Path(path).stat().st_size
    if size > limits.notebook_bytes:
        raise Refused("too large", f"The notebook is {size / 2**20:.0f} MiB; the limit is "
                                   f"{limits.notebook_bytes / 2**20:.0f} MiB. Clear the outputs (Kernel → Restart & "
                                   "Clear Output), save, and submit again.")
    try:
        with open(path, encoding="utf-8") as stream:
            notebook = nbformat.read(stream, as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError) as error:
        raise Refused("invalid", f"The file is not a valid notebook ({type(error).__name__}). Open it in Jupyter; if "
                                 "it does not open, download it again from where you worked on it.") from None
    except Exception as error:  # nbformat's own validation errors and the like
        raise Refused("invalid", f"The file is not a valid notebook: {error}") from None
    if not isinstance(notebook.get("cells"), list):
        raise Refused("invalid", "The file has no cells: it is not a notebook.")
    return notebook


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def rebuild(submitted, released):
    """The released notebook with the learner's answers and added cells; see the module docstring.

    Returns an ``Intake``: the notebook to grade and notes for the learner about what was ignored.
    """
    released_ids = [_grade_id(cell) for cell in released.cells]
    answer_ids = {_grade_id(cell) for cell in released.cells if cell.get("metadata", {}).get("nbgrader", {}).get("solution")}
    answers, added, notes = {}, {}, []
    anchor = None
    for cell in submitted.cells:
        grade_id = _grade_id(cell)
        if grade_id in answer_ids:
            if grade_id in answers:
                notes.append(f"Two cells had the id {grade_id!r}; the first one was graded.")
            else:
                answers[grade_id] = cell
            anchor = grade_id
        elif grade_id in released_ids:
            anchor = grade_id  # a test or locked cell: the released copy is used, whatever the learner did to it
        else:
            clean = copy.deepcopy(cell)
            clean.get("metadata", {}).pop("nbgrader", None)
            if clean.cell_type == "code":
                clean.outputs, clean.execution_count = [], None
            added.setdefault(anchor, []).append(clean)
    rebuilt = copy.deepcopy(released)
    cells = list(added.pop(None, []))
    for cell in rebuilt.cells:
        grade_id = _grade_id(cell)
        if grade_id in answers and answers[grade_id].cell_type == cell.cell_type:
            cell.source = answers[grade_id].source
        cells.append(cell)
        cells.extend(added.pop(grade_id, []))
    rebuilt.cells = cells
    missing_tests = sorted(set(released_ids) - {_grade_id(c) for c in submitted.cells} - answer_ids - {None})
    if missing_tests:
        notes.append(f"Cells you deleted were put back before grading: {', '.join(missing_tests)}.")
    return Intake(rebuilt, notes)
