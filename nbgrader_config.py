"""nbgrader configuration for the course. Run nbgrader commands from this folder.

Source notebooks (solutions and hidden tests) live in ``solutions/<assignment>/``;
``nbgrader generate_assignment`` writes the learner versions to ``exercises/<assignment>/``.
"""

import os
import warnings

from nbgrader.converters.autograde import Autograde

from grader.execute import RecoveringExecute
from helpers.nbgrader_plugins import RestoreLockedCells, StderrAsStdout

c = get_config()  # noqa: F821  (provided by nbgrader when it reads this file)

c.CourseDirectory.course_id = "keras-classification"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# Hidden tests keep the models they grade in verify/ next to the notebook, for `python -m grader verify`.
# They are the grader's, not the learner's: never copied from submitted/ nor into feedback/.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "verify"]

# nbgrader's gradebook code makes SQLAlchemy 2 warn "Object of type <SubmittedAssignment> not in session, add
# operation along ... will not proceed" on every autograde. It is harmless (the objects are added right after);
# the warnings hid real messages in the log, so they are silenced here.
warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session", module=r"nbgrader\.")

# Training a small network on a 2-core CPU takes up to a minute; a cell that runs for five
# has gone wrong (an endless loop, epochs=10**6) and is stopped with CellTimeoutError.
c.Execute.timeout = 300

# TensorFlow's C++ logging is quieted in every kernel that nbgrader starts, and stderr
# that still reaches a test cell is shown as ordinary output instead of zeroing it.
# Execution survives a kernel that dies, stops processes a cell leaves running and caps a
# cell's output (grader.execute), so one bad cell costs only its own task.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_default = list(Autograde.class_traits()["autograde_preprocessors"].default())
_execute = [pp.__name__ for pp in _default].index("Execute")
_default[_execute] = RecoveringExecute
c.Autograde.autograde_preprocessors = _default[:_execute + 1] + [StderrAsStdout] + _default[_execute + 1:]
# Locked cells are put back as nbgrader does, warning only about cells a learner really changed.
_sanitize = list(Autograde.class_traits()["sanitize_preprocessors"].default())
_sanitize[[pp.__name__ for pp in _sanitize].index("OverwriteCells")] = RestoreLockedCells
c.Autograde.sanitize_preprocessors = _sanitize
