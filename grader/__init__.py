"""Grading that a submission cannot game or break: the instructor's side of the course.

- ``grader.intake``: find a learner's notebook, refuse what cannot be graded (missing, not JSON, too large) and
  rebuild it from the released notebook, keeping only the learner's answers (deleted or edited tests, changed
  points, ids or kernelspec do not survive).
- ``grader.sandbox`` and ``grader.kernel_launcher``: run ``nbgrader autograde`` with no network, in a process
  namespace of its own, and start the learner's kernel as an unprivileged user with time, memory, process and
  file-size limits, in a scratch folder, with a clean environment.
- ``grader.execute``: nbgrader's Execute preprocessor, made to survive a kernel that dies, to stop processes a
  cell leaves behind, and to cap a cell's output.
- ``grader.verify``: recompute every graded model's accuracy outside the learner's kernel and correct the gradebook.
- ``grader.batch``: grade a folder of submissions with Dask workers, rerunnable, into SQLite or PostgreSQL.

The command line is ``python -m grader --help``.
"""

import os as _os
import sys as _sys
import warnings as _warnings

# nbgrader's gradebook makes SQLAlchemy 2 warn about objects "not in session" (harmless: they are added right
# after); in a batch these warnings came from every worker and broke the progress bar.
_warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session", module=r"nbgrader\.")

# nbgrader's Gradebook runs the `alembic` program from PATH: make sure it is this environment's.
_bin = _os.path.dirname(_sys.executable)
if _bin not in _os.environ.get("PATH", "").split(_os.pathsep):
    _os.environ["PATH"] = _os.pathsep.join([_bin, _os.environ.get("PATH", "")])
