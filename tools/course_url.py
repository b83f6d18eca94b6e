"""One value says where the course lives: ``repository.url`` and ``repository.branch`` in ``_config.yml``.

Everything else that names the repository follows it: the install line of every notebook's setup cell (chapters,
solutions and, through ``nbgrader generate_assignment``, the learner notebooks), and every Colab link in the
README and the book's pages. The book's launch buttons read ``_config.yml`` themselves.

    python -m tools.course_url            rewrite them all to match _config.yml, then regenerate exercises/
    python -m tools.course_url --check    list what disagrees with _config.yml (exit 1 if anything), change nothing

A fork changes ``repository.url`` (and ``branch``) in ``_config.yml``, runs the first command, and commits.
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "keras-classification-helpers"
_INSTALL = re.compile(r'%pip install --quiet "' + re.escape(PACKAGE) + r' @ git\+[^"]*"')
_COLAB = re.compile(r"https://colab\.research\.google\.com/github/[^/\s)`'\"]+/[^/\s)`'\"]+/blob/[^/\s)`'\"]+/")
_GITHUB = "https://github.com/"


def configured(root=ROOT):
    """``(url, branch)`` from ``_config.yml``; a clear error if the url is not a GitHub repository."""
    repository = yaml.safe_load((Path(root) / "_config.yml").read_text())["repository"]
    url, branch = repository["url"].rstrip("/"), repository.get("branch") or "main"
    if not url.startswith(_GITHUB) or len(url[len(_GITHUB):].split("/")) != 2:
        raise ValueError(f"_config.yml: repository.url must look like https://github.com/OWNER/NAME, not {url!r}")
    return url, branch


def install_line(url, branch):
    """The setup cell's install command: the helpers package from that repository, pinned to that branch."""
    return f'%pip install --quiet "{PACKAGE} @ git+{url}@{branch}"'


def colab_prefix(url, branch):
    """What every Colab link to a notebook of the course starts with."""
    return f"https://colab.research.google.com/github/{url[len(_GITHUB):]}/blob/{branch}/"


def _notebooks(root):
    root = Path(root)
    return sorted([*root.glob("book/*.ipynb"), *root.glob("solutions/*/*.ipynb"), *root.glob("exercises/*/*.ipynb")])


def _pages(root):
    root = Path(root)
    return sorted([root / "README.md", *root.glob("book/*.md"), root / "grader" / "README.md"])


def _fix_text(text, url, branch):
    text = _INSTALL.sub(lambda _: install_line(url, branch), text)
    return _COLAB.sub(lambda _: colab_prefix(url, branch), text)


def disagreements(root=ROOT):
    """``[(path, what)]``: every install line or Colab link that does not match ``_config.yml``."""
    url, branch = configured(root)
    found = []
    for path in _notebooks(root):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if _fix_text(cell.source, url, branch) != cell.source:
                found.append((path, f"cell {index}"))
    for path in _pages(root):
        if path.exists() and _fix_text(path.read_text(), url, branch) != path.read_text():
            found.append((path, "a Colab link"))
    return found


def rewrite(root=ROOT):
    """Rewrite install lines and Colab links to match ``_config.yml``; return the files changed."""
    url, branch = configured(root)
    changed = []
    for path in _notebooks(root):
        notebook = nbformat.read(path, as_version=4)
        edited = False
        for cell in notebook.cells:
            fixed = _fix_text(cell.source, url, branch)
            if fixed != cell.source:
                cell.source, edited = fixed, True
        if edited:
            nbformat.write(notebook, path)
            changed.append(path)
    for path in _pages(root):
        if path.exists():
            fixed = _fix_text(path.read_text(), url, branch)
            if fixed != path.read_text():
                path.write_text(fixed)
                changed.append(path)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list what disagrees with _config.yml")
    args = parser.parse_args(argv)
    try:
        url, branch = configured()
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if args.check:
        found = disagreements()
        for path, what in found:
            print(f"{path.relative_to(ROOT)}: {what} does not point at {url} ({branch})")
        print(f"{len(found)} place(s) disagree with _config.yml" if found else f"everything points at {url} ({branch})")
        return 1 if found else 0
    changed = rewrite()
    for path in changed:
        print(f"rewrote {path.relative_to(ROOT)}")
    if any(path.is_relative_to(ROOT / "solutions") for path in changed):
        import tempfile

        from tools.nbgrader_course import regenerate_exercises

        with tempfile.TemporaryDirectory() as scratch:
            regenerate_exercises(Path(scratch) / "course")
        print("regenerated exercises/ from solutions/ (nbgrader generate_assignment)")
    print(f"everything points at {url} ({branch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
