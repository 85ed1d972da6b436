"""Step 1 charts: valid, small, not blank, Kazakh text drawn, nothing overlapping."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import struct
import warnings
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Patch
from matplotlib.text import Text

from bot.charts import (
    CombinedRow, MatrixPoint, Problem, RankedProblem, StickerRow, render, render_combined,
    render_matrix, render_pairwise, render_stickers,
)
from bot import drawing
from bot.charts.agg import ChartCanvas
from bot.charts.combined import combined_chart
from bot.charts.common import (
    MAX_PNG_BYTES, SIZE_SMALL, TextBatch, clean, fit_lines, font,
    fmt_number, short_label, to_png, width_of,
)
from bot.charts.matrix import matrix_chart
from bot.charts.pairwise import pairwise_chart
from bot.charts.stickers import stickers_chart

KAZAKH_LETTERS = "ӘҒҚҢӨҰҮҺІәғқңөұүһі"
PHRASES = [
    "Ауыл ішіндегі жолдар жөндеуді қажет етеді, көктемде су басып қалады",
    "ауыз су жетіспейді, құдықтағы су лас",
    "мектепте спорт залы жоқ, балалар дәлізде жаттығады",
    "көшелерде түнгі жарық жоқ, кешке қауіпті",
    "жастарға арналған үйірмелер жабылып қалған",
    "медициналық пункт аптасына бір рет қана ашылады",
    "Һ әрпі мен Ө, Ү, Ұ, Ғ, Қ, Ң, І, Ә әріптері дұрыс шығуы керек",
]


def long_text(i: int, length: int = 300) -> str:
    """A Kazakh problem text of exactly *length* characters, different for each *i*."""
    words = " ".join(PHRASES[(i + k) % len(PHRASES)] for k in range(12))
    return f"{i + 1}-мәселе: {words}"[:length]


def texts(n: int, length: int = 300) -> list[str]:
    return [long_text(i, length) for i in range(n)]


KK = {
    "stickers": {"title": "Жапсырма әдісі: ең өзекті мәселелер", "subtitle": "42 мүше дауыс берді",
                 "online": "онлайн", "paper": "жиналыста"},
    "matrix": {"title": "Басымдықтарды анықтау матрицасы", "x": "Маңыздылығы", "y": "Шұғылдығы",
               "problems": "Мәселелер", "score": "Орташа балл", "decimal": ","},
    "pairwise": {"title": "Жүппен саралау", "note": "Ұяшықта: жолдағы мәселе неше рет ұтты",
                 "order": "Реті", "score": "Ұпай", "decimal": ","},
    "combined": {"title": "Біріккен рейтинг", "rank": "Орны", "problem": "Мәселе"},
}
METHODS = ["Жапсырма әдісі", "Басымдықтар матрицасы", "Жүппен саралау"]


def sticker_rows(n: int, length: int = 300) -> list[StickerRow]:
    return [StickerRow(i + 1, t, online=(7 * i) % 23, paper=(3 * i) % 5)
            for i, t in enumerate(texts(n, length))]


def matrix_points(n: int, length: int = 300) -> list[MatrixPoint]:
    return [MatrixPoint(i + 1, t, 1 + i % 3, 1 + (i // 3) % 3, 1 + (i % 9) / 2)
            for i, t in enumerate(texts(n, length))]


def pairwise_args(n: int, length: int = 300):
    problems = [Problem(i + 1, t) for i, t in enumerate(texts(n, length))]
    wins = [[0 if i == j else (3 * i + 5 * j) % 13 for j in range(n)] for i in range(n)]
    scores = [sum(row) for row in wins]
    order = sorted((RankedProblem(p.number, p.text, s) for p, s in zip(problems, scores)),
                   key=lambda r: -r.score)
    return problems, wins, order


def combined_rows(n: int, length: int = 300) -> list[CombinedRow]:
    return [CombinedRow(i + 1, t, (1 + i % 4, None if i % 5 == 4 else 1 + i // 2, i + 1),
                        1 + i // 2)
            for i, t in enumerate(texts(n, length))]


BUILDERS = {
    "stickers": lambda n, length=300: stickers_chart(sticker_rows(n, length), KK["stickers"]),
    "matrix": lambda n, length=300: matrix_chart(matrix_points(n, length), KK["matrix"]),
    "pairwise": lambda n, length=300: pairwise_chart(*pairwise_args(n, length), KK["pairwise"]),
    "combined": lambda n, length=300: combined_chart(combined_rows(n, length), METHODS,
                                                     KK["combined"]),
}
RENDERERS = {
    "stickers": lambda n: render_stickers(sticker_rows(n), KK["stickers"]),
    "matrix": lambda n: render_matrix(matrix_points(n), KK["matrix"]),
    "pairwise": lambda n: render_pairwise(*pairwise_args(n), KK["pairwise"]),
    "combined": lambda n: render_combined(combined_rows(n), METHODS, KK["combined"]),
}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


class GlyphWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def render_quietly(fn, *args):
    """Call *fn*; return its result and every warning or matplotlib log line it raised."""
    handler = GlyphWarnings()
    logger = logging.getLogger("matplotlib")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args)
    finally:
        logger.removeHandler(handler)
    return result, [str(w.message) for w in caught] + handler.messages


# --- every chart -----------------------------------------------------------------------

def assert_readable_png(data: bytes, complaints: list, max_height: int) -> tuple[int, int]:
    """What every chart must be: no missing glyph or warning, 1080 px wide, not too tall, under
    the size limit, not blank, not a wall of ink. Returns (width, height)."""
    assert not complaints, complaints  # no missing glyphs for Kazakh letters, no warnings
    width, height = png_size(data)
    assert width == 1080
    assert 150 < height <= max_height
    assert len(data) < MAX_PNG_BYTES
    pixels = imread(io.BytesIO(data))
    assert pixels.shape[:2] == (height, width)
    rgb8 = (pixels[..., :3] * 255).round().astype(np.uint32)
    colours = np.unique(rgb8[..., 0] << 16 | rgb8[..., 1] << 8 | rgb8[..., 2])
    assert len(colours) >= 8, "chart looks blank"
    ink = (pixels[..., :3] < 0.5).any(axis=2).mean()
    assert 0.005 < ink < 0.5, f"{ink:.1%} of the page is ink"
    return width, height


@pytest.mark.parametrize("n", [1, 5, 30])
@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_chart_is_a_small_readable_png(kind: str, n: int) -> None:
    data, complaints = render_quietly(RENDERERS[kind], n)
    assert_readable_png(data, complaints, 2800)


@pytest.mark.parametrize("n", [5, 30])
@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_long_kazakh_labels_never_overlap_or_leave_the_page(kind: str, n: int) -> None:
    chart = BUILDERS[kind](n)
    fig = chart.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = text_boxes(fig, renderer)
    assert len(boxes) >= 2 * n
    assert_inside_page(boxes, renderer)
    assert_disjoint(boxes)
    assert_text_clear_of_shapes(fig, renderer)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_height_follows_the_number_of_problems(kind: str) -> None:
    heights = [BUILDERS[kind](n, 40).figure.bbox.height for n in (1, 5, 30)]
    assert heights[0] < heights[1] < heights[2]


def text_boxes(fig: Figure, renderer) -> np.ndarray:
    """(x0, y0, x1, y1) of every visible text on the figure, in pixels."""
    boxes = [t.get_window_extent(renderer).extents for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    for batch in fig.findobj(TextBatch):
        boxes += [b.extents for b in batch.get_window_extents(renderer)]
    return np.array(boxes)


def assert_inside_page(boxes: np.ndarray, renderer) -> None:
    width, height = renderer.get_canvas_width_height()
    assert boxes[:, 0].min() >= 0 and boxes[:, 1].min() >= 0
    assert boxes[:, 2].max() <= width and boxes[:, 3].max() <= height


def assert_disjoint(boxes: np.ndarray) -> None:
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    dx = np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :])
    dy = np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :])
    overlap = (dx > 0.5) & (dy > 0.5)
    np.fill_diagonal(overlap, False)
    pairs = np.argwhere(overlap)
    assert not len(pairs), f"{len(pairs) // 2} overlapping text pairs, e.g. {boxes[pairs[0]]}"


def assert_text_clear_of_shapes(fig: Figure, renderer) -> None:
    """A text touching a shape (bar, cell, disc, band) lies wholly inside it."""
    shapes = [p.get_window_extent(renderer) for p in fig.findobj(Patch) if p is not fig.patch]
    for text in fig.findobj(Text):
        if not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        for shape in shapes:
            if box.overlaps(shape) and not contains(shape, box):
                raise AssertionError(f"text {text.get_text()!r} crosses the edge of a shape")


def contains(outer, inner, slack: float = 0.5) -> bool:
    return (outer.x0 - slack <= inner.x0 and inner.x1 <= outer.x1 + slack
            and outer.y0 - slack <= inner.y0 and inner.y1 <= outer.y1 + slack)


def test_kazakh_letters_are_in_the_font_and_survive_cleaning() -> None:
    assert clean(KAZAKH_LETTERS) == KAZAKH_LETTERS
    data, complaints = render_quietly(
        render_stickers, [StickerRow(1, KAZAKH_LETTERS * 3, 2)], {"title": KAZAKH_LETTERS})
    assert not complaints


def test_emoji_and_control_characters_are_dropped_not_drawn_as_boxes() -> None:
    assert clean("🚰 Су\u200b жоқ!\n\tтез") == "Су жоқ! тез"
    assert clean("жол\u00adдар \u202eкері") == "жолдар кері"
    _, complaints = render_quietly(render_stickers, [StickerRow(1, "🚰🚰 Су жоқ 🙏", 3)])
    assert not complaints
    assert short_label("🙂🙂🙂", 30) == ["…"]


def test_dollar_signs_are_text_not_mathtext() -> None:
    _, complaints = render_quietly(render_stickers, [StickerRow(1, "Баға $5 және $10 теңге_^", 1)])
    assert not complaints


# --- particular charts -------------------------------------------------------------------

def test_stickers_sorted_best_on_top_with_parts_for_paper_votes() -> None:
    chart = stickers_chart([StickerRow(1, "аз", 1), StickerRow(2, "көп", 5, 4)],
                           {"online": "ONLINE-LEGEND", "paper": "PAPER-LEGEND"})
    texts = {t.get_text(): t for t in chart.figure.texts}
    assert {"ONLINE-LEGEND", "PAPER-LEGEND", "9", "5", "4"} <= texts.keys()
    assert texts["2."].get_position()[1] > texts["1."].get_position()[1]  # higher on the page


def test_stickers_without_paper_votes_have_no_legend() -> None:
    chart = stickers_chart([StickerRow(1, "бір", 3)], {"online": "ONLINE-LEGEND"})
    assert "ONLINE-LEGEND" not in {t.get_text() for t in chart.figure.texts}


def test_matrix_cells_show_a_plus_b_minus_one_and_crowded_cells_fit() -> None:
    points = [MatrixPoint(i + 1, f"мәселе {i}", 3, 3, 5.0) for i in range(30)]
    chart = matrix_chart(points)
    shown = [t.get_text() for t in chart.figure.texts]
    for value in "12345":
        assert value in shown
    fig = chart.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert_disjoint(text_boxes(fig, renderer))
    assert_text_clear_of_shapes(fig, renderer)


def test_pairwise_cells_show_wins_and_blank_diagonal() -> None:
    problems = [Problem(1, "бір"), Problem(2, "екі"), Problem(3, "үш")]
    wins = [[0, 7, 0], [2, 0, 0], [0, 0, 0]]
    chart = pairwise_chart(problems, wins, [RankedProblem(1, "бір", 7)])
    fig = chart.figure
    fig.canvas.draw()
    (cells,) = [b for b in fig.findobj(TextBatch) if any(i[2] == "7" for i in b._items)]
    shown = [item[2] for item in cells._items]
    assert sorted(shown) == sorted(["7", "–", "2", "–", "–", "–"])  # 6 off-diagonal cells


def test_pairwise_rejects_a_matrix_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError):
        render_pairwise([Problem(1, "a"), Problem(2, "b")], [[0, 1]], [])


def test_combined_marks_ties_and_missing_ranks() -> None:
    rows = [CombinedRow(5, "бес", (1, None), 1), CombinedRow(6, "алты", (2, 2), 2),
            CombinedRow(7, "жеті", (2, 1), 2)]
    chart = combined_chart(rows, ["A", "B"])
    shown = [t.get_text() for t in chart.figure.texts]
    assert shown.count("=2") == 2 + 2  # combined ties and method A's ties
    assert "—" in shown and "1" in shown


def test_combined_needs_one_rank_per_method() -> None:
    with pytest.raises(ValueError):
        render_combined([CombinedRow(1, "a", (1,), 1)], ["A", "B"])


@pytest.mark.parametrize("render_empty", [
    lambda: render_stickers([]), lambda: render_matrix([]),
    lambda: render_pairwise([], [], []), lambda: render_combined([], ["A"]),
])
def test_no_data_still_gives_a_chart(render_empty) -> None:
    assert png_size(render_empty())[0] == 1080


def test_oversized_png_is_squeezed_under_the_limit() -> None:
    chart = BUILDERS["pairwise"](30)
    limit = 90 * 1024
    data = to_png(chart.figure, chart.flat_colors, max_bytes=limit)
    width, _ = png_size(data)
    assert len(data) <= limit and width < 1080


# --- labels and data ---------------------------------------------------------------------

def test_every_visible_word_comes_from_the_caller() -> None:
    labels = {"title": "T-title", "subtitle": "T-sub", "online": "T-on", "paper": "T-paper"}
    chart = stickers_chart([StickerRow(1, "P-text", 2, 1)], labels)
    words = {t.get_text() for t in chart.figure.texts}
    assert words == {"T-title", "T-sub", "T-on", "T-paper", "1.", "P-text", "2", "1", "3"}


def test_unknown_label_keys_are_refused() -> None:
    with pytest.raises(KeyError):
        render_stickers([StickerRow(1, "a", 1)], {"titel": "typo"})


def test_rows_may_be_plain_tuples() -> None:
    assert render_stickers([(1, "a", 2, 1), (2, "b", 3)]) == render_stickers(
        [StickerRow(1, "a", 2, 1), StickerRow(2, "b", 3)])


def test_row_validation() -> None:
    with pytest.raises(ValueError):
        StickerRow(1, "a", 2, 1, total=4)
    with pytest.raises(ValueError):
        MatrixPoint(1, "a", 0, 3, 2.0)
    with pytest.raises(ValueError):
        CombinedRow(1, "a", (0,), 1)
    assert StickerRow(1, "a", 2, 1).total == 3
    assert MatrixPoint(1, "a", 3, 2, 4.0).value == 4


def test_numbers_use_the_callers_decimal_mark() -> None:
    assert fmt_number(3, decimal=",") == "3"
    assert fmt_number(2.5, decimal=",") == "2,5"
    assert fmt_number(4.0, 1, ",") == "4,0"
    assert fmt_number(0.125) == "0.12" or fmt_number(0.125) == "0.13"


# --- text fitting ------------------------------------------------------------------------

def test_short_label_wraps_then_ellipsizes() -> None:
    text = "Ауыл ішіндегі жолдар жөндеуді қажет етеді, көктемде су басып қалады"
    assert short_label(text, 30, 2) == [
        "Ауыл ішіндегі жолдар жөндеуді", "қажет етеді, көктемде су…"]
    assert short_label("қысқа", 30, 2) == ["қысқа"]
    assert short_label("ө" * 70, 30, 2) == ["ө" * 29 + "-", "ө" * 29 + "…"]  # a break is marked


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("абвгқңөұүһі ӘҒ,.–"), max_size=300),
       width=st.integers(min_value=3, max_value=60),
       max_lines=st.integers(min_value=1, max_value=3))
def test_short_label_respects_its_box(text: str, width: int, max_lines: int) -> None:
    lines = short_label(text, width, max_lines)
    assert 1 <= len(lines) <= max_lines
    assert all(0 < len(line) <= width for line in lines)
    shown = " ".join(lines)
    if not shown.endswith("…"):  # whole: only the hyphens that mark a word's break are added
        assert shown.replace("- ", "").replace(" ", "") == clean(text).replace(" ", "")
    whole, at = clean(text), 0
    for line in lines:  # a line ends at a word's end, or says that the word goes on ("-", "…")
        core = line.removesuffix("-").removesuffix("…").rstrip()
        found = whole.find(core, at) if core else at
        assert found >= 0, (line, whole)
        at = found + len(core)
        if not line.endswith(("-", "…")):
            assert whole[at:at + 1] in ("", " "), (lines, whole)


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ажқңөұүһіӘҒЙW mi,"), max_size=300))
def test_fit_lines_measures_in_pixels(text: str) -> None:
    for line in fit_lines(text, 300, SIZE_SMALL, 2):
        assert width_of(line, SIZE_SMALL) <= 300


# --- the fast text renderer ----------------------------------------------------------------

def test_cached_glyph_text_matches_matplotlib() -> None:
    """ChartCanvas draws Kazakh text exactly like matplotlib's own Agg canvas."""
    images, extents = [], []
    for canvas in (FigureCanvasAgg, ChartCanvas):
        fig = Figure(figsize=(4, 1), dpi=150, facecolor="white")  # 600 x 150 px
        canvas(fig)
        for y, colour, bold in [(0.2, "black", False), (0.6, "#0072B2", True)]:  # whole pixels
            fig.text(0.03, y, f"Жол — {KAZAKH_LETTERS[:9]} 12,5", fontproperties=font(12, bold),
                     color=colour)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        images.append(np.asarray(fig.canvas.buffer_rgba()).astype(int))
        extents.append([t.get_window_extent(renderer).extents for t in fig.texts])
    assert np.allclose(extents[0], extents[1])
    assert np.abs(images[0] - images[1]).max() <= 2


def test_width_of_is_what_is_drawn() -> None:
    fig = Figure(figsize=(4, 1), dpi=150)
    ChartCanvas(fig)
    text = fig.text(0, 0.5, "Ұйымдастыру жұмысы", fontproperties=font(SIZE_SMALL))
    fig.canvas.draw()
    assert text.get_window_extent().width == pytest.approx(width_of(text.get_text(), SIZE_SMALL))


# --- off the event loop -----------------------------------------------------------------------

async def test_render_runs_in_the_drawing_process_and_is_deterministic() -> None:
    rows = sticker_rows(8)
    expected = render_stickers(rows)
    results = await asyncio.gather(*(render(render_stickers, rows) for _ in range(4)),
                                   render(render_matrix, matrix_points(5)))
    assert results[:4] == [expected] * 4
    assert png_size(results[4])[0] == 1080


async def test_charts_are_drawn_in_a_process_of_their_own() -> None:
    """Not in a thread of the bot's process, where matplotlib and fpdf2 held its GIL."""
    drawer = await render(os.getpid)
    assert drawer != os.getpid()
    assert await render(os.getpid) == drawer  # one process, kept for the next renders


async def test_the_drawing_process_can_be_started_ahead_and_is_used() -> None:
    ready = await asyncio.wrap_future(drawing.start())
    assert ready != os.getpid() and await render(os.getpid) == ready


async def test_a_drawing_process_that_died_is_replaced_and_the_chart_drawn(caplog) -> None:
    rows = sticker_rows(3)
    dead = await render(os.getpid)
    assert dead != os.getpid()  # else the kill below would end the tests
    os.kill(dead, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="bot.drawing"):
        assert await render(render_stickers, rows) == render_stickers(rows)
    assert "drawing process died" in caplog.text
    assert await render(os.getpid) not in (dead, os.getpid())


def test_the_drawing_process_ends_when_the_bot_is_killed() -> None:
    import subprocess
    import sys
    import time

    bot = subprocess.Popen([sys.executable, "-c", "from bot import drawing; print(drawing.start().result(), "
                            "flush=True); import time; time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        drawer = int(bot.stdout.readline())
    finally:
        bot.kill()
        bot.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(drawer, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(drawer, signal.SIGKILL)
    raise AssertionError("the drawing process outlived the bot by 10 s")


async def test_a_render_that_kills_its_process_fails_alone() -> None:
    """Tried once more in a new process, then its error is raised; the next render is drawn."""
    with pytest.raises(BrokenProcessPool):
        await render(os._exit, 3)
    rows = sticker_rows(3)
    assert await render(render_stickers, rows) == render_stickers(rows)
