"""A small SVG line-chart writer for the docs build (no plotting library).

Money arrives as decimal strings or ``Decimal``; it is turned into pixel coordinates (floats) only
here, at the edge. Nothing drawn here is read back as money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape

Number = Decimal | int | str


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[Number, Number | None]]  # (x, y); y None = no value (gap)
    color: str
    dashed: bool = False


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` with a label (e.g. a leg's liquidation price)."""

    x: Number
    label: str
    color: str


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    width: int = 760
    height: int = 380


def _dec(value: Number) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def nice_ticks(low: Decimal, high: Decimal, count: int = 6) -> list[Decimal]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    exponent = raw.adjusted()
    base = Decimal(10) ** exponent
    step = next(m * base for m in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
                if m * base >= raw)
    first = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ticks = []
    value = first
    while value <= high + step / 2:
        ticks.append(value)
        value += step
    return ticks


def _label(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    grouped = f"{int(digits):,}".replace(",", "\u202f") if digits else "0"
    return f"{sign}{grouped}" + (f".{frac}" if frac else "")


def render(chart: Chart) -> str:
    """The chart as a standalone SVG document (white background, readable in light and dark themes)."""
    left, right, top, bottom = 84, 190, 44, 52
    plot_w = chart.width - left - right
    plot_h = chart.height - top - bottom
    xs = [_dec(x) for s in chart.series for x, _ in s.points] + [_dec(m.x) for m in chart.markers]
    ys = [_dec(y) for s in chart.series for _, y in s.points if y is not None]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(min(ys), max(ys))
    x0, x1 = x_ticks[0], x_ticks[-1]
    y0, y1 = y_ticks[0], y_ticks[-1]

    def px(x: Number) -> float:
        return left + float((_dec(x) - x0) / (x1 - x0)) * plot_w

    def py(y: Number) -> float:
        return top + plot_h - float((_dec(y) - y0) / (y1 - y0)) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {chart.width} {chart.height}" '
        f'width="{chart.width}" height="{chart.height}" role="img" aria-label="{escape(chart.title)}" '
        'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12">',
        f"<title>{escape(chart.title)}</title>",
        f'<rect width="{chart.width}" height="{chart.height}" fill="#ffffff"/>',
        f'<text x="{left}" y="24" font-size="15" font-weight="600" fill="#1a1a1a">{escape(chart.title)}</text>',
    ]
    for t in y_ticks:
        y = py(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{_label(t)}</text>')
    for t in x_ticks:
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#f0f0f0"/>')
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="#444">{_label(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    if y0 < 0 < y1:
        out.append(f'<line x1="{left}" y1="{py(0):.1f}" x2="{left + plot_w}" y2="{py(0):.1f}" stroke="#777"/>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{chart.height - 12}" text-anchor="middle" '
               f'fill="#222">{escape(chart.x_label)}</text>')
    out.append(f'<text transform="translate(18 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
               f'fill="#222">{escape(chart.y_label)}</text>')
    for marker in chart.markers:
        x = px(marker.x)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{marker.color}" '
                   'stroke-width="1.5" stroke-dasharray="2 3"/>')
    for series in chart.series:
        runs: list[list[str]] = [[]]
        for x, y in series.points:
            if y is None:
                runs.append([])
            else:
                runs[-1].append(f"{px(x):.1f},{py(y):.1f}")
        dash = ' stroke-dasharray="6 4"' if series.dashed else ""
        for run in runs:
            if len(run) > 1:
                out.append(f'<polyline fill="none" stroke="{series.color}" stroke-width="2.2"{dash} '
                           f'points="{" ".join(run)}"/>')
    legend_x = left + plot_w + 16
    row = top + 6
    for series in chart.series:
        dash = ' stroke-dasharray="6 4"' if series.dashed else ""
        out.append(f'<line x1="{legend_x}" y1="{row}" x2="{legend_x + 22}" y2="{row}" stroke="{series.color}" '
                   f'stroke-width="2.2"{dash}/>')
        out.append(f'<text x="{legend_x + 28}" y="{row + 4}" fill="#222">{escape(series.label)}</text>')
        row += 20
    for marker in chart.markers:
        out.append(f'<line x1="{legend_x + 11}" y1="{row - 7}" x2="{legend_x + 11}" y2="{row + 7}" '
                   f'stroke="{marker.color}" stroke-width="1.5" stroke-dasharray="2 3"/>')
        out.append(f'<text x="{legend_x + 28}" y="{row + 4}" fill="#222">{escape(marker.label)}</text>')
        row += 20
    out.append("</svg>")
    return "\n".join(out) + "\n"
