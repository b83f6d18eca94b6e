"""nbgrader configuration for the course. Run nbgrader commands from this folder.

Source notebooks (solutions and hidden tests) live in ``solutions/<assignment>/``;
``nbgrader generate_assignment`` writes the learner versions to ``exercises/<assignment>/``.
"""

import os

from nbgrader.converters.autograde import Autograde

from grader.execute import RecoveringExecute
from helpers.nbgrader_plugins import StderrAsStdout

c = get_config()  # noqa: F821  (provided by nbgrader when it reads this file)

c.CourseDirectory.course_id = "keras-classification"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

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
