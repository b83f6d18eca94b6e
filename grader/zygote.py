"""Zygotes: processes that import TensorFlow once and fork a fresh process for each learner.

Importing Keras and TensorFlow costs about 4 s of CPU, more than most of what the grader then asks of them. A
zygote imports them once per grading worker and never does anything else: it reads no learner's file and runs no
learner's code, it only forks. Each fork starts from that same clean state, so a forked process is as fresh as one
started from scratch, and nothing of one learner's work reaches another's.

Two kinds use it:

- ``grader.verify.KERAS_ZYGOTE`` (``python -m grader.verify --zygote``): the instructor's Keras process of each
  learner (``grader.verify.KerasProcess``), which reads their models in safe mode;
- ``grader.judge`` (``python -m grader.runner --zygote``): the judge's runner, which forks, enters namespaces of
  its own, drops to the sandbox user and runs the learner's definitions (``grader.runner.run_forked``).

The worker talks to its zygote over a socket pair: a request is one JSON message with the file descriptors the
child gets (``socket.send_fds``), the reply the child's pid. The zygote ends when the worker's end of the socket
closes, that is when the worker ends.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time


class Zygote:
    """The worker's side of one zygote: ``python -m MODULE --zygote FD``, started on first use with the environment
    ``environment()`` returns."""

    def __init__(self, module, environment):
        self.module, self.environment = module, environment
        self.lock, self.process, self.channel = threading.Lock(), None, None

    def _start(self):
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen([sys.executable, "-m", self.module, "--zygote", str(theirs.fileno())],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, pass_fds=[theirs.fileno()],
                                        env=self.environment())
        theirs.close()
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

    def _close(self):
        if self.process is not None:
            self.channel.close()
            self.process.kill()
            self.process.wait()
            self.process = None

    def close(self):
        with self.lock:
            self._close()


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


def take_standard_streams(fds):
    """In a forked child: make ``fds`` (up to three) its stdin, stdout and stderr."""
    for target, fd in zip((0, 1, 2), fds):
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)
