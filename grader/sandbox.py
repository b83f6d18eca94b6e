"""Where and as whom a learner's code runs while it is graded.

``nbgrader autograde`` for one submission runs inside ``unshare`` (``NAMESPACES``; or, forked by the worker's
nbgrader zygote, in the same namespaces: ``grader.run._nbgrader``): a network namespace with only loopback (the
kernel and nbgrader talk over it; nothing else is reachable) and a PID namespace, so every process the learner's
code starts, however it detaches, is killed when grading of that submission ends. nbgrader starts the kernel
through the kernelspec written here, which runs ``grader.kernel_launcher``: it drops to the unprivileged
``SANDBOX_USER``, sets the limits and starts ipykernel in a scratch folder of its own. The course folder, the
gradebook, the source notebooks and the verifier's secret are not readable by that user.

All of this needs Linux and root; ``tools/install_grading.sh`` creates the user.
"""

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SANDBOX_USER = "course-sandbox"
NAMESPACES = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
              "sh", "-c", 'ip link set lo up && exec "$@"', "grader"]
# Environment variables the learner's kernel may see; everything else (secrets, NBGRADER_*, GRADER_*) is dropped.
KERNEL_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TF_CPP_MIN_LOG_LEVEL", "PYTHONPATH", "TZ")


def problems():
    """Why grading cannot be sandboxed on this machine, or an empty list when it can."""
    found = []
    if sys.platform != "linux":
        found.append("the sandbox needs Linux")
    elif os.geteuid() != 0:
        found.append("the sandbox needs root (it starts kernels as another user and in namespaces of their own)")
    else:
        try:
            pwd.getpwnam(SANDBOX_USER)
        except KeyError:
            found.append(f"the user {SANDBOX_USER!r} does not exist: run `sh tools/install_grading.sh`")
        if shutil.which("unshare") is None:
            found.append("`unshare` (util-linux) is missing")
        elif subprocess.run([*NAMESPACES, "true"], capture_output=True).returncode != 0:
            found.append("`unshare --net --pid` is not permitted here")
    return found


SECRET_PATHS = ("solutions", "source", "submitted", "autograded", "feedback", ".grader", "gradebook.db")


def protect(course):
    """Make what learners must not read unreadable to other users: sources (hidden tests), submissions, grades.

    The course folder itself may stay readable (the released notebooks and the helpers are public); these paths
    lose every permission for group and others.
    """
    for name in SECRET_PATHS:
        path = Path(course) / name
        if path.exists():
            os.chmod(path, path.stat().st_mode & ~0o077)


def prepare(scratch_root):
    """Create the scratch root and the kernelspec that starts learners' kernels in the sandbox; return its env.

    The returned variables go into the environment of ``nbgrader autograde``: ``JUPYTER_PATH`` makes nbgrader
    find the sandboxed ``python3`` kernelspec first, and the ``GRADER_*`` variables tell the launcher where to work.
    """
    scratch_root = Path(scratch_root)
    for folder in ("kernels", "judge"):  # entered by the sandbox user, never listed (see private_name)
        (scratch_root / folder).mkdir(parents=True, exist_ok=True)
        os.chmod(scratch_root / folder, 0o711)
    os.chmod(scratch_root, 0o711)
    spec = scratch_root / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    # Every worker of a batch prepares the same scratch root at the same moment: write and copy into a private
    # name first, then rename into place, so no worker ever sees a half-written file or trips over another's copy.
    _replace_atomically(spec / "kernel.json", json.dumps({
        "argv": [sys.executable, "-m", "grader.kernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (graded in the course sandbox)",
        "language": "python",
        "metadata": {"debugger": False},
    }, indent=1))
    datasets = scratch_root / "keras-datasets"
    source = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    if not datasets.exists():
        staging = Path(tempfile.mkdtemp(prefix=".keras-datasets-", dir=scratch_root))
        if source.is_dir():
            shutil.copytree(source, staging, dirs_exist_ok=True)
        for path in [staging, *staging.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        try:
            os.rename(staging, datasets)
        except OSError:  # another worker's copy got there first: it is the same data
            shutil.rmtree(staging, ignore_errors=True)
    return {"JUPYTER_PATH": str(scratch_root / "jupyter"), "GRADER_SCRATCH": str(scratch_root),
            "GRADER_SANDBOX_USER": SANDBOX_USER}


def keras_home(scratch_root):
    """The Keras home a zygote imports Keras with (``grader.zygote.ZygoteOfRoot``): the scratch root's copy of the
    data sets under ``datasets``, owned by root and read-only for the sandbox user. Created when missing."""
    home = Path(scratch_root) / "keras-home"
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o755)
    try:
        (home / "datasets").symlink_to(Path(scratch_root) / "keras-datasets")
    except FileExistsError:  # another worker made it
        pass
    return home


def _replace_atomically(path, text):
    staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    staging.write_text(text)
    os.replace(staging, path)


def become_sandbox_user(user, limits, groups=""):
    """From root: apply ``limits`` (memory, file size, processes; no core dumps) and become ``user``.

    What every process that runs a learner's code does before it runs it: their kernel and the judge's runner.
    ``groups``: the learner's cgroups (``learner_cgroups``, passed on as ``GRADER_CGROUPS``, folders joined by
    ``os.pathsep``), which the process joins, so the limits hold for all its processes together. Without a pids
    group the process limit is ``RLIMIT_NPROC``, which counts every process of the sandbox user, other learners'
    included.
    """
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    groups = [Path(group) for group in groups.split(os.pathsep) if group]
    for group in groups:
        (group / "cgroup.procs").write_text("0")  # 0: this process; its children stay in the group
    if any((group / "pids.max").exists() for group in groups):
        _, most = resource.getrlimit(resource.RLIMIT_NPROC)  # the machine's: the group's limit is the learner's
        resource.setrlimit(resource.RLIMIT_NPROC, (most, most))
    else:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def sandbox_user():
    """The unprivileged user learners' code runs as (``pwd`` entry)."""
    return pwd.getpwnam(SANDBOX_USER)


def private_name(*parts):
    """A scratch folder's name that no learner can guess: ``parts`` (for whoever reads the scratch root) and 128
    random bits.

    Every learner's code runs as the same sandbox user, so a folder of one learner's grading (its kernel's, where
    the hidden tests keep models; the judge's runner's) is open to another learner's code graded at the same time,
    if that code can find it. ``kernels/`` and ``judge/`` can be entered but not listed (``prepare``), and their
    folders get these names: a learner's code finds only its own.
    """
    return "--".join([*map(str, parts), secrets.token_hex(16)])


def kernel_folder(scratch_root, name):
    """The scratch folder where the kernel of one submission runs (and leaves the models it saved for the verifier);
    ``name`` comes from ``private_name``."""
    return Path(scratch_root) / "kernels" / name


GROUPS = "course-grader"  # the folder of the learners' cgroups, inside this process's own cgroup of each hierarchy
CONTROLLERS = ("pids", "memory")


def _own_cgroups():
    """This process's cgroups where a controller of ``CONTROLLERS`` can be used: [(folder, controllers, version)].

    Version 1 has a hierarchy per controller; version 2 one hierarchy, whose controllers a parent hands to its
    children through ``cgroup.subtree_control``."""
    own = {}  # controller ("" for the version-2 hierarchy) -> this process's cgroup in it
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            own[controller] = path.lstrip("/")
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mount = Path(fields[1])
        if fields[2] == "cgroup":
            for controller in set(CONTROLLERS) & set(fields[3].split(",")) & set(own):
                found.append((mount / own[controller], [controller], 1))
        elif fields[2] == "cgroup2" and "" in own and (mount / "cgroup.controllers").is_file():
            controllers = [c for c in CONTROLLERS if c in (mount / "cgroup.controllers").read_text().split()]
            if controllers:
                found.append((mount / own[""], controllers, 2))
    return found


def cgroup_hierarchies():
    """{controller: folder} where each learner's grading gets a cgroup of its own (``GROUPS``, created when missing
    inside this process's own cgroup), for the controllers root can use here; empty where none (then
    ``RLIMIT_NPROC`` limits processes per sandbox user, and only ``RLIMIT_AS`` limits memory, per process)."""
    found = {}
    for own, controllers, version in _own_cgroups():
        base = own / GROUPS
        try:
            if version == 2:  # a controller reaches a child group only through its parent's subtree_control
                enable = " ".join(f"+{c}" for c in controllers)
                (own / "cgroup.subtree_control").write_text(enable)
                base.mkdir(exist_ok=True)
                (base / "cgroup.subtree_control").write_text(enable)
            base.mkdir(exist_ok=True)
        except OSError:
            continue
        for controller in controllers:
            found.setdefault(controller, base)
    return found


LIMIT_FILES = {  # controller -> files that hold its limit, version 1 then version 2; the first one present is set
    "pids": ("pids.max",),
    "memory": ("memory.limit_in_bytes", "memory.max"),
}


@contextlib.contextmanager
def learner_cgroups(name, limits):
    """Cgroups for the processes of one learner's grading (their kernel, or one run of the judge's runner): at
    most ``limits.processes`` processes and threads, and ``limits.memory_bytes`` of memory in use, all of them
    together. Yields their folders, for ``GRADER_CGROUPS`` (``become_sandbox_user`` joins them); none where the
    machine has no cgroup root can use (see ``cgroup_hierarchies``).

    The limits are the learner's alone: a learner who starts every process they may, or fills memory from many
    processes, does not stop another learner graded at the same moment, as the same sandbox user, from starting
    and running theirs. On leaving, whatever still runs in the groups is killed and the groups removed.
    """
    values = {"pids": limits.processes, "memory": limits.memory_bytes}
    groups = []
    try:
        for controller, base in cgroup_hierarchies().items():
            group = base / Path(name).name
            if group not in groups:
                group.mkdir(exist_ok=True)
                groups.append(group)
            for limit_file in LIMIT_FILES[controller]:
                if (group / limit_file).exists():
                    (group / limit_file).write_text(str(values[controller]))
                    break
        yield groups
    finally:
        for group in groups:
            _empty_and_remove(group)


def _empty_and_remove(group, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = [int(pid) for pid in (group / "cgroup.procs").read_text().split()]
        if not pids:
            try:
                group.rmdir()
                return
            except OSError:  # a process is still on its way out
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
