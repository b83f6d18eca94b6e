"""nbgrader's Execute preprocessor, hardened against submissions that break the run instead of failing a test.

- **A kernel that dies** (``os._exit``, a kill of its own process, a crash in native code, the memory limit)
  would end nbgrader's execution of the whole notebook and cost the learner every task. Here the cell that killed
  it gets an error saying so, a new kernel runs the cells before it again (not that one), and grading goes on, so
  only what that cell defined is lost.
- **Processes left behind**: after every cell, processes the kernel started and that still run are stopped, and
  the cell gets an error saying so; a background process cannot keep working after its cell. Such a cell is not
  run again after a kernel dies: the processes it starts would take the new kernel's share of processes (stopped
  processes count until the kernel that started them collects them), and a kernel that cannot start a thread dies.
- **Endless output**: a cell may print ``GRADER_LIMIT_OUTPUT_BYTES`` of text (1 MiB by default); the rest is
  dropped, with a note, so the grader's memory and the feedback stay small, and the cell runs on. A cell that
  prints ``STOP_FACTOR`` times that much (16 MiB) is interrupted, with an error saying so, rather than left to
  flood the grader until its time limit: it costs a worker the whole limit, and in the suite's fixture batch on a
  loaded 2-core machine (2026-12-07) a cell printing endlessly for its 30 s ended with its kernel dead instead.

Use it in place of nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors`` (``nbgrader_config.py`` does).
"""

import asyncio
import copy
import os

import psutil
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute

from grader.limits import Limits

STOP_FACTOR = 16  # a cell that prints this many times the output limit is interrupted


def _uid(process):
    try:
        return process.uids().real
    except psutil.NoSuchProcess:
        return None


def _reap(process):
    """Collect the exit status of a killed orphan that became our child (we are PID 1 of the sandbox)."""
    if process.pid == os.getpid():
        return
    try:
        if process.ppid() == os.getpid():
            process.wait(timeout=5)
    except (psutil.NoSuchProcess, psutil.TimeoutExpired, ChildProcessError):
        pass


def _warm_kernel():
    """In the sandbox's PID namespace: the learner's kernel that a kernel zygote forked in (``grader.kernel_launcher``),
    the one process not of root whose parent is outside the namespace (its ``ppid`` is 0); every process the
    learner's code starts has a parent inside. The newest, if a kernel that was killed has not quite gone."""
    found = []
    for process in psutil.process_iter(["ppid", "uids", "create_time", "status"]):
        info = process.info
        if info["ppid"] == 0 and info["uids"] and info["uids"].real != 0 and info["status"] != psutil.STATUS_ZOMBIE:
            found.append((info["create_time"], process.pid, process))
    return max(found)[2] if found else None


def _error(name, message):
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


class RecoveringExecute(Execute):
    """Execute every cell; survive a dead kernel, stop leftover processes, cap output (see the module docstring)."""

    def preprocess(self, nb, resources=None, km=None):
        self._killed_by = set()
        self._left_processes = set()
        self._output_bytes = {}
        self._output_cap = Limits.from_env().output_bytes
        self._output_stopped = {}  # cell index -> the task interrupting the kernel
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._killed_by.add(index)
            cell.outputs.append(_error(
                "KernelDied", "the kernel died while this cell ran (os._exit, a kill, a crash or too much memory). "
                "Everything this cell defined is lost; the grader started a new kernel and ran the cells before it "
                "again (not those that killed a kernel or left processes running)."))
            self._restart_and_replay(index)
            return cell, self.resources

    def _restart_and_replay(self, upto):
        run_sync(self.km.restart_kernel)(now=True)
        if self.kc is not None:
            self.kc.stop_channels()
        run_sync(self.async_start_new_kernel_client)()
        left_out = self._killed_by | self._left_processes
        for index in range(upto):
            cell = self.nb.cells[index]
            if cell.cell_type == "code" and index not in left_out:  # a DeadKernelError here ends the notebook
                self._output_bytes.pop(index, None)  # the copy gets its own output limit
                self._output_stopped.pop(index, None)
                run_sync(self.async_execute_cell)(copy.deepcopy(cell), index, store_history=False)

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        cell = kwargs["cell"]
        if self._output_bytes.get(kwargs["cell_index"], 0) > self._output_cap:  # first, where a long output that
            cell.outputs.insert(0, new_output("stream", name="stdout", text=(  # is cut (nbgrader's LimitOutput) keeps it
                f"[This cell printed more than {self._output_cap} characters: the grader dropped the rest of this "
                "cell's output.]\n")))
        stopped = self._stop_leftover_processes()
        if stopped:
            self._left_processes.add(kwargs["cell_index"])
            cell.outputs.append(_error(
                "ProcessLeftRunning", f"this cell left {len(stopped)} process(es) running ({', '.join(stopped)}); "
                "the grader stopped them. Wait for every process you start before the cell ends."))

    def _kernel_process(self):
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        try:
            started = psutil.Process(process.pid) if process is not None else None
        except psutil.NoSuchProcess:
            return None
        if started is not None and os.getpid() == 1 and _uid(started) == 0:  # grader.kernel_launcher stands for
            return _warm_kernel() or started  # a kernel forked from outside this PID namespace: find that one
        return started

    def _stop_leftover_processes(self):
        kernel = self._kernel_process()
        if kernel is None:
            return []
        me = psutil.Process()
        leftovers = kernel.children(recursive=True)
        if me.pid == 1:  # alone in a PID namespace (grader.sandbox): orphans of the kernel are re-parented to us
            ours = {kernel.pid, *(p.pid for p in leftovers)}
            leftovers += [child for child in me.children(recursive=True)
                          if child.pid not in ours and _uid(child) == _uid(kernel)]
        names = []
        for process in leftovers:
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    names.append(process.name())
                    process.kill()
            except psutil.NoSuchProcess:
                continue
            _reap(process)
        return names

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream":
            used = self._output_bytes.get(cell_index, 0)
            text = msg["content"].get("text", "")
            self._output_bytes[cell_index] = used + len(text)
            if used + len(text) > self._output_cap:
                if used < self._output_cap:  # the part that fits; on_cell_executed puts a note before the outputs
                    kept = {**msg, "content": {**msg["content"], "text": text[:self._output_cap - used]}}
                    super().output(outs, kept, display_id, cell_index)
                if used + len(text) > STOP_FACTOR * self._output_cap and cell_index not in self._output_stopped:
                    outs.append(_error("OutputLimit", f"this cell printed more than {STOP_FACTOR * self._output_cap} "
                                       "characters, so the grader stopped it. Print less: a summary, not every step."))
                    self._output_stopped[cell_index] = asyncio.ensure_future(ensure_async(self.km.interrupt_kernel()))
                return None
        return super().output(outs, msg, display_id, cell_index)
