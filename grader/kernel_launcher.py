"""Start a learner's kernel in the sandbox: ``python -m grader.kernel_launcher -f CONNECTION_FILE``.

nbgrader runs this (as root, through the kernelspec that ``grader.sandbox.prepare`` writes) in the folder of the
notebook it grades, ``autograded/<student>/<assignment>``. It then

1. makes the kernel's scratch folder, owned by the sandbox user, and copies into it the files released with the
   assignment (not notebooks) and the connection file;
2. sets the limits from ``GRADER_LIMIT_*``: address space, file size, processes, in the learner's cgroups
   (``GRADER_CGROUPS``) where the machine has them; core dumps off;
3. keeps only harmless environment variables (``grader.sandbox.KERNEL_ENV``), with ``HOME``, ``TMPDIR`` and the
   Keras cache pointing into the scratch folder;
4. drops to the sandbox user and replaces itself with ipykernel.
"""

import os
import pwd
import shutil
import sys
from pathlib import Path

from grader.limits import Limits
from grader.sandbox import KERNEL_ENV, become_sandbox_user, kernel_folder


def _chown_tree(path, uid, gid):
    for item in [path, *path.rglob("*")]:
        os.lchown(item, uid, gid)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    connection_file = Path(argv[argv.index("-f") + 1])
    scratch_root = Path(os.environ["GRADER_SCRATCH"])
    user = pwd.getpwnam(os.environ["GRADER_SANDBOX_USER"])
    limits = Limits.from_env()
    origin = Path.cwd()
    work = kernel_folder(scratch_root, os.environ["GRADER_KERNEL_FOLDER"])  # grader.run's private_name
    work.mkdir(parents=True, exist_ok=True)
    for item in origin.iterdir():
        if item.is_file() and item.suffix != ".ipynb" and not (work / item.name).exists():
            shutil.copy(item, work / item.name)
    (work / "tmp").mkdir(exist_ok=True)
    keras_home = work / ".keras"
    keras_home.mkdir(exist_ok=True)
    if not (keras_home / "datasets").exists():
        (keras_home / "datasets").symlink_to(scratch_root / "keras-datasets")
    private_connection = work / ".kernel-connection.json"
    shutil.copy(connection_file, private_connection)
    _chown_tree(work, user.pw_uid, user.pw_gid)
    os.chmod(work, 0o700)

    env = {key: os.environ[key] for key in KERNEL_ENV if key in os.environ}
    env.update(HOME=str(work), TMPDIR=str(work / "tmp"), KERAS_HOME=str(keras_home), USER=user.pw_name,
               MPLCONFIGDIR=str(work / "tmp"))

    become_sandbox_user(user, limits, os.environ.get("GRADER_CGROUPS", ""))
    os.chdir(work)
    os.execve(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", str(private_connection)], env)


if __name__ == "__main__":
    main()
