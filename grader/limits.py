"""The limits one submission is graded under."""

import os
from dataclasses import asdict, dataclass, fields

GiB = 2**30
MiB = 2**20


@dataclass(frozen=True)
class Limits:
    """Per-cell and per-notebook time, memory and size limits for grading one submission.

    - ``cell_seconds``: a cell still running after this is interrupted and fails (nbgrader's ``Execute.timeout``);
    - ``notebook_seconds``: the whole autograde of one submission is stopped after this, and the submission gets
      the status "timed out";
    - ``memory_bytes``: address space of each process of the learner's kernel (beyond it allocations raise
      ``MemoryError``), and memory in use by all of them together, in the learner's memory cgroup;
    - ``notebook_bytes``: a submitted notebook file larger than this is not opened;
    - ``output_bytes``: text a single cell may print; the rest is dropped (an endless print loop);
    - ``file_bytes``: largest file the kernel may write;
    - ``processes``: processes and threads one learner's kernel, or one run of the judge's runner, may run at once
      (a fork bomb): a pids cgroup each (``grader.sandbox.learner_cgroups``); where the machine has none, the
      sandbox user's ``RLIMIT_NPROC``, shared by every learner graded at the same moment.
    """

    cell_seconds: int = 300
    notebook_seconds: int = 1800
    memory_bytes: int = 4 * GiB
    notebook_bytes: int = 20 * MiB
    output_bytes: int = 1 * MiB
    file_bytes: int = 1 * GiB
    processes: int = 4096

    def to_env(self):
        """The limits as ``GRADER_LIMIT_*`` environment variables, for the kernel launcher."""
        return {f"GRADER_LIMIT_{name.upper()}": str(value) for name, value in asdict(self).items()}

    @classmethod
    def from_env(cls, environ=None):
        environ = os.environ if environ is None else environ
        values = {}
        for field in fields(cls):
            key = f"GRADER_LIMIT_{field.name.upper()}"
            if key in environ:
                values[field.name] = int(environ[key])
        return cls(**values)
