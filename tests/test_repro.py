import os

import numpy as np
import pytest

from helpers.repro import Environment, set_seed, setup, silenced_stderr


def test_set_seed_makes_numpy_and_keras_repeat():
    import keras

    set_seed(3)
    first = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    set_seed(3)
    second = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("bad", [-1, 1.5, "7", None])
def test_set_seed_rejects_non_integers(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        set_seed(bad)


def test_setup_reports_keras_3_and_the_seed():
    env = setup(seed=5)
    assert isinstance(env, Environment)
    assert int(env.keras_version.split(".")[0]) >= 3
    assert "seed 5" in repr(env)
    assert ("GPU" in repr(env)) and (env.has_gpu == bool(env.gpus))


def test_silenced_stderr_hides_python_and_file_descriptor_writes(capfd):
    import sys

    with silenced_stderr():
        print("python-level", file=sys.stderr)
        os.write(2, b"fd-level\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_show_error_prints_the_error_short_and_insists_on_one(capsys):
    import pytest

    from helpers.repro import show_error

    with show_error():
        raise ValueError("first line\nsecond line\nthird line")
    assert capsys.readouterr().out == "ValueError: first line\nsecond line [...]\n"
    # TensorFlow's shape: the lesson comes after the node name and the internal files
    with show_error(lines=1, width=40):
        raise RuntimeError("Graph execution error:\n\nDetected at node loss defined at:\n  File \"x.py\", line 1\n\n"
                           "Received a label value of 2 which is outside the valid range of [0, 2).\n\t [[{{node loss}}]]")
    assert capsys.readouterr().out == "RuntimeError: Received a label value of 2 which is out [...]\n"
    with pytest.raises(AssertionError, match="expected to raise"):
        with show_error():
            pass


def test_glue_stores_numbers_for_the_prose_and_refuses_arrays():
    """The chapters glue measured numbers (``tests/test_chapters.py`` checks the prose that reads them); an array
    would paste as its repr, so it is refused with a message that says what to glue."""
    import numpy as np

    from helpers.repro import glue

    glue(test_accuracy=np.float32(0.891), epochs=8, label="ok")  # outside a kernel: nothing to display, no error
    with pytest.raises(TypeError, match="glue a number or a string"):
        glue(accuracies=np.array([0.5, 0.9]))
