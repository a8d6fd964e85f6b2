"""Inline SVG charts for the reports: no script, no network, readable without colour.

A chart is an <svg role="img"> with a <title> and a <desc> that says in words what it shows (screen readers
read them; the pages also give the same figures in a table next to it). Each bar carries its value as text,
labels sit above the bars so long names fit on a phone, and the bar colours contrast at least 3:1 with the
background (WCAG 1.4.11, non-text contrast).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 400
LABEL_H, BAR_H, GAP = 21, 14, 10
VALUE_ROOM = 124  # right margin kept for the value text
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, Arial, sans-serif"'
TEXT_COLOUR, TRACK_COLOUR = "#1b1b1b", "#e4e6ea"
BLUE, RED, GREEN = "#1f4f8a", "#a3221a", "#1d6b35"
_ids = itertools.count(1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as a person reads it ("12,5 %", "1 234")


def _cut(text: str, n: int = 52) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def bar_chart(bars: list[Bar], title: str, description: str, colour: str = BLUE, max_value: float | None = None) -> Markup:
    """Horizontal bars, one per item, in the given order."""
    uid = f"graphique-{next(_ids)}"
    top = max([b.value for b in bars] + [max_value or 0, 0]) or 1
    step = LABEL_H + BAR_H + GAP
    height = max(step * len(bars), step) + 4
    usable = WIDTH - VALUE_ROOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="{uid}-t {uid}-d" {FONT} font-size="15">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(description)}</desc>',
    ]
    for i, b in enumerate(bars):
        y = i * step
        w = 0 if b.value <= 0 else max(2.0, usable * b.value / top)
        parts.append(f'<text x="0" y="{y + 15}" fill="{TEXT_COLOUR}">{escape(_cut(b.label, 44))}</text>')
        parts.append(f'<rect x="0" y="{y + LABEL_H}" width="{usable}" height="{BAR_H}" fill="{TRACK_COLOUR}" rx="2" aria-hidden="true"/>')
        if w:
            parts.append(f'<rect x="0" y="{y + LABEL_H}" width="{w:.1f}" height="{BAR_H}" fill="{colour}" rx="2" aria-hidden="true"/>')
        parts.append(f'<text x="{usable + 6}" y="{y + LABEL_H + 12}" fill="{TEXT_COLOUR}" font-weight="600">{escape(b.text)}</text>')
    if not bars:
        parts.append(f'<text x="0" y="16" fill="{TEXT_COLOUR}">Aucune donnée.</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
