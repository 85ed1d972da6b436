"""What every Step 1 chart shares: page size, fonts, palette, text fitting, PNG output.

Charts are laid out in pixels on a page 1080 px wide at 150 dpi, measured from the top-left
corner (a `Sheet`), then turned into a matplotlib `Figure` drawn by `ChartCanvas`. No pyplot,
no rcParams: every artist gets its font, size and colour explicitly, so renders in different
threads share no settings.
"""

from __future__ import annotations

import functools
import io
import math
import os
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle
from matplotlib.transforms import Bbox
from PIL import Image

from bot.charts.agg import ChartCanvas, charmap, text_width

DPI = 150
WIDTH_PX = 1080
MARGIN_PX = 28
MAX_PNG_BYTES = 200 * 1024

_FONT_DIR = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
FONT_REGULAR = os.path.join(_FONT_DIR, "DejaVuSans.ttf")
FONT_BOLD = os.path.join(_FONT_DIR, "DejaVuSans-Bold.ttf")

# Sizes in points; at 150 dpi 12 pt is 25 px, the smallest text in any chart except where
# a table's cells get narrow (a win matrix of more than ~15 problems, many method columns).
SIZE_TITLE = 17.0
SIZE_TEXT = 13.0
SIZE_SMALL = 12.0
LINE_STEP = 1.25  # baseline-to-baseline distance, in ems
ASCENT = 0.93  # tallest ink above the baseline (Й, Ё), in ems
CAP = 0.73  # height of capitals and digits, in ems
DESCENT = 0.24  # deepest ink below it (р, у, Қ), in ems

# Okabe & Ito (2008), safe for every common colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
INK = "#1A1A1A"
MUTED = "#555555"
RULE = "#BDBDBD"
HAIRLINE = "#E6E6E6"  # row separators
PAPER = "#FFFFFF"
EMPTY = "#EEEEEE"

ELLIPSIS = "…"
HYPHEN = "-"  # where a word too long for a line breaks


# Matplotlib is not thread-safe; renders called from several threads take turns.
_render_lock = threading.RLock()


def serialized(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run *fn* under the module lock: one thread at a time builds or draws a chart."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _render_lock:
            return fn(*args, **kwargs)

    return wrapper


# --- fonts and measuring ------------------------------------------------------------

def font(size: float, bold: bool = False) -> FontProperties:
    """DejaVu Sans (shipped with matplotlib) by file, so no font lookup or rcParams."""
    return FontProperties(fname=FONT_BOLD if bold else FONT_REGULAR, size=size)


def em(size: float) -> float:
    """Pixels in one em at *size* points."""
    return size * DPI / 72


def width_of(text: str, size: float, bold: bool = False) -> float:
    """Width in pixels of one line of *text*, exactly as the chart canvas draws it."""
    return text_width(text, FONT_BOLD if bold else FONT_REGULAR, size, DPI)


def fit_size(texts: Sequence[str], max_width: float, max_size: float, bold: bool = False,
             min_size: float = 6.0) -> float:
    """Largest size (points, at most *max_size*) at which every one of *texts* is at most
    *max_width* pixels wide; *min_size* if none is."""
    distinct = set(texts)

    def widest(size: float) -> float:
        return max((width_of(t, size, bold) for t in distinct), default=0.0)

    size = max_size
    while size > min_size and (w := widest(size)) > max_width:
        size = max(min_size, min(size - 0.25, size * max_width / w))
    return size


def block_height(lines: int, size: float) -> float:
    """Height in pixels of *lines* lines of text, from the top of the tallest letter."""
    return em(size) * (ASCENT + DESCENT + LINE_STEP * (max(lines, 1) - 1))


@functools.lru_cache(maxsize=1)
def _drawable() -> frozenset[int]:
    return charmap(FONT_REGULAR) & charmap(FONT_BOLD)


def clean(text: object) -> str:
    """One line of text the font can draw: whitespace folded, unknown symbols dropped.

    Characters DejaVu Sans has no glyph for (emoji, most non-European scripts) would be
    drawn as empty boxes; they are left out instead.
    """
    text = unicodedata.normalize("NFC", str(text))
    drawable = _drawable()
    kept = []
    for ch in text:
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif ord(ch) in drawable and unicodedata.category(ch) != "Cf":  # soft hyphen, bidi marks
            kept.append(ch)
    return " ".join("".join(kept).split())


def short_label(
    text: object,
    width: float,
    max_lines: int = 2,
    measure: Callable[[str], float] = len,
) -> list[str]:
    """Wrap *text* into at most *max_lines* lines no wider than *width*.

    *measure* gives a string's width (default: its length in characters) and must be
    additive: ``measure(a + " " + b) == measure(a) + measure(" ") + measure(b)``. Words
    longer than a line are cut; text that does not fit ends with an ellipsis on the last
    line. A word longer than a line breaks with a hyphen. Returns at least one line (``["…"]``
    for text with nothing drawable).
    """
    words = clean(text).split(" ")
    if words == [""]:
        return [ELLIPSIS]
    space = measure(" ")
    lines: list[tuple[str, float]] = []
    line, line_w = "", 0.0
    i = 0
    while i < len(words) and len(lines) < max_lines:
        word = words[i]
        word_w = measure(word)
        if not line and word_w > width:
            # A word wider than a line goes on over the next one, its break marked with a hyphen
            # (never split silently: "жол" + "дар" would read as two words).
            room = width - measure(HYPHEN)
            cut = _fit_prefix(word, room, measure) if measure(word[:1]) <= room else 0
            if cut:
                lines.append((word[:cut] + HYPHEN, measure(word[:cut]) + measure(HYPHEN)))
            else:
                cut = _fit_prefix(word, width, measure)
                lines.append((word[:cut], measure(word[:cut])))
            words[i] = word[cut:]
            continue
        if line and line_w + space + word_w > width:
            lines.append((line, line_w))
            line, line_w = "", 0.0
            continue
        line, line_w = (f"{line} {word}", line_w + space + word_w) if line else (word, word_w)
        i += 1
    if line and len(lines) < max_lines:
        lines.append((line, line_w))
        line = ""
    if i < len(words) or line:
        lines[-1] = (_ellipsize(lines[-1][0], width, measure), 0.0)
    return [text for text, _ in lines]


def _fit_prefix(word: str, width: float, measure: Callable[[str], float]) -> int:
    """Longest prefix length of *word* fitting in *width* (at least one character)."""
    lo, hi = 1, len(word)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(word[:mid]) <= width:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _ellipsize(line: str, width: float, measure: Callable[[str], float]) -> str:
    """*line* shortened, by whole words where it can, so that it fits with "…" added."""
    limit = width - measure(ELLIPSIS)
    while line and measure(line) > limit:
        head, sep, _ = line.rpartition(" ")
        if sep and head:
            line = head
        else:
            line = line[: _fit_prefix(line, limit, measure)] if measure(line[:1]) <= limit else ""
    return line.rstrip(" ,;:.-–—") + ELLIPSIS


def fit_lines(text: object, width_px: float, size: float, max_lines: int = 2,
              bold: bool = False) -> list[str]:
    """`short_label` measured in pixels for the chart font at *size*."""
    return short_label(text, width_px, max_lines, lambda s: width_of(s, size, bold))


def fmt_number(value: float, decimals: int | None = None, decimal: str = ".") -> str:
    """A count as an integer; otherwise *decimals* places (default: up to 2, trimmed)."""
    if decimals is None:
        if float(value).is_integer():
            return str(int(value))
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.{decimals}f}"
    return text.replace(".", decimal)


def merge_labels(defaults: Mapping[str, str], labels: Mapping[str, str] | None) -> dict[str, str]:
    """The caller's translated labels over the English defaults; unknown keys are errors."""
    merged = dict(defaults)
    for key, value in (labels or {}).items():
        if key not in defaults:
            raise KeyError(f"unknown chart label {key!r}; expected one of {sorted(defaults)}")
        merged[key] = value
    return merged


def luminance(color: Sequence[float]) -> float:
    """Relative luminance (WCAG) of an RGB colour with components 0..1."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in color[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ink_on(color: Sequence[float] | str) -> str:
    """Black or white, whichever reads better on *color*."""
    rgb = matplotlib.colors.to_rgb(color)
    return INK if luminance(rgb) > 0.18 else PAPER


def blend(color: str, toward: str, share: float) -> tuple[float, float, float]:
    """*color* moved *share* (0..1) of the way toward *toward*."""
    a = np.array(matplotlib.colors.to_rgb(color))
    b = np.array(matplotlib.colors.to_rgb(toward))
    return tuple(float(v) for v in a + (b - a) * share)


# --- page layout ---------------------------------------------------------------------

class Sheet:
    """Artists placed in pixels from the top-left corner; `figure` makes the Figure."""

    def __init__(self, width: int = WIDTH_PX) -> None:
        self.width = width
        self._ops: list[tuple[str, dict[str, Any]]] = []
        self._areas: dict[Any, float] = {}  # flat colour -> pixels painted with it

    def _paint(self, color: Any, area: float) -> None:
        key = matplotlib.colors.to_hex(color)
        self._areas[key] = self._areas.get(key, 0.0) + area

    def text(
        self,
        x: float,
        y: float,
        s: str,
        size: float = SIZE_TEXT,
        *,
        bold: bool = False,
        color: Any = INK,
        ha: str = "left",
        va: str = "baseline",
        rotation: float = 0,
    ) -> None:
        """A single line of text; (x, y) is where *ha* and *va* anchor it."""
        self._paint(color, em(size) ** 2)
        self._ops.append(("text", dict(x=x, y=y, s=s, size=size, bold=bold, color=color,
                                       ha=ha, va=va, rotation=rotation)))

    def lines(
        self,
        x: float,
        top: float,
        lines: Sequence[str],
        size: float = SIZE_TEXT,
        **kwargs: Any,
    ) -> float:
        """Lines of text whose tallest letters start at *top*; returns the bottom."""
        step = em(size) * LINE_STEP
        baseline = top + em(size) * ASCENT
        for i, line in enumerate(lines):
            self.text(x, baseline + i * step, line, size, **kwargs)
        return top + block_height(len(lines), size)

    def lines_centered(
        self,
        x: float,
        middle: float,
        lines: Sequence[str],
        size: float = SIZE_TEXT,
        **kwargs: Any,
    ) -> float:
        """Lines of text whose capitals-to-last-baseline span is centred on *middle*;
        returns the first baseline."""
        step = em(size) * LINE_STEP
        span = em(size) * CAP + step * (len(lines) - 1)
        baseline = middle - span / 2 + em(size) * CAP
        for i, line in enumerate(lines):
            self.text(x, baseline + i * step, line, size, **kwargs)
        return baseline

    def header(self, title: str, subtitle: str = "", top: float = MARGIN_PX) -> float:
        """Title (bold, up to 2 lines) and optional subtitle; returns where content starts."""
        inner = self.width - 2 * MARGIN_PX
        y = self.lines(MARGIN_PX, top, fit_lines(title, inner, SIZE_TITLE, 2, bold=True),
                       SIZE_TITLE, bold=True)
        if clean(subtitle):
            y = self.lines(MARGIN_PX, y + em(SIZE_SMALL) * 0.4,
                           fit_lines(subtitle, inner, SIZE_SMALL, 3), SIZE_SMALL, color=MUTED)
        return y + em(SIZE_TEXT) * 0.9

    def legend(self, x: float, top: float, items: Sequence[tuple[Any, str]],
               size: float = SIZE_SMALL, max_width: float | None = None) -> float:
        """Colour swatches with their names, flowing left to right; returns the bottom."""
        max_width = max_width or self.width - MARGIN_PX - x
        box = em(size) * 0.8
        gap = em(size) * 0.35
        step = em(size) * LINE_STEP
        cx, row = x, 0
        for color, name in items:
            text = fit_lines(name, max_width - box - gap, size, 1)[0]
            item_w = box + gap + width_of(text, size)
            if cx > x and cx + item_w > x + max_width:
                cx, row = x, row + 1
            baseline = top + em(size) * ASCENT + row * step
            self.rect(cx, baseline - box, box, box, color)
            self.text(cx + box + gap, baseline, text, size)
            cx += item_w + em(size) * 1.2
        return top + block_height(row + 1, size)

    def listing(
        self,
        top: float,
        rows: Sequence[tuple[int, str, str]],
        head: str,
        value_head: str,
        size: float = SIZE_TEXT,
        max_lines: int = 2,
    ) -> float:
        """A numbered list "N. text ... value" under a muted heading; returns the bottom."""
        right = self.width - MARGIN_PX
        number_w = max(width_of(f"{n}.", size, bold=True) for n, _, _ in rows)
        value_w = max(width_of(v, size, bold=True) for _, _, v in rows)
        text_x = MARGIN_PX + number_w + em(size) * 0.3
        value_head = fit_lines(value_head, (right - text_x) / 2, SIZE_SMALL, 1)[0]
        text_w = right - max(value_w, width_of(value_head, SIZE_SMALL)) - em(size) - text_x
        baseline = top + em(SIZE_SMALL) * ASCENT
        self.text(text_x, baseline, fit_lines(head, text_w, SIZE_SMALL, 1)[0], SIZE_SMALL,
                  color=MUTED)
        self.text(right, baseline, value_head, SIZE_SMALL, color=MUTED, ha="right")
        y = baseline + em(SIZE_SMALL) * DESCENT + em(size) * 0.35
        self.line(MARGIN_PX, y, right, y, HAIRLINE, 1.0)
        y += em(size) * 0.3
        for number, text, value in rows:
            first = y + em(size) * ASCENT
            self.text(text_x - em(size) * 0.3, first, f"{number}.", size, bold=True, ha="right")
            self.text(right, first, value, size, bold=True, ha="right")
            y = self.lines(text_x, y, fit_lines(text, text_w, size, max_lines), size)
            y += em(size) * 0.55
        return y

    def text_batch(self, items: Sequence[tuple[float, float, str, Any]], size: float,
                   bold: bool = False) -> None:
        """Many short centred labels (x, baseline y, text, colour) drawn by one artist."""
        for color in {tuple(matplotlib.colors.to_rgba(item[3])) for item in items}:
            self._paint(color, em(size) ** 2)
        self._ops.append(("batch", dict(items=list(items), size=size, bold=bold)))

    def rects(self, boxes: Sequence[tuple[float, float, float, float]], colors: Sequence[Any],
              *, edge: Any = PAPER, linewidth: float = 1.0) -> None:
        """Many rectangles (x, y, w, h) drawn by one collection."""
        areas: dict[tuple[float, ...], float] = {}
        for (_, _, w, h), color in zip(boxes, colors):
            key = tuple(matplotlib.colors.to_rgba(color))
            areas[key] = areas.get(key, 0.0) + w * h
        for color, area in areas.items():
            self._paint(color, area)
        self._ops.append(("rects", dict(boxes=list(boxes), colors=list(colors), edge=edge,
                                        linewidth=linewidth)))

    def rect(self, x: float, y: float, w: float, h: float, color: Any, *,
             edge: Any = None, linewidth: float = 0.0, radius: float = 0.0) -> None:
        self._paint(color, w * h)
        self._ops.append(("rect", dict(x=x, y=y, w=w, h=h, color=color, edge=edge,
                                       linewidth=linewidth, radius=radius)))

    def circle(self, cx: float, cy: float, r: float, color: Any, *,
               edge: Any = None, linewidth: float = 0.0) -> None:
        self._paint(color, math.pi * r * r)
        self._ops.append(("circle", dict(cx=cx, cy=cy, r=r, color=color, edge=edge,
                                         linewidth=linewidth)))

    def line(self, x0: float, y0: float, x1: float, y1: float, color: Any = RULE,
             linewidth: float = 1.0) -> None:
        self._paint(color, math.hypot(x1 - x0, y1 - y0) * linewidth)
        self._ops.append(("line", dict(x0=x0, y0=y0, x1=x1, y1=y1, color=color,
                                       linewidth=linewidth)))

    def chart(self, height: float) -> "Chart":
        """The page, *height* pixels tall, as a `Chart`."""
        flat = tuple(sorted(self._areas, key=self._areas.get, reverse=True))
        return Chart(self.figure(height), flat)

    def figure(self, height: float) -> Figure:
        """The page as a Figure *height* pixels tall (rounded up)."""
        height = math.ceil(height)
        fig = new_figure(self.width, height)
        inch = fig.dpi_scale_trans  # pixels / DPI = inches: independent of the output dpi

        def pt(x: float, y: float) -> tuple[float, float]:
            return x / DPI, (height - y) / DPI

        for kind, op in self._ops:
            if kind == "text":
                fig.text(*pt(op["x"], op["y"]), op["s"], transform=inch,
                         fontproperties=font(op["size"], op["bold"]), color=op["color"],
                         ha=op["ha"], va=op["va"], rotation=op["rotation"],
                         rotation_mode="anchor" if op["rotation"] else "default",
                         parse_math=False, usetex=False, zorder=3)
            elif kind == "rect":
                x, y = pt(op["x"], op["y"] + op["h"])
                w, h = op["w"] / DPI, op["h"] / DPI
                common = dict(transform=inch, facecolor=op["color"],
                              edgecolor=op["edge"] or "none", linewidth=op["linewidth"],
                              zorder=1)
                if op["radius"]:
                    style = f"round,pad=0,rounding_size={op['radius'] / DPI}"
                    patch = FancyBboxPatch((x, y), w, h, boxstyle=style, **common)
                else:
                    patch = Rectangle((x, y), w, h, **common)
                fig.add_artist(patch)
            elif kind == "circle":
                fig.add_artist(Circle(pt(op["cx"], op["cy"]), op["r"] / DPI, transform=inch,
                                      facecolor=op["color"], edgecolor=op["edge"] or "none",
                                      linewidth=op["linewidth"], zorder=2))
            elif kind == "batch":
                fig.add_artist(TextBatch(
                    [(*pt(x, y), text, color) for x, y, text, color in op["items"]],
                    font(op["size"], op["bold"]), inch))
            elif kind == "rects":
                polys = []
                for x, y, w, h in op["boxes"]:
                    (x0, y0), (x1, y1) = pt(x, y + h), pt(x + w, y)
                    polys.append([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
                fig.add_artist(PolyCollection(polys, transform=inch, facecolors=op["colors"],
                                              edgecolors=op["edge"], linewidths=op["linewidth"],
                                              zorder=1))
            elif kind == "line":
                (x0, y0), (x1, y1) = pt(op["x0"], op["y0"]), pt(op["x1"], op["y1"])
                fig.add_artist(Line2D([x0, x1], [y0, y1], transform=inch, color=op["color"],
                                      linewidth=op["linewidth"], solid_capstyle="butt",
                                      zorder=2))
        return fig


@dataclass(frozen=True)
class Chart:
    """A laid-out chart: its Figure, and its flat colours by area for exact PNG output."""

    figure: Figure
    flat_colors: tuple[str, ...] = ()

    def png(self) -> bytes:
        return to_png(self.figure, self.flat_colors)


class TextBatch(Artist):
    """Short single-line labels, centred on their points, drawn in one pass.

    A dense table (a 30 × 30 win matrix) would otherwise need hundreds of `Text` artists,
    whose per-artist layout work costs more than drawing the glyphs.
    """

    zorder = 3

    def __init__(self, items: list[tuple[float, float, str, Any]], prop: FontProperties,
                 transform: Any) -> None:
        super().__init__()
        self._items = items
        self._prop = prop
        self.set_transform(transform)

    def _placed(self, renderer: Any):
        transform = self.get_transform()
        points = transform.transform([(x, y) for x, y, _, _ in self._items]) if self._items else []
        for (px, py), (_, _, text, color) in zip(points, self._items):
            width, height, descent = renderer.get_text_width_height_descent(text, self._prop, False)
            yield px - width / 2, py, text, color, width, height, descent

    def get_window_extents(self, renderer: Any) -> list[Bbox]:
        """One display-space box per label (what `Text.get_window_extent` gives for one)."""
        return [Bbox.from_bounds(left, base - descent, width, height)
                for left, base, _, _, width, height, descent in self._placed(renderer)]

    def draw(self, renderer: Any) -> None:
        if not self.get_visible():
            return
        gc = renderer.new_gc()
        items = [(left, base, text, matplotlib.colors.to_rgb(color))
                 for left, base, text, color, *_ in self._placed(renderer)]
        if hasattr(renderer, "draw_text_batch"):
            renderer.draw_text_batch(gc, items, self._prop)
        else:
            _, canvas_h = renderer.get_canvas_width_height()
            for left, base, text, rgb in items:
                gc.set_foreground(rgb)
                y = canvas_h - base if renderer.flipy() else base
                renderer.draw_text(gc, left, y, text, self._prop, 0.0, ismath=False, mtext=None)
        gc.restore()
        self.stale = False


def new_figure(width_px: int, height_px: int) -> Figure:
    """A white Figure of the given pixel size at `DPI`, attached to a `ChartCanvas`."""
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor=PAPER,
                 edgecolor=PAPER, frameon=True, layout="none")
    ChartCanvas(fig)
    return fig


# --- output --------------------------------------------------------------------------

def _encode(fig: Figure, compress_level: int, exact: Sequence[Any]) -> bytes:
    fig.canvas.draw()
    rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB")
    # Charts are flat colours plus anti-aliased edges: a 256-colour palette taken from a
    # sample of the pixels looks the same and makes the file three times smaller than RGB.
    sample = rgb.resize((max(rgb.width // 4, 1), max(rgb.height // 4, 1)), Image.Resampling.NEAREST)
    palette = sample.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    # The octree rounds and merges colours; give the flat colours the chart was drawn with
    # their exact values back, on the palette entries their pixels are mapped to.
    flat = list(dict.fromkeys(_rgb8(c) for c in (PAPER, *exact)))
    probe = Image.new("RGB", (len(flat), 1))
    probe.putdata(flat)
    entries = palette.getpalette()
    claimed: set[int] = set()
    probed = np.asarray(probe.quantize(palette=palette, dither=Image.Dither.NONE)).ravel()
    for color, index in zip(flat, probed.tolist()):
        if index not in claimed:
            claimed.add(index)
            entries[3 * index : 3 * index + 3] = color
    palette.putpalette(entries)
    indexed = rgb.quantize(palette=palette, dither=Image.Dither.NONE)
    out = io.BytesIO()
    indexed.save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


def _rgb8(color: Any) -> tuple[int, int, int]:
    r, g, b = matplotlib.colors.to_rgb(color)
    return round(r * 255), round(g * 255), round(b * 255)


@serialized
def to_png(fig: Figure, exact: Sequence[Any] = (), max_bytes: int = MAX_PNG_BYTES) -> bytes:
    """PNG bytes of *fig*, under *max_bytes*: squeezed harder, then smaller, if needed.

    *exact* lists the chart's flat colours, most important first; they come out exactly.
    """
    data = _encode(fig, 4, exact)
    if len(data) <= max_bytes:
        return data
    data = _encode(fig, 9, exact)
    dpi = fig.dpi
    while len(data) > max_bytes and dpi > 60:
        dpi *= 0.85
        fig.set_dpi(dpi)
        data = _encode(fig, 9, exact)
    if len(data) > max_bytes:
        raise ValueError(f"chart PNG is {len(data)} bytes even at {dpi:.0f} dpi")
    return data


def polyline(chart: "Chart", height: float, segments: Sequence[tuple[float, float, float, float]],
             color: Any, width_px: float, zorder: float = 0.5) -> None:
    """Straight segments (x0, y0, x1, y1 in page pixels, y down) as one line artist (NaN breaks)."""
    if not segments:
        return
    height = math.ceil(height)
    xs: list[float] = []
    ys: list[float] = []
    for x0, y0, x1, y1 in segments:
        xs += [x0 / DPI, x1 / DPI, math.nan]
        ys += [(height - y0) / DPI, (height - y1) / DPI, math.nan]
    fig = chart.figure
    fig.add_artist(Line2D(xs, ys, transform=fig.dpi_scale_trans, color=color, linewidth=width_px * 72 / DPI,
                          solid_capstyle="butt", solid_joinstyle="miter", zorder=zorder))
