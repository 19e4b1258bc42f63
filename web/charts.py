"""The dashboard's charts as server-side SVG drawn by pygal, inlined in the page.

pygal puts a <style> and a configuration <script> inside each SVG and would reference its
tooltip script on kozea.github.io; the console's Content-Security-Policy allows neither inline
style nor inline script, so `js=[]` drops the CDN script, `_inline` strips the rest, and the
stylesheet pygal would have inlined is served once as `/dashboard/charts.css`. Every bar and
point prints its value and is a link to the mentions it counts; colour is never the only cue
(values on the bars, series named in the legend and in the figures table beside each chart).
"""

import functools
import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    from pygal.graph.graph import Graph
    from pygal.style import Style

_CHART_ID = re.compile(r"#chart-[0-9a-f-]{36}")
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_SCRIPT = re.compile(r"<script[^>]*>.*?</script>", re.S)
_INLINE_STYLE = re.compile(r'\sstyle="[^"]*"')
_COMMENT = re.compile(r"<!--.*?-->", re.S)

# Colours a reader with red-green colour blindness still tells apart (Okabe-Ito), in the order
# the series are added; the values printed on the bars do not depend on them.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


@functools.cache
def _style() -> "Style":
    # pygal (with its XML stack, ~1.4 MB of a node) is imported at the first chart drawn, not
    # when the console is built: most requests are the inbox, not the dashboard.
    from pygal.style import Style

    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1d2330",
        foreground_strong="#1d2330",
        foreground_subtle="#667",
        colors=COLOURS,
        value_font_size=12,
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=13,
        title_font_size=15,
        font_family="system-ui, sans-serif",
        value_colors=("#1d2330",),
    )


@dataclass(frozen=True, slots=True)
class Point:
    value: float | None  # None: nothing to draw (a zero would print "0" on every empty day)
    href: str = ""
    label: str = ""


def bars(
    title: str,
    labels: list[str],
    series: dict[str, list[Point]],
    stacked: bool = False,
    percent: bool = False,
) -> Markup:
    import pygal

    kind = pygal.StackedBar if stacked else pygal.Bar
    chart = kind(**_config(title, percent), **_sparse(labels))
    chart.x_labels = labels
    for name, points in series.items():
        chart.add(name, [_value(p) for p in points])
    return _inline(chart)


def line(title: str, labels: list[str], name: str, points: list[Point]) -> Markup:
    import pygal

    # A value is printed right of its point: the last day's ("-0.09") needs room past the axis.
    config = {**_config(title, percent=False), "margin_right": 40}
    chart = pygal.Line(**config, **_sparse(labels), range=(-1, 1))
    chart.x_labels = labels
    chart.add(name, [_value(p) for p in points])
    return _inline(chart)


@functools.cache
def stylesheet() -> str:
    """pygal's own CSS for our style, for every chart on the page (ids made classes)."""
    import pygal

    sample = pygal.Bar(**_config("", percent=False))
    for n in range(len(COLOURS)):  # a rule per series colour
        sample.add(str(n), [1])
    # pygal writes the CSS as XML text (`>` as `&gt;`); a stylesheet file wants it plain.
    css = html.unescape("\n".join(_STYLE.findall(sample.render(is_unicode=True))))
    # The tooltips are drawn by pygal's script, which we do not load; the values printed on
    # the bars must let a click through to the bar's link.
    return _CHART_ID.sub(".pygal-chart", css) + (
        "\n.pygal-chart .tooltip{display:none}"
        "\n.pygal-chart .text-overlay,.pygal-chart .tooltip-overlay{pointer-events:none}\n"
    )


def _config(title: str, percent: bool) -> dict[str, object]:
    return {
        "title": title,
        "style": _style(),
        "js": [],  # no script from kozea.github.io (or anywhere)
        "disable_xml_declaration": True,
        "print_values": True,
        "print_zeroes": False,
        "show_legend": True,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 4,
        "width": 720,
        "height": 300,
        "margin": 12,
        "margin_bottom": 28,  # room for the legend's text below the axis labels
        "x_label_rotation": 0,
        "truncate_label": -1,
        "truncate_legend": -1,
        "value_formatter": _percent if percent else _number,
    }


# pygal hides a printed value only when it reads exactly "0" (`print_zeroes`), and draws an
# empty share of a stacked bar as 0: "0%" would sit on the line between two other shares.
def _percent(value: float) -> str:
    return f"{value:.0%}" if round(value, 2) else "0"


def _number(value: float) -> str:
    return f"{value + 0.0:.2g}" if abs(value) < 1 else f"{value:g}"  # + 0.0: no "-0"


def _sparse(labels: list[str]) -> dict[str, object]:
    """A month of days: every label would overlap, so a few are shown (all are in the table)."""
    if len(labels) <= 10:
        return {}
    return {"show_minor_x_labels": False, "x_labels_major_every": -(-len(labels) // 8)}


def _value(point: Point) -> object:
    if point.value is None:
        return None
    value: dict[str, object] = {"value": point.value}
    if point.href:
        value["xlink"] = {"href": point.href, "target": "_top"}
    if point.label:
        value["label"] = point.label
    return value


def _inline(chart: "Graph") -> Markup:
    svg = chart.render(is_unicode=True)
    svg = _COMMENT.sub("", _SCRIPT.sub("", _STYLE.sub("", svg)))
    svg = _INLINE_STYLE.sub("", svg)
    # pygal escapes the labels and links it is given (it builds the SVG with an XML tree), so
    # the markup is safe to place in the page as it is.
    return Markup(svg)
