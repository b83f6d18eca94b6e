"""Every chapter notebook in the book runs top to bottom, with no error and no stray stderr.

The chapters are executed once per session, by the book build that the site tests open too (``built_book`` in
``tests/conftest.py``); these tests read each executed notebook back from that build's execute cache."""


import nbformat
import pytest

from tools import site
from tools.site import ROOT, chapter_files, exercise_files


def toc_notebooks():
    return [ROOT / f"{name}.ipynb" for name in chapter_files()]


def test_toc_lists_every_chapter_notebook():
    in_book = {p.name for p in (ROOT / "book").glob("*.ipynb")}
    assert in_book and in_book == {p.name for p in toc_notebooks()}


@pytest.mark.slow
@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.stem)
def test_chapter_executes_top_to_bottom(path, built_book):
    stored = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in stored.cells), "store chapters without outputs"
    executed = site.executed_notebook(built_book.output, path)
    # The execute cache keeps the code cells only, with their outputs; their tags are in the stored notebook.
    code = [(index, cell) for index, cell in enumerate(stored.cells) if cell.cell_type == "code"]
    assert len(executed.cells) == len(code)
    for (index, cell), ran in zip(code, executed.cells):
        assert ran.source == cell.source, f"cell {index}: the cache holds another version of it"
        tags = cell.metadata.get("tags", [])
        kinds = [(o.output_type, o.get("name")) for o in ran.outputs]
        if "raises-exception" in tags:
            assert ("error", None) in kinds, f"cell {index} is tagged raises-exception but raised nothing"
        else:
            assert ("error", None) not in kinds, f"cell {index} raised: {ran.outputs}"
        assert ("stream", "stderr") not in kinds, f"cell {index} wrote to stderr: {ran.outputs}"
        if "hide-input" in tags:  # figure cells: the figure must be there
            assert any("image/png" in o.get("data", {}) for o in ran.outputs), f"cell {index} drew no figure"



def test_toc_shows_every_exercise_notebook():
    handed_out = {path.relative_to(ROOT).with_suffix("").as_posix() for path in (ROOT / "exercises").glob("*/*.ipynb")}
    assert handed_out and handed_out == set(exercise_files())


@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.stem)
def test_no_sentence_breaks_into_a_numbered_list(path):
    """A wrapped line that starts with "1." after a line of running text renders as a stray list item
    (chapter 5 once showed "...add up to" and then "1. The loss compares them")."""
    import re

    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for before, line in zip(lines, lines[1:]):
            starts_list = re.match(r"\s*\d+[.)]\s", line)
            text_before = before.strip() and not before[:1].isspace() and not re.match(r"\s*(\d+[.)]|[-*+])\s", before) and not before.startswith(("#", "|", ">"))
            if starts_list and text_before and not before.rstrip().endswith(":"):
                raise AssertionError(f"cell {index}: {line.strip()[:60]!r} follows running text: a stray list item?")


@pytest.mark.parametrize("path", toc_notebooks()[:5], ids=lambda p: p.stem)
def test_chapters_one_to_five_end_by_linking_their_exercise(path):
    """Each of chapters 1-5 has a graded exercise of the same name; its last section links it, on Colab and as a file."""
    last = nbformat.read(path, as_version=4).cells[-1].source
    assert "## Exercise" in last, f"{path.name}: no Exercise section at the end"
    assert f"exercises/{path.stem}/{path.stem}.ipynb" in last.split("## Exercise")[1]


@pytest.mark.slow
@pytest.mark.parametrize("path", toc_notebooks(), ids=lambda p: p.stem)
def test_numbers_in_the_prose_come_from_the_cells(path, built_book):
    """A measured-looking number in a chapter's prose (a decimal or a percentage) is one that a cell of the executed
    chapter printed or states, or a ``{glue}`` role that names a value a cell glued (``tools/prose_numbers.py``
    says exactly what counts). A rerun that changes an output the prose quotes fails here."""
    from tools.prose_numbers import problems, with_outputs

    stored = nbformat.read(path, as_version=4)
    found = problems(with_outputs(stored, site.executed_notebook(built_book.output, path)))
    assert not found, "\n".join(found)


def test_the_prose_number_check_catches_a_number_no_cell_showed():
    from tools.prose_numbers import problems

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(accuracy)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="test accuracy 0.7831, learning rate 0.03\n")]),
        nbformat.v4.new_markdown_cell('It reaches 0.78 (78 %) at 0.03; the learner saw "35 %"; $e^{0.5}$, `0.9`.'),
        nbformat.v4.new_markdown_cell("It reaches 0.81 and 35 %, as {glue:text}`missing:.2f` says."),
    ])
    assert problems(notebook) == [
        "cell 2: 0.81 is in the prose, but no cell printed, stated or glued it",
        "cell 2: 35 % is in the prose, but no cell printed, stated or glued it",
        "cell 2: glue role 'missing' names a value that no cell glued",
    ]
