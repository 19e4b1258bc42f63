"""The charts print each value on its bar, and an empty share prints nothing."""

import re

from web import charts

VALUE = re.compile(r'<text[^>]*class="value"[^>]*>([^<]*)</text>')


def test_an_empty_share_of_a_stacked_bar_prints_no_value() -> None:
    shares = {
        "negative": [charts.Point(0.67, "/queue?sentiment=negative")],
        "neutral": [charts.Point(None, "/queue?sentiment=neutral")],
        "positive": [charts.Point(0.33, "/queue?sentiment=positive")],
    }
    svg = charts.bars("Sentiment", ["01-01"], shares, stacked=True, percent=True)
    assert [v for v in VALUE.findall(svg) if v] == ["67%", "33%"]


def test_a_mean_near_zero_reads_as_a_number() -> None:
    svg = charts.line("Mean", ["01-01", "01-02"], "mean", [charts.Point(-0.0), charts.Point(-0.11)])
    assert [v for v in VALUE.findall(svg) if v] == ["-0.11"]


def test_the_last_days_mean_is_printed_inside_the_chart() -> None:
    # The value is written right of its point; the last day's sits by the right edge.
    svg = charts.line("Mean", ["01-01", "01-02", "01-03"], "mean", [charts.Point(-0.09)] * 3)
    view_box = re.search(r'viewBox="0 0 ([\d.]+) [\d.]+"', svg)
    overlay = re.search(r'translate\(([\d.]+), [\d.]+\)" class="plot text-overlay"', svg)
    assert view_box and overlay
    x, text = re.findall(r'<text[^>]*x="([\d.]+)"[^>]*class="value"[^>]*>([^<]*)</text>', svg)[-1]
    digit_width = 0.6 * charts._style().value_font_size  # pixels, about
    right_end = float(overlay.group(1)) + float(x) + digit_width * len(text)
    assert text == "-0.09" and right_end <= float(view_box.group(1))
