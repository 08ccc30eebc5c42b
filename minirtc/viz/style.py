"""Figure style shared by every minirtc figure: paper-size fonts, Agg canvases, PNG bytes.

Figures are `matplotlib.figure.Figure` objects on their own Agg canvas (no pyplot
state, no window); `figure_png` turns one into PNG bytes for an atomic write.
"""

from __future__ import annotations

import io
from typing import Any

FONT = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
}
DPI = 150


def new_figure(width: float, height: float, layout: str | None = "constrained"):
    """A Figure (inches) on an Agg canvas; draw it inside `paper_style()`.

    Grids of many small axes use layout=None and fixed margins: constrained layout
    costs seconds per figure there.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def paper_style():
    """A context in which figures get the paper-size fonts (matplotlib's rc settings, restored after)."""
    import matplotlib

    return matplotlib.rc_context(FONT)


def figure_png(fig: Any, dpi: int = DPI) -> bytes:
    """The PNG bytes of `fig`."""
    buffer = io.BytesIO()
    with paper_style():
        fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def wrap(text: str, width: int) -> str:
    """`text` wrapped at `width` characters, never breaking at hyphens."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False))


def suptitle(fig: Any, text: str, fontsize: float = 8) -> float:
    """A title wrapped to the figure's width (about 0.55 em per character); returns its height (inches)."""
    per_line = int(fig.get_figwidth() * 72 / (0.55 * fontsize))
    wrapped = "\n".join(wrap(line, per_line) for line in text.split("\n"))
    fig.suptitle(wrapped, fontsize=fontsize)
    return (wrapped.count("\n") + 1) * 1.3 * fontsize / 72
