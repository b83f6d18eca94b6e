"""Reproducible, quiet notebooks: seeding, version checks and TensorFlow's start-up noise.

Keras is imported inside the functions of this module, not at its top, on purpose:
:func:`setup` must quiet TensorFlow *before* Keras is imported for the first time.
"""

import contextlib
import os
import random
import sys
from dataclasses import dataclass

import numpy as np

MIN_KERAS = (3, 0)


@contextlib.contextmanager
def silenced_stderr():
    """Send everything written to standard error, by Python or by C++ code, to /dev/null.

    TensorFlow's C++ core writes start-up messages straight to file descriptor 2, where
    ``TF_CPP_MIN_LOG_LEVEL`` no longer reaches them. Jupyter shows those as red
    error-looking boxes, and nbgrader scores a test cell with any stderr output as zero.
    Use this around imports only: never hide the errors of code you are debugging.
    """
    sys.stderr.flush()
    saved_fd = os.dup(2)
    saved_stream = sys.stderr
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            sys.stderr = devnull
            try:
                yield
            finally:
                sys.stderr = saved_stream
                os.dup2(saved_fd, 2)
    finally:
        os.close(saved_fd)


def set_seed(seed):
    """Seed Python, NumPy and the Keras backend so that a notebook gives the same numbers twice.

    Parameters
    ----------
    seed : int
        Any non-negative integer.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    import keras

    random.seed(int(seed))
    np.random.seed(int(seed))
    keras.utils.set_random_seed(int(seed))


def import_keras_quietly():
    """Import Keras (and its TensorFlow backend) without TensorFlow's start-up messages.

    Returns
    -------
    module
        The ``keras`` module.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" not in sys.modules:
        with silenced_stderr():
            import keras  # noqa: F401  (the import is the point)
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                tf.get_logger().setLevel("ERROR")
    import keras

    return keras


@dataclass(frozen=True)
class Environment:
    """What :func:`setup` found; shows as one line in a notebook."""

    keras_version: str
    backend: str
    seed: int
    gpus: tuple

    @property
    def has_gpu(self):
        return bool(self.gpus)

    def __repr__(self):
        device = f"GPU: {', '.join(self.gpus)}" if self.gpus else "no GPU, running on the CPU"
        return f"Keras {self.keras_version} ({self.backend} backend) · seed {self.seed} · {device}"


def _visible_gpus(keras):
    if keras.backend.backend() != "tensorflow":
        return ()
    import tensorflow as tf

    return tuple(gpu.name.replace("/physical_device:", "") for gpu in tf.config.list_physical_devices("GPU"))


def setup(seed=42):
    """Prepare a chapter or exercise notebook: quiet imports, version check, seeds, GPU report.

    Parameters
    ----------
    seed : int, default 42

    Returns
    -------
    Environment
        Versions, seed and GPUs; its ``repr`` is a one-line summary.

    Raises
    ------
    RuntimeError
        If the installed Keras is older than Keras 3.
    """
    keras = import_keras_quietly()
    version = tuple(int(part) for part in keras.__version__.split(".")[:2])
    if version < MIN_KERAS:
        raise RuntimeError(
            f"This course needs Keras 3 or newer, but Keras {keras.__version__} is installed. "
            "Run `pip install -U keras tensorflow` and restart the kernel."
        )
    set_seed(seed)
    return Environment(keras.__version__, keras.backend.backend(), int(seed), _visible_gpus(keras))


_NOT_THE_LESSON = ("Graph execution error", "Detected at node", "File ", "[[", "Stack trace")


@contextlib.contextmanager
def show_error(lines=2, width=160):
    """Run a block that must fail, and print its error short: the type and the lines of the message that say what
    went wrong (TensorFlow's node names and internal file list are left out), each cut at ``width`` characters.

    The chapters use it where the last line of a long traceback is the lesson::

        with show_error():
            keras.optimizers.Adam(lr=0.1)

    prints ``ValueError: Argument(s) not recognized: {'lr': 0.1}`` instead of 40 lines of Keras internals. A block
    that does not fail raises an ``AssertionError``, so a chapter cannot go on claiming an error that no longer
    happens.
    """
    try:
        yield
    except Exception as error:  # noqa: BLE001 - every error is the point here
        message = [line.rstrip() for line in str(error).splitlines()
                   if line.strip() and not line[0].isspace() and not line.startswith(_NOT_THE_LESSON)] or [""]
        shown = [line if len(line) <= width else line[:width] + " [...]" for line in message[:lines]]
        more = " [...]" if len(message) > lines else ""
        print(f"{type(error).__name__}: " + "\n".join(shown) + more)
    else:
        raise AssertionError("show_error: the block was expected to raise an error, and it did not")


def glue(**values):
    """Keep measured values for the prose around a cell: ``glue(test_accuracy=0.891)``.

    In the built book, a markdown cell that writes ``{glue:text}`test_accuracy:.3f``` shows the value this cell
    computed, so a sentence and the output it describes cannot drift apart (this is myst-nb's ``glue``, which
    ``tests/test_chapters.py`` checks). Where myst-nb is not installed, as on Colab, it does nothing: read the number
    in the cell's printed output instead. Values must be numbers or strings.
    """
    for name, value in values.items():
        if not isinstance(value, (int, float, str, np.integer, np.floating)):
            raise TypeError(f"glue: {name} is a {type(value).__name__}; glue a number or a string (float(x), f'{{x}}')")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    for name, value in values.items():
        myst_glue(name, value.item() if isinstance(value, np.generic) else value, display=False)
