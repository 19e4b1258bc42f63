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
