"""Zygotes: processes that import TensorFlow once and fork a fresh process for each learner.

Importing Keras and TensorFlow costs about 4 s of CPU, more than most of what the grader then asks of them. A
zygote imports them once per grading worker and never does anything else: it reads no learner's file and runs no
learner's code, it only forks. Each fork starts from that same clean state, so a forked process is as fresh as one
started from scratch, and nothing of one learner's work reaches another's.

Two kinds use it:

- ``grader.verify.KERAS_ZYGOTE`` (``python -m grader.verify --zygote``): the instructor's Keras process of each
  learner (``grader.verify.KerasProcess``), which reads their models in safe mode;
- ``grader.judge`` (``python -m grader.runner --zygote``): the judge's runner, which forks, enters namespaces of
  its own, drops to the sandbox user and runs the learner's definitions (``grader.runner.run_forked``);
- ``grader.run.kernel_zygote`` (``python -m grader.kernel_launcher --zygote``): the learner's kernel, which
  ``nbgrader autograde`` asks for through ``grader.kernel_launcher`` (see there): that zygote also listens on a
  socket file (``listens``) that only root can reach, since the launcher is not the worker but a process that
  nbgrader starts.

The worker talks to its zygote over a socket pair: a request is one JSON message with the file descriptors the
child gets (``socket.send_fds``), the reply the child's pid. The zygote ends when the worker's end of the socket
closes, that is when the worker ends.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


class Zygote:
    """The worker's side of one zygote: ``python -m MODULE --zygote FD``, started on first use with the environment
    ``environment()`` returns."""

    def __init__(self, module, environment, listens=False):
        self.module, self.environment, self.listens = module, environment, listens
        self.lock, self.process, self.channel = threading.Lock(), None, None
        self.listen = None  # with ``listens``: the path of its socket, in a folder of its own that only root enters

    def _start(self):
        ours, theirs = socket.socketpair()
        passed = [theirs]
        if self.listens:  # bound before the zygote starts: a request waits for its import, never fails
            self.listen = os.path.join(tempfile.mkdtemp(prefix="grader-zygote-"), "socket")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.listen)
            listener.listen(64)
            passed.append(listener)
        self.process = subprocess.Popen([sys.executable, "-m", self.module, "--zygote",
                                         *(str(end.fileno()) for end in passed)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, pass_fds=[end.fileno() for end in passed],
                                        env=self.environment(), cwd="/")
        for end in passed:
            end.close()
        self.channel = ours

    def running(self):
        return self.process is not None and self.process.poll() is None

    def start_soon(self):
        """Start the zygote now, if it is not running, so that its import runs before it is needed."""
        with self.lock:
            if not self.running():
                self._start()

    def fork(self, request, fds):
        """Have the zygote fork a child for ``request`` (JSON), handing it ``fds``; return the child's pid.

        The first request waits for the zygote's import. A zygote that died (killed, out of memory) is replaced
        once; raises ``OSError`` when none answers."""
        with self.lock:
            for _ in range(2):
                if not self.running():
                    self._start()
                try:
                    socket.send_fds(self.channel, [json.dumps(request).encode()], list(fds))
                    reply = self.channel.recv(64)
                except OSError:
                    reply = b""
                if reply.strip().isdigit():
                    return int(reply)
                self._close()
            raise OSError(f"the zygote of {self.module} does not answer")

    def run(self, request, seconds):
        """Have the zygote fork a child that runs ``request`` in namespaces of its own (``run_in_new_namespaces``)
        and wait for it: ``(exit status, or None when it was stopped at seconds, or -1 when its watcher vanished;
        the last 20,000 characters of its output)``. Raises ``OSError`` when no child started (no zygote here,
        namespaces refused)."""
        import select

        with tempfile.TemporaryFile() as log:
            status_r, status_w = os.pipe()
            writer = os.open(f"/proc/self/fd/{log.fileno()}", os.O_WRONLY | os.O_APPEND)  # the child cannot read it
            try:
                try:
                    child = self.fork({**request, "seconds": seconds}, [writer, status_w])
                finally:
                    os.close(status_w)
                    os.close(writer)
                text, deadline = b"", time.monotonic() + seconds + 30
                while time.monotonic() < deadline:
                    ready, _, _ = select.select([status_r], [], [], max(deadline - time.monotonic(), 0))
                    chunk = os.read(status_r, 4096) if ready else b""
                    if ready and not chunk:
                        break
                    text += chunk
            finally:
                os.close(status_r)
            lines = text.decode().split()
            if not lines:  # it stopped before its child started
                raise OSError(f"the zygote of {self.module} could not start its child")
            if "exit" not in lines and "timeout" not in lines:  # its watcher died, or never answered: stop both
                for pid in (int(lines[0]), child):
                    Child(pid, None, None).kill()
            log.seek(0)
            output = log.read().decode(errors="replace")[-20000:]
        if "timeout" in lines:
            return None, output
        return (int(lines[lines.index("exit") + 1]) if "exit" in lines else -1), output

    def _close(self):
        if self.process is not None:
            self.channel.close()
            self.process.kill()
            self.process.wait()
            self.process = None
            if self.listen is not None:
                shutil.rmtree(os.path.dirname(self.listen), ignore_errors=True)
                self.listen = None

    def close(self):
        with self.lock:
            self._close()


class ZygoteOfRoot:
    """A worker's one zygote, for every scratch root it grades in: ``zygote_of(scratch_root)`` makes it on first use
    with ``make(scratch_root)`` (a ``Zygote``, not started) and keeps it for the worker's life, through batch after
    batch on a Dask cluster that outlives them (the suite's, ``tests/conftest.py``), so each batch does not import
    TensorFlow again in a new one.

    The zygote imported Keras with the first scratch root's Keras home (``grader.sandbox.keras_home``), which goes
    with that batch; its children never use it: a kernel takes its own folder's (``grader.kernel_launcher``), a
    judge's runner its job's (``grader.runner.main``). A zygote started again (one that died) takes the newest
    scratch root's, so nothing is made again in a scratch root already removed."""

    def __init__(self, make):
        self.make, self.lock, self.root, self.zygote = make, threading.Lock(), None, None

    def __call__(self, scratch_root):
        scratch_root = os.path.realpath(scratch_root)
        with self.lock:
            if scratch_root != self.root:
                fresh = self.make(scratch_root)
                if self.zygote is None:
                    self.zygote = fresh
                else:  # the running zygote stays; a new start takes this root's environment
                    self.zygote.environment = fresh.environment
                self.root = scratch_root
            return self.zygote


class Child:
    """A zygote's child, seen from the worker that asked for it: what ``grader.verify.KerasProcess`` uses of a
    ``subprocess.Popen`` (``pid``, ``stdin``, ``stdout``, ``poll``, ``kill``, ``wait``). The zygote reaps it."""

    def __init__(self, pid, stdin, stdout):
        self.pid, self.stdin, self.stdout, self.returncode = pid, stdin, stdout, None

    def poll(self):
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -1
        return self.returncode

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self, timeout=30):
        """Wait until it has ended; close our end of its stdin (its stdout is its reader's to finish and close)."""
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            self.stdin.close()
        except OSError:
            pass
        return self.returncode


def serve(channel_fd, child, fds_per_request):
    """The zygote's loop: for each request on the socket ``channel_fd``, fork; the child runs ``child(request,
    fds)`` and exits (its status: 0, or 1 with the traceback on its stderr); the zygote sends back its pid."""
    import traceback

    channel = socket.socket(fileno=channel_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system as they end
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, 65536, fds_per_request)
        except OSError:
            return
        if not message:
            return  # the worker that started the zygote has gone
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                channel.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                child(request, fds)
                code = 0
            except BaseException:  # noqa: BLE001 - the child's last words, on the stderr it was given
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        for fd in fds:
            os.close(fd)
        channel.sendall(f"{pid}\n".encode())


def close_all_but(keep=()):
    """In a forked child: close every file from 3 up except ``keep``, so nothing the zygote held open reaches the
    learner's code (the one rule for kernels, ``grader.kernel_launcher``, and for the judge's runs, below)."""
    start = 3
    for fd in sorted(set(keep)):
        os.closerange(start, fd)
        start = max(start, fd + 1)
    os.closerange(start, 65536)


def take_standard_streams(fds):
    """In a forked child: make ``fds`` (up to three) its stdin, stdout and stderr."""
    for target, fd in zip((0, 1, 2), fds):
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)


CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x4000, 0x40000, 0x2, 0x4, 0x8


def libc_call(name, *args):
    """Call the C library's ``name`` (``unshare``, ``setns``, ``mount``, ``prctl``); raise ``OSError`` on failure."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{name}: {os.strerror(error)}")


def run_in_new_namespaces(request, fds, target, *, loopback=False, output="stderr"):
    """In a zygote's child (root): what ``unshare --net --pid --fork --mount-proc`` does, then ``target(request)``.

    This process enters new mount, PID and network namespaces and forks the first process of the new PID namespace,
    which gets its own ``/proc``, a session of its own, only its standard streams (``fds[0]`` is its stderr, and
    its stdout too when ``output="both"``), ``request["env"]`` as its environment and, with ``loopback``, the
    loopback interface up (and no other); everything it starts dies when it ends. It runs ``target(request)``; its
    exit status is 0, 1 with the traceback on its stderr, or what ``target`` passed to ``sys.exit``. This process
    waits for it, kills it past ``request["seconds"]``, and reports on the status pipe (``fds[1]``): its pid, then
    ``exit N`` or ``timeout`` (``Zygote.run`` reads them)."""
    import traceback

    log_fd, status_fd = fds
    out = os.dup(log_fd) if output == "both" else os.open(os.devnull, os.O_RDWR)
    take_standard_streams([os.open(os.devnull, os.O_RDWR), out, log_fd])
    status = os.fdopen(status_fd, "w", buffering=1)
    libc_call("unshare", CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET)
    libc_call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None)  # nothing mounted here is seen outside
    pid = os.fork()
    if pid == 0:  # pid 1 of its namespace
        code = 1
        try:
            status.close()
            os.setsid()  # the zygote's session is every child's: kill(0, ...) must reach no other learner's
            close_all_but()
            libc_call("mount", b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
            if loopback:
                subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            os.environ.clear()
            os.environ.update(request["env"])
            target(request)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except BaseException:  # noqa: BLE001 - the last words, on its stderr
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    status.write(f"{pid}\n")
    deadline = time.monotonic() + request["seconds"]
    while True:
        done, state = os.waitpid(pid, os.WNOHANG)
        if done:
            status.write(f"exit {os.waitstatus_to_exitcode(state)}\n")
            return
        if time.monotonic() > deadline:  # its namespace dies with it
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status.write("timeout\n")
            return
        time.sleep(0.02)
