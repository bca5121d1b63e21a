"""The course's colours, markers and line styles: one place, readable without colour.

Every chart of medcnn takes its colours from here, and never lets colour alone carry
a meaning: each series also gets a marker and a line style (:func:`series_style`),
each group of bars a hatch (:func:`bar_style`), a wrong prediction the word WRONG and a
thicker frame beside its colour.

- :data:`SERIES_COLOURS`: the Okabe-Ito colours that keep 3:1 contrast against a white
  background (WCAG 2.1, 1.4.11), plus black and wine; any two stay apart under
  simulated deuteranopia, protanopia and tritanopia (``tests/test_palette.py`` checks
  that with ``colorspacious``).
- :data:`RIGHT_COLOUR` and :data:`WRONG_COLOUR`: blue and a dark vermillion, which stay
  apart for every colour-vision deficiency (red and green would not) and have 4.5:1
  contrast for small text on white.
- :data:`HEATMAP_COLOUR_MAP` and :data:`SEQUENTIAL_COLOUR_MAP`: colour maps whose
  lightness changes in one direction, so they read in greyscale and under every
  colour-vision deficiency (``jet`` does not).

Example:
    >>> series_style(1)
    {'color': '#D55E00', 'marker': 's', 'linestyle': '--'}
"""

from __future__ import annotations

# Okabe & Ito (2008), "Color Universal Design", less yellow and sky blue (under 3:1 on white).
SERIES_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#882255")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)))  # solid, dashed, dash-dot, dotted, dash-dot-dot
HATCHES = ("", "//", "..", "xx", "\\\\", "++")

RIGHT_COLOUR = "#0072B2"   # blue
WRONG_COLOUR = "#A63D00"   # dark vermillion
REFERENCE_COLOUR = "#595959"  # chance lines, markers of an epoch: grey at 7:1 on white
HEATMAP_COLOUR_MAP = "inferno"   # dark = no evidence, bright yellow = raised the class score most
SEQUENTIAL_COLOUR_MAP = "Blues"  # counts and fractions, light to dark


def series_style(index: int) -> dict:
    """Colour, marker and line style of the ``index``-th series of a chart (0 first).

    Colours repeat every 6 series, markers every 8, line styles every 5: any two of the
    first 24 series differ in at least two of the three.

    Example:
        >>> series_style(0)
        {'color': '#0072B2', 'marker': 'o', 'linestyle': '-'}
    """
    if int(index) != index or index < 0:
        raise ValueError(f"index={index!r}: expected a series number 0, 1, 2, ...")
    index = int(index)
    return {
        "color": SERIES_COLOURS[index % len(SERIES_COLOURS)],
        "marker": MARKERS[index % len(MARKERS)],
        "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
    }


def bar_style(index: int) -> dict:
    """Face colour, hatch and edge of the ``index``-th group of bars (e.g. one subset).

    Example:
        >>> bar_style(1)
        {'color': '#D55E00', 'hatch': '//', 'edgecolor': 'white'}
    """
    style = series_style(index)
    return {"color": style["color"], "hatch": HATCHES[int(index) % len(HATCHES)], "edgecolor": "white"}


def property_cycle():
    """A Matplotlib property cycle of the course's colours, markers and line styles, for a chart drawn by hand.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> figure, axis = plt.subplots()
        >>> axis.set_prop_cycle(property_cycle())
        >>> axis.plot([0, 1], [0, 1])[0].get_marker()
        'o'
    """
    from cycler import cycler

    styles = [series_style(index) for index in range(len(SERIES_COLOURS))]
    return cycler(
        color=[style["color"] for style in styles],
        marker=[style["marker"] for style in styles],
        linestyle=[style["linestyle"] for style in styles],
    )
