"""Every chapter and exercise starts with one setup cell that installs the helpers on Colab and nowhere else.

The cell is run in a real IPython shell, once as on Colab (a ``google.colab`` module present) and
once as on a laptop, with the ``%pip`` magic replaced by a recorder: the test checks the exact
install command, and that the repository it installs from is the one ``_config.yml`` names.
"""

import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml
from IPython.core.interactiveshell import InteractiveShell

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("book/*.ipynb"), *ROOT.glob("solutions/*/*.ipynb"), *ROOT.glob("exercises/*/*.ipynb")])


def setup_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code cell"
    return code[0].source


@pytest.fixture(scope="module")
def shell():
    shell = InteractiveShell.instance()
    commands = []
    shell.register_magic_function(lambda line: commands.append(line), magic_kind="line", magic_name="pip")
    shell.recorded_pip = commands
    yield shell
    InteractiveShell.clear_instance()


def run_setup(shell, source, on_colab):
    shell.recorded_pip.clear()
    if on_colab:
        sys.modules["google.colab"] = types.ModuleType("google.colab")
    try:
        result = shell.run_cell(source, store_history=False)
    finally:
        sys.modules.pop("google.colab", None)
    result.raise_error()
    return list(shell.recorded_pip), shell.user_ns["env"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: str(path.relative_to(ROOT)))
def test_setup_cell_installs_the_helpers_from_the_configured_repository_on_colab_only(shell, path):
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    source = setup_cell(path)
    assert "from helpers.repro import setup" in source, f"{path.name}: the first code cell must be the setup cell"

    on_colab, env = run_setup(shell, source, on_colab=True)
    assert on_colab == [f'install --quiet "keras-classification-helpers @ git+{repository}"']
    assert "GPU" in repr(env)  # the cell ends by saying whether a GPU is present

    elsewhere, _ = run_setup(shell, source, on_colab=False)
    assert elsewhere == []
