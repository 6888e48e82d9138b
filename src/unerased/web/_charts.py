"""Charts drawn on the server as inline SVG: no JavaScript, nothing fetched.

Pure functions from numbers and labels to an ``<svg>`` string (a :class:`Markup`): a
horizontal :func:`bar_chart` (one bar per label) and a :func:`line_chart` (one line
per series over shared x labels). Every label is escaped; the markup holds no
``<script>``, no event attribute, no ``style`` (the CSP allows none inline): colours
are presentation attributes, each bar and point carries a ``<title>`` (its label and
value, shown on hover and read by screen readers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

__all__ = ["PALETTE", "bar_chart", "line_chart"]

PALETTE = ("#3366aa", "#cc5533", "#44aa66", "#aa44aa", "#ddaa22", "#33aaaa", "#884422",
           "#777777")
_FONT = 'font-family="sans-serif" font-size="11"'


def _num(v: float) -> str:
    """A coordinate: at most one decimal, no exponent."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.2f}"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
            f"<title>{escape(title)}</title>")
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every label escaped


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, width: int = 640,
              bar_height: int = 18, label_width: int = 160, color: str = PALETTE[0],
              empty: str = "no data") -> Markup:
    """Horizontal bars, one per ``(label, value)``, longest for the largest value; an
    empty list draws a chart saying ``empty`` (the template gives its own words)."""
    gap, top = 6, 4
    height = top + max(len(bars), 1) * (bar_height + gap) + 4
    body: list[str] = []
    if not bars:
        body.append(f'<text x="4" y="{top + bar_height - 4}" {_FONT}>{escape(empty)}</text>')
        return _svg(width, height, title, body)
    top_value = max((v for _, v in bars), default=0) or 1
    span = width - label_width - 60
    for i, (label, value) in enumerate(bars):
        y = top + i * (bar_height + gap)
        w = max(span * max(value, 0) / top_value, 1 if value > 0 else 0)
        text_y = _num(y + bar_height - 5)
        body.append(
            f'<text x="{label_width - 6}" y="{text_y}" text-anchor="end" {_FONT}>'
            f"{escape(_short(label))}</text>"
            f'<rect class="bar" x="{label_width}" y="{y}" width="{_num(w)}" '
            f'height="{bar_height}" fill="{color}">'
            f"<title>{escape(label)}: {_value(value)}</title></rect>"
            f'<text x="{_num(label_width + w + 4)}" y="{text_y}" {_FONT}>{_value(value)}</text>')
    return _svg(width, height, title, body)


def line_chart(x_labels: Sequence[str], series: Mapping[str, Sequence[float]], *,
               title: str, width: int = 640, height: int = 240, empty: str = "no data"
               ) -> Markup:
    """One line per series (its values at ``x_labels``, in order), a legend, the first
    and last x labels and the y axis's maximum; ``empty``: the words of a chart
    without series."""
    left, right, top, bottom = 40, 10, 10, 40
    legend_rows = (len(series) + 3) // 4
    total_h = height + legend_rows * 16
    body: list[str] = []
    if not x_labels or not series:
        body.append(f'<text x="4" y="16" {_FONT}>{escape(empty)}</text>')
        return _svg(width, total_h, title, body)
    top_value = max((max(vs, default=0) for vs in series.values()), default=0) or 1
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(x_labels)

    def x_at(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_at(v: float) -> float:
        return top + plot_h - plot_h * max(v, 0) / top_value

    base = top + plot_h
    body.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" '
                f'stroke="#999"/><line x1="{left}" y1="{top}" x2="{left}" y2="{base}" '
                f'stroke="#999"/>')
    body.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" {_FONT}>'
                f"{_value(top_value)}</text>"
                f'<text x="{left - 4}" y="{base}" text-anchor="end" {_FONT}>0</text>')
    body.append(f'<text x="{left}" y="{base + 14}" {_FONT}>{escape(x_labels[0])}</text>')
    if n > 1:
        body.append(f'<text x="{width - right}" y="{base + 14}" text-anchor="end" {_FONT}>'
                    f"{escape(x_labels[-1])}</text>")
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        points = [(x_at(i), y_at(v)) for i, v in enumerate(values[:n])]
        body.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" '
                    f'points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in points)}"/>')
        for i, (x, y) in enumerate(points):
            if values[i]:
                body.append(f'<circle class="point" cx="{_num(x)}" cy="{_num(y)}" r="2.5" '
                            f'fill="{color}"><title>{escape(name)} {escape(x_labels[i])}: '
                            f"{_value(values[i])}</title></circle>")
        lx, ly = left + (k % 4) * (plot_w // 4), base + 30 + (k // 4) * 16
        body.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{color}"/>'
                    f'<text x="{lx + 14}" y="{ly}" {_FONT}>{escape(_short(name))}</text>')
    return _svg(width, total_h, title, body)


def _short(label: str, limit: int = 24) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
