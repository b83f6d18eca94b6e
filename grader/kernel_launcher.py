"""Start a learner's kernel in the sandbox: ``python -m grader.kernel_launcher -f CONNECTION_FILE``.

nbgrader runs this (as root, through the kernelspec that ``grader.sandbox.prepare`` writes) in the folder of the
notebook it grades, ``autograded/<student>/<assignment>``, inside the namespaces of ``grader.sandbox.NAMESPACES``.
It

1. makes the kernel's scratch folder, owned by the sandbox user, and copies into it the files released with the
   assignment (not notebooks) and the connection file;
2. has the kernel set the limits from ``GRADER_LIMIT_*``: address space, file size, processes, in the learner's
   cgroups (``GRADER_CGROUPS``) where the machine has them; core dumps off;
3. gives the kernel only harmless environment variables (``grader.sandbox.KERNEL_ENV``), with ``HOME``, ``TMPDIR``
   and ``MPLCONFIGDIR`` in the scratch folder;
4. has the kernel drop to the sandbox user and run ipykernel.

**A warm kernel.** Importing TensorFlow costs a kernel about 5 s of CPU, a quarter of grading one learner. Where
the grading worker has a kernel zygote (``GRADER_KERNEL_ZYGOTE``: the socket of ``grader.run.kernel_zygote``, which
only root can reach), the kernel is a fork of that zygote, which imported Keras, TensorFlow, scikit-learn, the
course's helpers and ipykernel once, as root, with a clean environment, and never runs anything else:

- the zygote's child (root, outside the sandbox) enters this launcher's network, mount and PID namespaces (their
  files, handed over the socket) and forks the kernel, which is then a process of nbgrader's PID namespace like
  any other: it sees only loopback and that namespace's ``/proc``, and it dies with the namespace;
- the kernel closes every file it inherited, takes this launcher's standard streams, sets the limits, joins the
  learner's cgroups, drops to the sandbox user and runs ipykernel (steps 2 to 4);
- this launcher stays, as the process jupyter_client manages: it passes on the signals it gets (an interrupt) to
  the kernel and ends with the kernel's exit status; when it is killed, the zygote's child kills the kernel.

Nothing of one learner reaches another: every kernel is a fresh fork of the same clean zygote. The kernel is not
the launcher's child: ``grader.execute`` finds it as the only process of the sandbox user in the namespace whose
parent is outside it. Where there is no zygote, or it does not answer, the launcher does steps 2 to 4 itself and
replaces itself with a new ipykernel, which imports everything again.
"""

import json
import os
import pwd
import select
import shutil
import signal
import socket
import sys
from pathlib import Path

from grader.limits import Limits
from grader.sandbox import KERNEL_ENV, become_sandbox_user, kernel_folder
from grader.zygote import CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, libc_call

NAMESPACES = (("net", CLONE_NEWNET), ("mnt", CLONE_NEWNS), ("pid", CLONE_NEWPID))  # /proc/self/ns/<name>
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def _chown_tree(path, uid, gid):
    for item in [path, *path.rglob("*")]:
        os.lchown(item, uid, gid)


def _prepare():
    """Steps 1 and 3 (as root): the kernel's scratch folder, and what the kernel needs to start in it."""
    argv = sys.argv[1:]
    connection_file = Path(argv[argv.index("-f") + 1])
    scratch_root = Path(os.environ["GRADER_SCRATCH"])
    user = pwd.getpwnam(os.environ["GRADER_SANDBOX_USER"])
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
    return {"user": user.pw_name, "work": str(work), "connection": str(private_connection), "env": env,
            "limits": Limits.from_env().to_env(), "cgroups": os.environ.get("GRADER_CGROUPS", "")}


def main():
    kernel = _prepare()
    if os.environ.get("GRADER_KERNEL_ZYGOTE"):
        try:
            _run_warm(os.environ["GRADER_KERNEL_ZYGOTE"], kernel)  # does not return once the kernel has started
        except OSError as error:
            print(f"grader.kernel_launcher: no warm kernel ({error}); starting a new one", file=sys.stderr)
    become_sandbox_user(pwd.getpwnam(kernel["user"]), Limits.from_env(kernel["limits"]), kernel["cgroups"])
    os.chdir(kernel["work"])
    os.execve(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", kernel["connection"]],
              kernel["env"])


def _run_warm(path, kernel):
    """Have the zygote at ``path`` fork the kernel into our namespaces; stand for it until it ends, then exit with
    its status. Raises ``OSError`` when no kernel started (nothing of the learner's has run then)."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    namespaces = [os.open(f"/proc/self/ns/{name}", os.O_RDONLY) for name, _ in NAMESPACES]
    try:
        socket.send_fds(client, [json.dumps(kernel).encode()], [0, 1, 2, *namespaces])
    finally:
        for fd in namespaces:
            os.close(fd)
    replies = client.makefile("r")
    first = replies.readline().split()
    if first[:1] != ["kernel"]:
        raise OSError(f"the kernel zygote answered {' '.join(first) or 'nothing'}")
    pid = int(first[1])

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        signal.signal(signum, forward)
    last = replies.readline().split()  # "exit N" when it ends; nothing if the zygote's child died
    if last != ["exit", "0"]:  # for nbgrader's log
        print(f"grader.kernel_launcher: the kernel ended: {' '.join(last) or 'its watcher died'}", file=sys.stderr)
    sys.stderr.flush()
    os._exit(int(last[1]) % 256 if last[:1] == ["exit"] else 1)


def serve(channel_fd, listener_fd):
    """The kernel zygote's loop: fork a ``_start_kernel`` for each launcher that connects to ``listener_fd``; end
    when the worker's end of ``channel_fd`` closes."""
    import traceback

    channel, listener = socket.socket(fileno=channel_fd), socket.socket(fileno=listener_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system as they end
    while True:
        ready, _, _ = select.select([channel, listener], [], [])
        if channel in ready and not channel.recv(1):  # the worker that started the zygote has gone
            path = listener.getsockname()
            os.unlink(path)
            os.rmdir(os.path.dirname(path))  # grader.zygote.Zygote made it for this socket alone
            return
        if listener not in ready:
            continue
        connection, _ = listener.accept()
        if os.fork() == 0:
            try:
                channel.close()
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _start_kernel(connection)
            except BaseException:  # noqa: BLE001 - the launcher reads this and starts a kernel of its own
                try:
                    connection.sendall(f"error {traceback.format_exc(limit=1)!r}\n".encode())
                except OSError:
                    pass
            finally:
                os._exit(0)
        connection.close()


def _start_kernel(connection):
    """In the zygote's child (root): enter the launcher's namespaces, fork the kernel, and tell the launcher its
    pid and then its exit status; kill it if the launcher goes first."""
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3 + len(NAMESPACES))
    kernel = json.loads(message)
    if len(fds) != 3 + len(NAMESPACES):
        raise ValueError(f"the launcher sent {len(fds)} files")
    streams, namespaces = fds[:3], fds[3:]
    for fd, (_, flag) in zip(namespaces, NAMESPACES):
        libc_call("setns", fd, flag)
        os.close(fd)
    pid = os.fork()  # the first process here in the new PID namespace: the kernel
    if pid == 0:
        _become_kernel(kernel, streams, connection)
    for fd in streams:
        os.close(fd)
    ended = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([connection, ended], [], [])
        if ended in ready:
            _, status = os.waitpid(pid, 0)
            connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            return
        if not connection.recv(64):  # the launcher was killed: so is its kernel
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return


def _become_kernel(kernel, streams, connection):
    """The kernel, forked: only its own files, streams and environment; limits, cgroups and the sandbox user; then
    ipykernel. Never returns."""
    import atexit
    import random
    import tempfile
    import traceback

    import numpy as np

    from grader.zygote import close_all_but, take_standard_streams

    code = 1
    try:
        os.setsid()  # a session of its own, as a new kernel has: kill(0, ...) reaches no other learner's processes
        libc_call("prctl", 15, b"learner-kernel", 0, 0, 0)  # PR_SET_NAME: what ps and psutil call it
        close_all_but([*streams, connection.fileno()])
        take_standard_streams(streams)
        os.environ.clear()
        os.environ.update(kernel["env"])
        tempfile.tempdir = None  # found again from TMPDIR
        # Keras read KERAS_HOME when the zygote imported it; the kernel's own is writable, as Keras's downloads
        # need (keras.utils.get_file falls back to /tmp/.keras otherwise), and holds the data sets.
        sys.modules["keras.src.backend.config"]._KERAS_DIR = kernel["env"]["KERAS_HOME"]
        random.seed()
        np.random.seed()
        become_sandbox_user(pwd.getpwnam(kernel["user"]), Limits.from_env(kernel["limits"]), kernel["cgroups"])
        os.chdir(kernel["work"])
        del sys.path[0]  # the zygote's working folder (python -m); IPython adds the kernel's
        sys.argv = [sys.executable, "-f", kernel["connection"]]
        connection.sendall(f"kernel {os.getpid()}\n".encode())
        connection.close()
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=["-f", kernel["connection"]])
        atexit._run_exitfuncs()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException:  # noqa: BLE001 - on the launcher's stderr, nbgrader's log
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


WARM_MODULES = ("ipykernel.ipkernel", "ipykernel.kernelapp", "sklearn.datasets", "sklearn.model_selection",
                "helpers.data", "helpers.grading")  # with Keras: what a kernel imports (not matplotlib, see _zygote)


def _zygote(channel_fd, listener_fd):
    """Import Keras and ``WARM_MODULES``, then serve. Not matplotlib: it reads its settings from the environment
    when imported, and each kernel's environment is its own."""
    import importlib

    from helpers.repro import import_keras_quietly

    import_keras_quietly()
    for name in WARM_MODULES:
        importlib.import_module(name)
    serve(channel_fd, listener_fd)


if __name__ == "__main__":  # the launcher (-f CONNECTION_FILE), or the kernel zygote (--zygote FD FD)
    if sys.argv[1] == "--zygote":
        _zygote(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
