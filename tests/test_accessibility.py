"""Figures that every reader can use: captions and alt text, and colours safe for colour-blind readers.

The browser test (``tests/test_site.py``) checks the same captions and alt text on the built pages; these checks
read the sources, so they fail in seconds, before any build.
"""

import inspect
import re

import matplotlib as mpl
import nbformat
import pytest

from helpers import plots
from tools.site import ROOT, chapter_files, figure_cells

SOURCES = [*sorted((ROOT / "helpers").glob("*.py")), *[ROOT / f"{name}.ipynb" for name in chapter_files()],
           *sorted(ROOT.glob("solutions/*/*.ipynb"))]
# Neutral colours carry no class or series information: always allowed.
NEUTRAL = {"k", "black", "gray", "grey", "white", "lightgray", "lightgrey", "darkgray", "darkgrey"}


@pytest.mark.parametrize("name", chapter_files())
def test_every_figure_cell_has_a_caption_and_alt_text(name):
    for cell in figure_cells(name):
        options = cell.metadata.get("mystnb", {})
        caption, alt = options.get("figure", {}).get("caption", ""), options.get("image", {}).get("alt", "")
        assert len(caption) > 20, f"{name}: figure cell without a caption:\n{cell.source}"
        assert len(alt) > 40 and alt != caption, f"{name}: figure cell whose alt text does not describe it:\n{cell.source}"


def test_importing_the_plots_makes_the_okabe_ito_palette_the_default_cycle():
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == list(plots.COLOURS.values())
    assert mpl.rcParams["image.cmap"] in plots.SAFE_CMAPS


def test_every_default_colour_map_of_the_plots_is_colour_blind_safe():
    defaults = [parameter.default for function in vars(plots).values() if inspect.isfunction(function)
                for name, parameter in inspect.signature(function).parameters.items() if name == "cmap"]
    assert defaults and set(defaults) <= set(plots.SAFE_CMAPS), defaults


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_colour_outside_the_safe_palette_and_maps(path):
    text = path.read_text()
    if path.suffix == ".ipynb":
        text = "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells if cell.cell_type == "code")
    for cmap in re.findall(r"cmap=\"([^\"]+)\"", text):
        assert cmap in plots.SAFE_CMAPS, f"{path.name}: colour map {cmap!r} is not in helpers.plots.SAFE_CMAPS"
    for colour in re.findall(r"colou?rs?=\"([^\"]+)\"", text):
        assert colour in NEUTRAL or colour in plots.COLOURS.values(), \
            f"{path.name}: colour {colour!r}: use helpers.plots.COLOURS (Okabe-Ito) or a grey"
    assert "tab:" not in text, f"{path.name}: matplotlib's tab: colours are not colour-blind safe; use helpers.plots.COLOURS"
