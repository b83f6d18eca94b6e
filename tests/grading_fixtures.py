"""Adversarial and faulty submissions of exercise 1, each with the outcome grading must reach.

Every fixture is a learner folder ``<inbox>/<name>/ch01_single_neuron/`` built from the reference answers with
one thing done to it. ``Expected`` says how it must end: its status, the graded cells that score zero (every
other cell keeps full points), and text its feedback must contain. The numbers in the names follow the list in
issue 6.

The judge (``grader.judge``) decides the function, value and architecture cells from the learner's definitions,
run again outside the kernel. So an attack placed *before* a correct definition (an endless loop, ``os._exit``, a
network call) fails in the kernel, as the feedback shows, but costs no points: the function is right.
"""

import json
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tools import nbgrader_course as course

ASSIGNMENT = NOTEBOOK_STEM = "ch01_single_neuron"
NOTEBOOK = f"{NOTEBOOK_STEM}.ipynb"
TASKS = {
    "Task 1": ["test_build_model_is_one_sigmoid_neuron", "test_build_model_uses_adam_at_given_rate"],
    "Task 2": ["test_train_model_reaches_target_on_test_split", "test_train_model_reaches_target_on_hidden_data"],
    "Task 3": ["test_to_labels_thresholds_at_one_half", "test_to_labels_uses_given_threshold"],
    "Task 4": ["test_boundary_x2_of_a_known_neuron", "test_decisive_feature"],
}
T1, T2, T3, T4 = (TASKS[f"Task {n}"] for n in range(1, 5))


@dataclass
class Expected:
    zero: list                     # graded cells that must score 0; all others keep full points
    status: str = "graded"
    feedback: list = field(default_factory=list)  # text the learner's feedback must contain
    corrected: list = field(default_factory=list)  # cells the out-of-kernel verifier must set to 0


def _before(answers, grade_id, code):
    return {**answers, grade_id: textwrap.dedent(code) + answers[grade_id]}


def _after(answers, grade_id, code):
    return {**answers, grade_id: answers[grade_id].replace("### END SOLUTION", "").rstrip() + "\n"
            + textwrap.dedent(code)}


def _replace(answers, grade_id, code):
    return {**answers, grade_id: textwrap.dedent(code)}


def _cell(notebook, grade_id):
    return next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


UNTRAINED = """\
def train_model(model, X, y):
    return keras.callbacks.History()  # no training at all
"""
WEAK = """\
def train_model(model, X, y):
    model.optimizer.learning_rate.assign(1e-5)
    return model.fit(X, y, epochs=1, verbose=0)  # far too little to learn
"""
SUBCLASSED = """\
class OneNeuron(keras.Model):  # an honest answer that Keras's safe mode cannot load: scored in the sandbox
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.neuron = keras.layers.Dense(1, activation="sigmoid")
    def call(self, inputs):
        return self.neuron(inputs)
def build_model(learning_rate=0.1):
    model = OneNeuron()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model
"""
WRONG_LABELS = """\
def to_labels(probabilities, threshold=0.5):
    return (np.asarray(probabilities).reshape(-1) > 0.5).astype(int)  # ignores the threshold
"""


KERNEL_PROBE = """\
import fcntl, glob, json, os, pwd, sys, tempfile
import keras
def _read(action, path):
    try:
        return action(path)
    except OSError:
        return ""
print("KERNEL-FACTS " + json.dumps({
    "ppid": os.getppid(), "own_session": os.getsid(0) == os.getpid(), "user": pwd.getpwuid(os.getuid()).pw_name,
    "env": sorted(os.environ), "cwd_is_home": os.getcwd() == os.environ["HOME"],
    "tempdir_is_tmpdir": tempfile.gettempdir() == os.environ["TMPDIR"], "sys_path": sys.path,
    "keras_home": keras.src.backend.config.keras_home() == os.environ["KERAS_HOME"],
    "files": [[_read(os.readlink, f"/proc/self/fd/{fd}"), _read(lambda fd: fcntl.fcntl(int(fd), fcntl.F_GETFL)
               & os.O_ACCMODE, fd)] for fd in os.listdir("/proc/self/fd")],
    "processes": [[int(line.split()[1]) for line in _read(lambda f: open(f).read(), path).splitlines()
                   if line.startswith(("Pid:", "PPid:", "Uid:"))] for path in glob.glob("/proc/[0-9]*/status")],
}))
"""


def fixtures(answers):
    """name -> (answers or a function of the filled notebook, Expected)."""
    def notebook_edit(change):
        def apply(notebook):
            change(notebook)
            return notebook
        return apply

    def delete_hidden_threshold_test(notebook):
        notebook.cells = [c for c in notebook.cells
                          if c.metadata.get("nbgrader", {}).get("grade_id") != "test_to_labels_uses_given_threshold"]

    def comment_out_visible_test(notebook):
        cell = _cell(notebook, "test_to_labels_thresholds_at_one_half")
        cell.source = "\n".join("# " + line for line in cell.source.splitlines()) + "\npass"

    def inflate_points(notebook):
        cell = _cell(notebook, "test_build_model_is_one_sigmoid_neuron")
        cell.metadata["nbgrader"]["points"] = 100

    def duplicate_answer(notebook):
        cell = _cell(notebook, "to_labels")
        first = nbformat.from_dict(json.loads(json.dumps(cell)))
        first.source = WRONG_LABELS.replace("> 0.5", "> 0.9")
        notebook.cells.insert(notebook.cells.index(cell), first)

    def other_kernel(notebook):
        notebook.metadata["kernelspec"] = {"name": "python2", "display_name": "Python 2", "language": "python"}

    two_softmax = answers["build_model"].replace('keras.layers.Dense(1, activation="sigmoid")',
                                                 'keras.layers.Dense(2, activation="softmax")').replace(
        '"binary_crossentropy"', '"sparse_categorical_crossentropy"')
    return {
        "00_reference": (answers, Expected([])),
        "00_too_little_training": (_replace(answers, "train_model", WEAK), Expected(T2, feedback=["accuracy"])),
        "01_infinite_loop": (_before(answers, "to_labels", "while True:\n    pass\n"),
                             Expected([], feedback=["CellTimeoutError"])),
        "02_endless_print": (_before(answers, "to_labels", "while True:\n    print('spam ' * 20)\n"),
                             Expected([], feedback=["dropped the rest of this cell's output",
                                                    "so the grader stopped it", "KeyboardInterrupt"])),
        "03_million_epochs": ({**answers, "train_model": answers["train_model"].replace("epochs=50", "epochs=10**6")},
                              Expected(T2, feedback=["CellTimeoutError"])),
        "04_os_exit": (_before(answers, "to_labels", "import os\nos._exit(1)\n"), Expected([], feedback=["KernelDied"])),
        "04_kill_own_process": (_before(answers, "boundary_x2", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"),
                                Expected([], feedback=["KernelDied"])),
        "05_memory_bomb": (_before(answers, "to_labels", "hoard = bytearray(64 * 2**30)\n"),
                           Expected([], feedback=["MemoryError"])),
        "06_background_process": (_after(answers, "to_labels", """\
            _to_labels = to_labels
            def to_labels(probabilities, threshold=0.5):
                import subprocess
                subprocess.Popen(["sleep", "300"], start_new_session=True)  # detached, outlives the cell
                return _to_labels(probabilities, threshold)
            """), Expected([], feedback=["ProcessLeftRunning"])),
        "07_deleted_hidden_test": (_replace(answers, "to_labels", WRONG_LABELS),
                                   Expected(["test_to_labels_uses_given_threshold"], feedback=["were put back"])),
        "08_edited_locked_test": (_replace(answers, "to_labels", "def to_labels(probabilities, threshold=0.5):\n"
                                                                 "    return probabilities\n"), Expected(T3)),
        "09_inflated_points": (_replace(answers, "build_model", two_softmax.replace("### END SOLUTION", "")),
                               Expected(["test_build_model_is_one_sigmoid_neuron"])),
        "09_duplicate_id": (answers, Expected(T3, feedback=["Two cells had the id"])),
        "09_other_kernelspec": (answers, Expected([])),
        "10_silenced_errors": (_before(_replace(answers, "to_labels", "def to_labels(p, threshold=0.5):\n    return p\n"),
                                       "to_labels", """\
            import io, sys
            sys.stderr = io.StringIO()
            get_ipython().showtraceback = lambda *args, **kwargs: None
            """), Expected(T3, feedback=["showtraceback was disabled"])),
        "11_overridden_predict": (_replace(answers, "train_model", """\
            def train_model(model, X, y):
                model.predict = lambda X, *args, **kwargs: (np.asarray(X)[:, 1:2] > 0.5).astype("float32")
                model.evaluate = lambda *args, **kwargs: [0.0, 1.0]
                return keras.callbacks.History()
            """), Expected(T2, corrected=T2, feedback=["Verified outside your notebook"])),
        "12_patched_helpers": (_replace(answers, "train_model", textwrap.dedent("""\
            import helpers.grading, sklearn.metrics
            helpers.grading.accuracy = lambda *args, **kwargs: 1.0
            sklearn.metrics.accuracy_score = lambda *args, **kwargs: 1.0
            """) + UNTRAINED), Expected(T2, corrected=T2, feedback=["Verified outside your notebook"])),
        "13_always_true_accuracy": (_replace(answers, "train_model", textwrap.dedent("""\
            import helpers.grading
            class Always:
                def __ge__(self, other): return True
                def __lt__(self, other): return False
                def __format__(self, spec): return "1.000"
            helpers.grading.accuracy = lambda *args, **kwargs: Always()
            """) + UNTRAINED), Expected(T2, corrected=T2)),
        "13_nan_accuracy": (_replace(answers, "train_model", textwrap.dedent("""\
            import helpers.grading
            helpers.grading.accuracy = lambda *args, **kwargs: float("nan")
            """) + UNTRAINED), Expected(T2)),
        "14_hardcoded_predictions": (_replace(answers, "train_model", """\
            def train_model(model, X, y):
                known = y_test[:, None].astype("float32")  # the visible test split's labels
                model.predict = lambda X, *args, **kwargs: known if len(X) == len(known) else np.zeros((len(X), 1))
                return keras.callbacks.History()
            """), Expected(T2, corrected=["test_train_model_reaches_target_on_test_split"])),
        "15_read_hidden_data": (_before(answers, "to_labels", """\
            import glob
            hidden = open(glob.glob("../../../solutions/*/*.ipynb")[0]).read()
            gradebook = open("../../../gradebook.db", "rb").read()
            """), Expected([], feedback=["IndexError"])),
        "16_grader_only_branch": (_replace(answers, "train_model", textwrap.dedent("""\
            import os
            print("grader variables seen:", sorted(k for k in os.environ if "GRADER" in k))
            if "NBGRADER_EXECUTION" in os.environ:
                def train_model(model, X, y):  # only under the grader: fake the predictions
                    model.predict = lambda X, *args, **kwargs: (np.asarray(X)[:, 1:2] > 0.5).astype("float32")
                    return keras.callbacks.History()
            else:
            """) + textwrap.indent(WEAK, "    ")), Expected(T2, feedback=["grader variables seen: []"])),
        "17_none_for_a_model": (_replace(answers, "build_model", "def build_model(learning_rate=0.1):\n    return None\n"),
                                Expected(T1 + T2, feedback=["Keras model"])),
        "17_function_for_a_model": (_replace(answers, "build_model", "def build_model(learning_rate=0.1):\n"
                                                                     "    return single_neuron_task\n"),
                                    Expected(T1 + T2, feedback=["Keras model"])),
        "18_wrong_output_shape": (_replace(answers, "build_model", two_softmax.replace("### END SOLUTION", "")),
                                  Expected(["test_build_model_is_one_sigmoid_neuron"])),
        "19_not_json": (None, Expected([*T1, *T2, *T3, *T4], status="invalid", feedback=["not a valid notebook"])),
        "19_missing_notebook": (None, Expected([*T1, *T2, *T3, *T4], status="missing", feedback=["No notebook"])),
        "19_renamed_notebook": (answers, Expected([], feedback=["instead of"])),
        "20_huge_notebook": (None, Expected([*T1, *T2, *T3, *T4], status="too large", feedback=["the limit is"])),
        "21_network_access": (_before(answers, "to_labels", """\
            import urllib.request
            urllib.request.urlopen("https://pypi.org/simple/", timeout=10).read()
            """), Expected([], feedback=["URLError"])),
        "22_stderr_warning": (_replace(answers, "train_model", """\
            import sys, warnings
            def train_model(model, X, y):
                warnings.warn("a library warning on standard error")
                print("training...", file=sys.stderr)
                return model.fit(X, y, epochs=50, batch_size=32, verbose=0)
            """), Expected([])),
        "23_write_the_gradebook": (_before(answers, "to_labels", """\
            import sqlite3
            sqlite3.connect("../../../gradebook.db").execute("update grade set manual_score = 99")
            """), Expected([], feedback=["OperationalError"])),
        "23_plant_grader_files": (_before(answers, "boundary_x2", """\
            open("../planted_for_the_next_kernel.py", "w").write("import os")  # beside other learners' kernels
            """), Expected([], feedback=["PermissionError"])),
        "24_skipped_keeping_and_patched_accuracy": (_replace(answers, "train_model", textwrap.dedent("""\
            import helpers.grading
            helpers.grading.keep_for_verification = lambda *args, **kwargs: None  # nothing for the verifier
            helpers.grading.accuracy = lambda *args, **kwargs: 1.0
            """) + UNTRAINED), Expected(T2, corrected=T2, feedback=["could not be checked outside it"])),
        "25_subclassed_model": (_replace(answers, "build_model", SUBCLASSED), Expected([])),
        "26_kernel_probe": (_before(answers, "build_model", KERNEL_PROBE), Expected([])),
        "_notebook_edits": ({
            "07_deleted_hidden_test": notebook_edit(delete_hidden_threshold_test),
            "08_edited_locked_test": notebook_edit(comment_out_visible_test),
            "09_inflated_points": notebook_edit(inflate_points),
            "09_duplicate_id": notebook_edit(duplicate_answer),
            "09_other_kernelspec": notebook_edit(other_kernel),
        }, None),
    }


def build_inbox(inbox, released, answers, names=None):
    """Write every fixture (or those in ``names``) into ``inbox``; return ``{name: Expected}``."""
    table = fixtures(answers)
    edits = table.pop("_notebook_edits")[0]
    expected = {}
    for name, (fixture_answers, outcome) in table.items():
        if names is not None and name not in names:
            continue
        folder = Path(inbox) / name / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        expected[name] = outcome
        if name == "19_not_json":
            (folder / NOTEBOOK).write_text('{"cells": [ this is not JSON')
        elif name == "19_missing_notebook":
            (folder / "notes.txt").write_text("I forgot to attach it")
        elif name == "20_huge_notebook":
            with open(folder / NOTEBOOK, "wb") as stream:
                stream.truncate(300 * 2**20)  # 300 MiB on disk (sparse): never opened
        else:
            notebook = course.fill_answers(released, fixture_answers)
            if name in edits:
                notebook = edits[name](notebook)
            target = folder / ("my_work.ipynb" if name == "19_renamed_notebook" else NOTEBOOK)
            nbformat.write(notebook, target)
    return expected


def leftover_processes(user="course-sandbox"):
    """Processes still running as the sandbox user (there must be none after grading)."""
    import psutil

    return [p.info for p in psutil.process_iter(["pid", "name", "username", "cmdline"]) if p.info["username"] == user
            and os.getpid() != p.info["pid"]]
