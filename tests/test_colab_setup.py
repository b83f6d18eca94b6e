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
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    source = setup_cell(path)
    assert "from helpers.repro import setup" in source, f"{path.name}: the first code cell must be the setup cell"

    on_colab, env = run_setup(shell, source, on_colab=True)
    assert on_colab == [f'install --quiet "keras-classification-helpers @ git+{repository["url"]}@{repository["branch"]}"']
    assert "GPU" in repr(env)  # the cell ends by saying whether a GPU is present

    elsewhere, _ = run_setup(shell, source, on_colab=False)
    assert elsewhere == []


@pytest.mark.parametrize("path", NOTEBOOKS[:1] + [p for p in NOTEBOOKS if "exercises" in p.parts][:1],
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_setup_cell_says_what_to_do_when_the_helpers_are_missing(shell, path):
    """On Colab without network (or from a private fork) the %pip line fails and the helpers are missing:
    the cell stops with one clear sentence, not a ModuleNotFoundError traceback."""
    saved = {name: module for name, module in sys.modules.items() if name == "helpers" or name.startswith("helpers.")}
    sys.modules["helpers.repro"] = None  # what Python sees when the package is not installed
    try:
        with pytest.raises(SystemExit, match="helpers are not installed.*internet.*make book"):
            shell.run_cell(setup_cell(path), store_history=False).raise_error()
    finally:
        sys.modules.pop("helpers.repro", None)
        sys.modules.update(saved)


def test_one_value_in_config_drives_every_install_line_and_colab_link(tmp_path):
    """A fork changes repository.url and branch in _config.yml and runs the README's command: afterwards no
    notebook (chapter, solution or regenerated learner notebook), page or link names the old repository."""
    import shutil
    import subprocess

    from tools import course_url

    old_url, old_branch = course_url.configured()
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    fork = tmp_path / "fork"
    for name in files:
        if (ROOT / name).is_file():
            (fork / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, fork / name)
    config = (fork / "_config.yml").read_text()
    assert f"url: {old_url}" in config and f"branch: {old_branch}" in config
    (fork / "_config.yml").write_text(config.replace(f"url: {old_url}", "url: https://github.com/a-teacher/our-course")
                                      .replace(f"branch: {old_branch}", "branch: spring-term"))

    before = subprocess.run([sys.executable, "-m", "tools.course_url", "--check"], cwd=fork, capture_output=True, text=True)
    assert before.returncode == 1 and "exercises/" in before.stdout, before.stdout
    done = subprocess.run([sys.executable, "-m", "tools.course_url"], cwd=fork, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

    old_name = old_url.removeprefix("https://github.com/")
    left = [str(path.relative_to(fork)) for path in fork.rglob("*") if path.suffix in (".ipynb", ".md", ".yml", ".py")
            and path.is_file() and old_name in path.read_text(errors="replace")]
    assert left == [], f"still naming {old_name}: {left}"
    for notebook in sorted(fork.glob("exercises/*/*.ipynb")) + sorted(fork.glob("book/*.ipynb")):
        assert 'git+https://github.com/a-teacher/our-course@spring-term"' in setup_cell(notebook), notebook
    assert "colab.research.google.com/github/a-teacher/our-course/blob/spring-term/exercises/" in (fork / "README.md").read_text()
    check = subprocess.run([sys.executable, "-m", "tools.course_url", "--check"], cwd=fork, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_every_install_line_and_colab_link_agrees_with_config():
    from tools import course_url

    assert course_url.disagreements() == [], "run `python -m tools.course_url` (README: Publishing a fork)"
