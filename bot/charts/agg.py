"""An Agg canvas whose text renderer draws from a cache of glyph bitmaps.

Matplotlib 3.11 asks FreeType to load, hint and render every glyph of every string on
every draw (about 70 µs a glyph on our build machine), which for a chart of 30 wrapped problem
texts costs more than the whole render budget.  Our charts use one font at a handful of
sizes, so each glyph is rasterised once per (font, size, dpi) and later text is pasted
together from those bitmaps with the public ``draw_image`` call.  Measuring goes through
the same cache, so what is laid out is exactly what is drawn.

Glyphs sit on whole pixels and pairs are not kerned: for Cyrillic text in DejaVu Sans the
result is pixel-identical to matplotlib's (DejaVu has no Cyrillic kerning); Latin pairs such
as "AV" come out a little looser. Rotated text, mathtext and fonts that were not given by
file name take matplotlib's own path. Glyphs missing from the font raise the same warning
matplotlib raises.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.ft2font import FT2Font, LoadFlags

__all__ = ["ChartCanvas", "charmap", "text_width"]

_LOAD_FLAGS = LoadFlags.DEFAULT  # matplotlib's default hinting ("text.hinting": "default")
_CACHE_LIMIT = 20_000  # glyph bitmaps (and line images) kept; a chart uses a few hundred
_lock = threading.RLock()
_fonts: dict[str, FT2Font] = {}
_glyphs: dict[tuple[str, float, float, str], "_Glyph"] = {}
_lines: dict[tuple[str, float, float, str], tuple[np.ndarray, int, int]] = {}
_charmaps: dict[str, frozenset[int]] = {}


@dataclass(frozen=True, slots=True)
class _Glyph:
    bitmap: np.ndarray  # uint8 coverage, row 0 at the top
    left: int  # pixels from the pen position to the bitmap's first column
    top: int  # pixels from the baseline up to the bitmap's first row
    advance: int  # hinted advance in whole pixels
    ascent: float  # ink above the baseline
    descent: float  # ink below the baseline (positive)


def _font(path: str) -> FT2Font:
    font = _fonts.get(path)
    if font is None:
        font = _fonts[path] = FT2Font(path)
        _charmaps[path] = frozenset(font.get_charmap())
    return font


def charmap(path: str) -> frozenset[int]:
    """Code points the font at *path* has glyphs for."""
    with _lock:
        _font(path)
        return _charmaps[path]


def _glyph(path: str, size: float, dpi: float, ch: str) -> _Glyph:
    key = (path, size, dpi, ch)
    glyph = _glyphs.get(key)
    if glyph is not None:
        return glyph
    font = _font(path)
    if ord(ch) not in _charmaps[path] and not ch.isspace():
        warnings.warn(
            f"Glyph {ord(ch)} ({ch.encode('ascii', 'namereplace').decode('ascii')}) "
            f"missing from font(s) {font.family_name}.",
            UserWarning,
            stacklevel=4,
        )
    font.set_size(size, dpi)
    metrics = font.load_char(ord(ch), flags=_LOAD_FLAGS)
    xmin, ymin, _xmax, ymax = metrics.bbox  # 26.6 fixed point, y up
    font.set_text(ch, 0.0, flags=_LOAD_FLAGS)
    font.draw_glyphs_to_bitmap(antialiased=True)
    bitmap = np.array(font.get_image(), dtype=np.uint8)
    # FT2Font.draw_glyphs_to_bitmap puts image column 0 at floor(xmin) and row 0 one
    # pixel above floor(ymax); see test_fast_text_matches_matplotlib.
    glyph = _Glyph(
        bitmap=bitmap,
        left=math.floor(xmin / 64),
        top=math.floor(ymax / 64) + 1,
        advance=round(metrics.horiAdvance / 64),
        ascent=max(ymax / 64, 0.0),
        descent=max(-ymin / 64, 0.0),
    )
    if len(_glyphs) >= _CACHE_LIMIT:
        _glyphs.clear()
    _glyphs[key] = glyph
    return glyph


def text_width(text: str, path: str, size: float, dpi: float) -> float:
    """Width in pixels of one line of *text* as the chart canvas draws it."""
    with _lock:
        return float(sum(_glyph(path, size, dpi, ch).advance for ch in text))


def _line_image(text: str, path: str, size: float, dpi: float) -> tuple[np.ndarray, int, int]:
    """Coverage image of one line (read-only), its left offset from the pen position and
    its top row's height above the baseline."""
    key = (path, size, dpi, text)
    line = _lines.get(key)
    if line is None:
        if len(_lines) >= _CACHE_LIMIT:
            _lines.clear()
        line = _lines[key] = _compose(text, path, size, dpi)
    return line


def _compose(text: str, path: str, size: float, dpi: float) -> tuple[np.ndarray, int, int]:
    glyphs = [_glyph(path, size, dpi, ch) for ch in text]
    pens = np.cumsum([0] + [g.advance for g in glyphs[:-1]])
    x0 = min(p + g.left for p, g in zip(pens, glyphs))
    x1 = max(p + g.left + g.bitmap.shape[1] for p, g in zip(pens, glyphs))
    top = max(g.top for g in glyphs)
    bottom = min(g.top - g.bitmap.shape[0] for g in glyphs)
    image = np.zeros((top - bottom, x1 - x0), dtype=np.uint8)
    for pen, g in zip(pens, glyphs):
        h, w = g.bitmap.shape
        if not h or not w:
            continue
        c = pen + g.left - x0
        r = top - g.top
        region = image[r : r + h, c : c + w]
        np.maximum(region, g.bitmap, out=region)
    image.flags.writeable = False
    return image, int(x0), int(top)


class _CachedTextRenderer(RendererAgg):
    """RendererAgg whose plain, horizontal text comes from the glyph cache."""

    @staticmethod
    def _fast_path(prop, ismath, angle=0.0) -> str | None:
        if ismath or angle:
            return None
        path = prop.get_file()
        return path if isinstance(path, str) else None

    def get_text_width_height_descent(self, s, prop, ismath):
        path = self._fast_path(prop, ismath)
        if path is None or not s:
            return super().get_text_width_height_descent(s, prop, ismath)
        size = prop.get_size_in_points()
        with _lock:
            glyphs = [_glyph(path, size, self.dpi, ch) for ch in s]
        width = float(sum(g.advance for g in glyphs))
        ascent = max(g.ascent for g in glyphs)
        descent = max(g.descent for g in glyphs)
        return width, ascent + descent, descent

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        path = self._fast_path(prop, ismath, angle)
        if path is None or not s:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        with _lock:
            coverage, dx, top = _line_image(s, path, prop.get_size_in_points(), self.dpi)
        if not coverage.size:
            return None
        r, g, b, *a = gc.get_rgb()
        alpha = gc.get_alpha() if gc.get_forced_alpha() or not a else a[0]
        rgba = np.empty(coverage.shape + (4,), dtype=np.uint8)
        rgba[..., 0] = round(r * 255)
        rgba[..., 1] = round(g * 255)
        rgba[..., 2] = round(b * 255)
        rgba[..., 3] = coverage if alpha >= 1 else (coverage * alpha).astype(np.uint8)
        # x, y: pen position on the baseline, y measured down from the top edge;
        # draw_image wants the image's lower-left corner measured up from the bottom,
        # and its rows bottom first.
        left = round(x) + dx
        bottom = self.height - round(y) + top - coverage.shape[0]
        self.draw_image(gc, left, bottom, rgba[::-1])
        return None

    def draw_text_batch(self, gc, items, prop) -> None:
        """Draw many short horizontal labels at once: ``items`` are (x, y, text, rgb) with
        x the left end and y the baseline, in display pixels (y up). The labels are pasted
        into one image and composited with a single ``draw_image``."""
        path = self._fast_path(prop, False)
        if path is None:
            for x, y, text, rgb in items:
                gc.set_foreground(rgb)
                super().draw_text(gc, x, self.height - y, text, prop, 0.0)
            return
        size = prop.get_size_in_points()
        placed = []
        with _lock:
            for x, y, text, rgb in items:
                if text:
                    coverage, dx, top = _line_image(text, path, size, self.dpi)
                    placed.append((round(x) + dx, round(y) + top, coverage, rgb))
        if not placed:
            return
        left = min(p[0] for p in placed)
        right = max(p[0] + p[2].shape[1] for p in placed)
        top = max(p[1] for p in placed)
        bottom = min(p[1] - p[2].shape[0] for p in placed)
        overlay = np.zeros((top - bottom, right - left, 4), dtype=np.uint8)
        for x, y, coverage, rgb in placed:
            h, w = coverage.shape
            r, c = top - y, x - left
            region = overlay[r : r + h, c : c + w]
            np.copyto(region[..., :3], np.round(np.asarray(rgb[:3]) * 255).astype(np.uint8),
                      where=coverage[..., None] > 0)
            np.maximum(region[..., 3], coverage, out=region[..., 3])
        self.draw_image(gc, left, bottom, overlay[::-1])


class ChartCanvas(FigureCanvasAgg):
    """FigureCanvasAgg drawing text through the glyph cache."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = _CachedTextRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer
