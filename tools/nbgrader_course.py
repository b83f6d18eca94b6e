"""Drive the real nbgrader command line on a scratch copy of the course.

Used by ``make exercises`` (regenerate the learner notebooks), by the tests (autograde
real submissions) and by ``bench/`` (time autograding). Nothing here fakes nbgrader: every
step runs ``nbgrader`` in a subprocess, in a course folder of its own, so the repository's
``exercises/`` and any instructor gradebook are never touched by a test.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from grader.run import nbgrader_environment

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
_SOLUTION_BLOCK = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(?:\n|\Z)", re.MULTILINE)


def assignments():
    """Names of the assignments, one folder each in ``solutions/``."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and not p.name.startswith("."))


def notebook_names(assignment):
    """Notebook file names of one assignment."""
    return sorted(p.name for p in (SOLUTIONS / assignment).glob("*.ipynb"))


def _environment():
    return nbgrader_environment()  # this Python's bin on PATH (alembic, kernels), the repository on PYTHONPATH


def nbgrader(course, *args, check=True, timeout=1800):
    """Run ``nbgrader ARGS`` in the course folder and return the completed process."""
    process = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=_environment(),
        capture_output=True, text=True, timeout=timeout,
    )
    if check and process.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({process.returncode}):\n{process.stdout}\n{process.stderr}")
    return process


def make_course(course, names=None):
    """Create a scratch course in ``course`` with the given assignments generated and released.

    Returns
    -------
    pathlib.Path
        The course folder, holding ``nbgrader_config.py``, ``solutions/``, ``exercises/`` and ``gradebook.db``.
    """
    course = Path(course)
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for name in names or assignments():
        shutil.copytree(SOLUTIONS / name, course / "solutions" / name, dirs_exist_ok=True)
        nbgrader(course, "generate_assignment", name, "--force")
    return course


def regenerate_exercises(scratch):
    """Write ``exercises/`` afresh from ``solutions/`` with ``nbgrader generate_assignment``."""
    course = make_course(scratch)
    for name in assignments():
        target = EXERCISES / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(course / "exercises" / name, target)
    return [EXERCISES / name for name in assignments()]


def solution_answers(assignment, notebook):
    """The reference answers: ``{grade_id: source}`` of each solution cell, markers removed."""
    source = nbformat.read(SOLUTIONS / assignment / notebook, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: _SOLUTION_BLOCK.sub("", cell.source)
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def released_notebook(course, assignment, notebook):
    """The learner's version of a notebook, as released in the scratch course."""
    return nbformat.read(Path(course) / "exercises" / assignment / notebook, as_version=4)


def fill_answers(notebook, answers):
    """Return a copy of ``notebook`` with the solution cells named in ``answers`` replaced.

    Raises
    ------
    KeyError
        If a grade id in ``answers`` is not a solution cell of the notebook.
    """
    filled = nbformat.from_dict(notebook)
    ids = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in filled.cells}
    for grade_id, source in answers.items():
        cell = ids.get(grade_id)
        if cell is None or not cell.metadata["nbgrader"].get("solution"):
            raise KeyError(f"{grade_id!r} is not a solution cell of this notebook.")
        cell.source = source
    return filled


def submit(course, student, assignment, notebook_name, notebook):
    """Place a learner's notebook where ``nbgrader autograde`` looks for it."""
    folder = Path(course) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / notebook_name)
    return folder / notebook_name


def autograde(course, assignment, *, student=None, timeout=1800):
    """Run ``nbgrader autograde`` on every submission of ``assignment`` (or one student's)."""
    args = ["autograde", assignment, "--force"]
    if student:
        args += ["--student", student]
    return nbgrader(course, *args, timeout=timeout)


def scores(course, assignment):
    """Autograded scores: ``{student: {notebook file name: {grade_id: score}}}``, read from the gradebook."""
    from nbgrader.api import Gradebook

    result = {}
    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            per_notebook = result.setdefault(submission.student.id, {})
            for notebook in submission.notebooks:
                per_notebook[f"{notebook.name}.ipynb"] = {grade.name: grade.score for grade in notebook.grades}
    return result


def graded_outputs(course, student, assignment, notebook_name, grade_id):
    """The outputs of one graded cell in a learner's autograded notebook, as nbformat output dicts."""
    path = Path(course) / "autograded" / student / assignment / notebook_name
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return list(cell.get("outputs", []))
    raise KeyError(f"no graded cell {grade_id!r} in {path}")


def feedback_text(course, student, assignment, notebook_name, grade_id):
    """What a learner reads under one graded cell of their autograded notebook: its printed and error output."""
    parts = []
    for output in graded_outputs(course, student, assignment, notebook_name, grade_id):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "\n".join(parts)


def visible_tests(assignment, notebook):
    """The grade ids of the tests a learner can see and run: graded cells without hidden tests."""
    source = nbformat.read(SOLUTIONS / assignment / notebook, as_version=4)
    return [cell.metadata["nbgrader"]["grade_id"] for cell in source.cells
            if cell.metadata.get("nbgrader", {}).get("grade") and "BEGIN HIDDEN TESTS" not in cell.source]


def max_scores(assignment, notebook):
    """``{grade_id: points}`` of the graded cells of a source notebook."""
    source = nbformat.read(SOLUTIONS / assignment / notebook, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"]["points"])
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def task_of(grade_id, notebook_cells):
    """The task heading ("## Task N: ...") a graded cell belongs to."""
    heading = None
    for cell in notebook_cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^## (Task \d+)", cell.source, re.MULTILINE)
            heading = match.group(1) if match else heading
        elif cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return heading
    raise KeyError(grade_id)


def main(argv=None):
    """``python -m tools.nbgrader_course regenerate``: rewrite exercises/ from solutions/."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", choices=["regenerate"])
    parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        for path in regenerate_exercises(scratch):
            print(f"generated {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
