"""The book as a web site: its pages, a timed build, and a local web server to look at it.

Used by the browser tests (``tests/test_site.py``) and by ``bench/run_bench.py``::

    python -m tools.site build /tmp/site     # build into /tmp/site/_build/html, twice, and print both times
"""

import argparse
import functools
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files():
    """Every file of ``_toc.yml`` in reading order, without extension: the root, then parts, chapters and sections."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        walk(part["chapters"])
    return files


def chapter_files():
    """The chapter notebooks (``book/chNN_*``), in order."""
    return [name for name in toc_files() if name.startswith("book/ch")]


def exercise_files():
    """The learner notebooks shown in the book (``exercises/<assignment>/<notebook>``), in order."""
    return [name for name in toc_files() if name.startswith("exercises/")]


OFFLINE = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "offline"]


def can_cut_network():
    """Whether this machine lets us run a command with no network but loopback (Linux, as root): see ``build``."""
    try:
        return subprocess.run([*OFFLINE, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def figure_cells(name):
    """The code cells of a chapter that draw a figure: the chapters tag them ``hide-input``, or give them a figure
    caption where the code is the lesson and stays visible (chapter 2 draws a decision boundary by hand)."""
    import nbformat

    notebook = nbformat.read(ROOT / f"{name}.ipynb", as_version=4)
    return [cell for cell in notebook.cells if cell.cell_type == "code"
            and ("hide-input" in cell.metadata.get("tags", []) or "figure" in cell.metadata.get("mystnb", {}))]


def build(output, *, offline=False, all_pages=False, log=None):
    """Run ``jupyter-book build`` of this repository into ``output/_build/html``; return the seconds it took.

    Warnings are errors, as in ``make book``. Notebook outputs are cached in ``output/_build/.jupyter_cache``, so a
    second build with no change executes nothing. ``offline=True`` runs the build in a network namespace of its own
    with only loopback (which the kernels need), so any download fails the build. On failure the error names the
    log to read.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    log = Path(log or output / "build.log")
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", "--warningiserror", "--keep-going",
               "--path-output", str(output), str(ROOT)]
    if all_pages:
        command.insert(2, "--all")
    if offline:
        command = [*OFFLINE, *command]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.perf_counter()
    with open(log, "w") as stream:
        result = subprocess.run(command, cwd=ROOT, env=env, stdout=stream, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise RuntimeError(f"jupyter-book build failed (exit {result.returncode}); full log in {log}:\n{tail}")
    return seconds


def executed_notebook(output, path):
    """The notebook at ``path`` as the build into ``output`` executed it, outputs and all, read back from the
    build's execute cache (``output/_build/.jupyter_cache``); a ``LookupError`` if that build did not execute
    this version of it."""
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(Path(output) / "_build" / ".jupyter_cache")
    notebook = nbformat.read(path, as_version=4)
    try:
        record = cache.match_cache_notebook(notebook)
    except KeyError as error:
        raise LookupError(f"{path} is not in the execute cache of the build in {output}: {error}") from None
    return cache.get_cache_bundle(record.pk).nb


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(directory):
    """Serve ``directory`` on a free localhost port for the duration of the block; yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser("build", help="build the book twice into OUTPUT and print both times")
    build_command.add_argument("output", type=Path)
    build_command.add_argument("--offline", action="store_true", help="build with no network (needs root on Linux)")
    args = parser.parse_args(argv)
    first = build(args.output, offline=args.offline)
    second = build(args.output, offline=args.offline, log=args.output / "build-again.log")
    print(f"first build  {first:7.1f} s  (executes every chapter that is not cached in {args.output})")
    print(f"second build {second:7.1f} s  (no change: executes nothing)  {first / second:.0f}x faster")


if __name__ == "__main__":
    main()
