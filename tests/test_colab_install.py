"""The install line that every notebook's setup cell runs on Colab really installs the helpers.

No internet here, so the repository is a local git copy of this one (its committed HEAD, on the branch that
``_config.yml`` names) reached by a ``file://`` URL, and the URL is the only part of the notebook's command that
changes. The install goes into a fresh virtual environment. Colab comes with Keras, TensorFlow, NumPy, Matplotlib
and scikit-learn installed; so does that environment, by seeing this environment's packages (all but the helpers
themselves, which it must install). Then the first cells of chapter 1 run there, as on Colab, from a folder
that holds no copy of the course.
"""

import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from tools import course_url

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "ch01_single_neuron.ipynb"

pytestmark = pytest.mark.slow


def notebook_install_command(path):
    """The pip arguments of the %pip line in a notebook's setup cell, exactly as written."""
    cell = next(cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    line = next(line.strip() for line in cell.source.splitlines() if line.strip().startswith("%pip install"))
    return shlex.split(line.removeprefix("%pip "))


def colab_like_environment(folder):
    """A fresh virtual environment that sees this environment's packages except the course's own."""
    # Without its own pip: Python 3.11 bundles pip 23.2, which rejects git+file:// URLs; this environment's
    # recent pip is among the packages it sees (Colab, too, has a recent pip).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    preinstalled = folder / "preinstalled"
    preinstalled.mkdir()
    ours = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p, "keras").exists()))
    for entry in ours.iterdir():
        name = entry.name.lower()
        if "keras_classification_helpers" in name or name.startswith("__editable__") or name.endswith(".pth"):
            continue
        (preinstalled / entry.name).symlink_to(entry)
    site = next((folder / "lib").glob("python3*/site-packages"))
    (site / "preinstalled.pth").write_text(str(preinstalled) + "\n")
    return folder / "bin" / "python"


def test_the_notebooks_install_line_installs_the_helpers_into_a_fresh_environment(tmp_path):
    url, branch = course_url.configured()
    command = notebook_install_command(CHAPTER)
    assert command == ["install", "--quiet", f"keras-classification-helpers @ git+{url}@{branch}"]

    mirror = tmp_path / "course.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(ROOT), str(mirror)], check=True)
    heads = subprocess.run(["git", "branch", "--list"], cwd=mirror, capture_output=True, text=True, check=True).stdout
    if branch not in heads.replace("*", "").split():
        current = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        subprocess.run(["git", "branch", branch, current.stdout.strip()], cwd=mirror, check=True)
    local = [part.replace(f"git+{url}@", f"git+file://{mirror}@") for part in command]

    python = colab_like_environment(tmp_path / "venv")
    outside = tmp_path / "colab"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    installed = subprocess.run([str(python), "-m", "pip", *local], cwd=outside, env=env, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "ERROR" not in installed.stdout + installed.stderr

    # The first cells of chapter 1, as on Colab: google.colab present, %pip recorded (the install is done).
    cells = [cell.source for cell in nbformat.read(CHAPTER, as_version=4).cells if cell.cell_type == "code"][:2]
    script = textwrap.dedent(f"""
        import json, sys, types
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        pip_lines = []
        shell.register_magic_function(lambda line: pip_lines.append(line), magic_kind="line", magic_name="pip")
        sys.modules["google.colab"] = types.ModuleType("google.colab")
        for source in json.loads({json.dumps(json.dumps(cells))}):
            shell.run_cell(source, store_history=False).raise_error()
        import helpers
        namespace = shell.user_ns
        print(json.dumps({{"helpers": helpers.__file__, "pip": pip_lines, "X_train": list(namespace["X_train"].shape),
                          "env": repr(namespace["env"])}}))
    """)
    ran = subprocess.run([str(python), "-c", script], cwd=outside, env={**env, "TF_CPP_MIN_LOG_LEVEL": "2"},
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert Path(report["helpers"]).is_relative_to(tmp_path / "venv" / "lib"), report["helpers"]
    assert report["pip"] == [f'install --quiet "keras-classification-helpers @ git+{url}@{branch}"']
    assert report["X_train"] == [300, 2] and "Keras 3" in report["env"]
