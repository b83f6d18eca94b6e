"""Measured numbers in a chapter's prose must come from its cells.

A sentence that says "accuracy 0.783" next to a cell that printed 0.781 is the drift this check catches. The rule,
for the markdown of one executed chapter:

- a number with a decimal point (``0.783``, ``2.3``) or a percentage (``35 %``) in running text is *measured-looking*;
- it passes if a cell printed it (any number in the cell outputs that rounds to it: ``0.78`` matches a printed
  ``0.7831``, ``35 %`` matches a printed ``0.349``), or if the code itself states it (a learning rate of ``0.03``);
- numbers inside math (``$...$``), inline code, links, version numbers and quotations ("stuck at 35 %", the words
  of the learner who asked) are not measurements of this chapter's cells; ``{glue}`` roles are checked instead to
  name a value that a cell glued (``helpers.repro.glue``).

Whole numbers without a decimal point are left alone: they are counts and settings (10 epochs, 784 pixels, 3 classes),
and the prose does arithmetic with them. Run ``python -m tools.prose_numbers <executed notebook>...`` to list what
fails.
"""

import re
import sys
from pathlib import Path

_SKIP = re.compile(
    r"\$\$.*?\$\$"            # display math
    r"|\$[^$]+\$"             # inline math, which may wrap onto the next line
    r"|```.*?```"             # fenced code
    r"|`[^`\n]*`"             # inline code (and the argument of a role)
    r"|\]\([^)]*\)"           # link targets
    r"|https?://\S+"
    r"|\"[^\"]*\"|“[^”]*”"  # quotations: what a learner said or saw, not what a cell measured
    r"|(?:Python|TensorFlow|Keras|NumPy|version)\s+\d+(?:\.\d+)+",  # versions
    re.S)
_GLUE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)(?::[^`]*)?`")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:,\d{3})*(?:\.\d+)?)(\s?%)?(?![\w])")
_ANY_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _text_outputs(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            yield output.get("text", "")
        elif "text/plain" in output.get("data", {}):
            yield output["data"]["text/plain"]


def glued_names(notebook):
    """The names a notebook's cells glued with myst-nb's ``glue``."""
    names = set()
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                names.add(name)
    return names


def shown_numbers(notebook):
    """Every number that a code cell's source states or its outputs print, as floats."""
    values = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for text in [cell.source, *_text_outputs(cell)]:
            for token in _ANY_NUMBER.findall(text.replace(",", "").replace("_", "")):
                try:
                    values.add(float(token))
                except ValueError:
                    pass
    return values


def _shown(token, percent, values):
    number = float(token.replace(",", ""))
    decimals = len(token.split(".")[1]) if "." in token else 0
    if percent:  # 35 % matches a printed 0.349, 0.35, 35 or 35.2
        candidates = [(value * 100 if abs(value) <= 1 else value) for value in values]
    else:
        candidates = values
    return any(round(value, decimals) == number or value == number for value in candidates)


def prose_numbers(markdown):
    """(number, is_percentage) for each measured-looking number in running text."""
    text = _GLUE.sub(" ", markdown)
    text = _SKIP.sub(" ", text)
    found = []
    for token, percent in _NUMBER.findall(text):
        if percent or "." in token:
            found.append((token, bool(percent)))
    return found


def with_outputs(stored, executed):
    """The stored chapter (markdown and code) with the outputs of ``executed``, a notebook of its code cells only,
    as the book build's execute cache keeps them."""
    import copy

    merged = copy.deepcopy(stored)
    code = [cell for cell in merged.cells if cell.cell_type == "code"]
    if len(code) != len(executed.cells):
        raise ValueError(f"{len(code)} code cells stored, {len(executed.cells)} executed: not the same notebook")
    for cell, ran in zip(code, executed.cells):
        cell.outputs = ran.outputs
    return merged


def problems(notebook):
    """What is wrong with one executed notebook: numbers in prose that no cell showed, glue roles naming nothing."""
    values, names, found = shown_numbers(notebook), glued_names(notebook), []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for token, percent in prose_numbers(cell.source):
            if not _shown(token, percent, values):
                found.append(f"cell {index}: {token}{' %' if percent else ''} is in the prose, but no cell printed, "
                             f"stated or glued it")
        for name in _GLUE.findall(cell.source):
            if name not in names:
                found.append(f"cell {index}: glue role {name!r} names a value that no cell glued")
    return found


def main(paths):
    import nbformat

    failed = False
    for path in paths:
        for problem in problems(nbformat.read(path, as_version=4)):
            print(f"{Path(path).name}: {problem}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
