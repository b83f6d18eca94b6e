"""A Sphinx extension for the book: every build writes ``exercises.zip`` next to the HTML, holding each learner
notebook of ``exercises/`` as it is handed out (``exercises/<assignment>/<assignment>.ipynb``). The Exercises page
links it; the browser test (tests/test_site.py) downloads it and compares it with the repository's notebooks."""

import zipfile
from pathlib import Path

NAME = "exercises.zip"


def notebooks(source):
    """The learner notebooks, in a stable order, as ``(path, name inside the zip)``."""
    source = Path(source)
    return [(path, path.relative_to(source).as_posix()) for path in sorted(source.glob("exercises/*/*.ipynb"))]


def write_zip(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    files = notebooks(app.srcdir)
    if not files:
        raise RuntimeError(f"no learner notebooks under {app.srcdir}/exercises: cannot write {NAME}")
    with zipfile.ZipFile(Path(app.outdir) / NAME, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in files:
            # A fixed date, so that the same notebooks always give the same zip.
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def setup(app):
    app.connect("build-finished", write_zip)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
