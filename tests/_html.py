"""Reading a report back: its images and the numbers in its tables."""

import base64
from html.parser import HTMLParser
from pathlib import Path


class _Report(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.cells, self.scripts, self.links = [], {}, 0, []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("br", "span"):  # the spread under a score is not the score
            self._cell = None
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag in ("link", "a") and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "td" and "data-metric" in attrs:
            self._cell = (attrs["data-table"], attrs["data-model"], attrs["data-metric"])
            self.cells[self._cell] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self.cells[self._cell] += data


def read_report(path) -> _Report:
    """Parse a report; every image must be an embedded PNG."""
    parser = _Report()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    for src in parser.images:
        assert src.startswith("data:image/png;base64,"), src[:60]
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    return parser


def assert_tables_match(report: _Report, summary: dict, table: str = "scores") -> None:
    """Every score of ``summary`` (a report.json) is in the report, to three decimals."""
    for model, scores in summary.items():
        for metric, value in scores.items():
            shown = report.cells[(table, model, metric)].strip()
            assert shown == f"{value:.3f}", (model, metric, shown, value)
