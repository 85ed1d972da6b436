"""Resource map (ресурстар картасы) of step 4: what the community has at hand, by kind.

One block a kind, in the caller's order, each headed by the kind's marker, name and count,
then its resources: a marker, the number ("#3"), what it is and, in smaller muted text, who
holds it and where. Every kind is drawn: a kind with no resource is an outlined, dashed,
white block saying so (`none`), with a hollow marker and the count 0 — the gap is what the
community reads off the map. Kinds differ by colour (Okabe & Ito) and by the marker's shape
(circle, square, diamond, triangle, hexagon), never by colour alone.

Texts get up to four lines and the holder and place two; when the map would be taller than
`HEIGHT_BUDGET` or carry more text than `TEXT_BUDGET` (the PNG's size), every resource is cut
to fewer lines (`LEVELS`), ending with an ellipsis; then resources in display order get their
lines back while the budgets allow.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from bot.charts.common import (
    ASCENT, CAP, DPI, ELLIPSIS, HAIRLINE, INK, MARGIN_PX, MUTED, OKABE_ITO, PAPER, SIZE_SMALL,
    SIZE_TEXT, Chart, Sheet, blend, block_height, clean, em, fit_lines, merge_labels, serialized,
    width_of,
)
from bot.charts.data import ResourceRow, coerce

LABELS = {
    "title": "Resource map",
    "subtitle": "",  # e.g. "23 resources in 4 of 5 kinds"
    "holder": "held by",  # before who holds a resource
    "place": "where",  # before where it is
    "none": "none yet",  # inside the block of a kind with no resource
    "empty": "No resources yet",  # under the header when the map has no resource at all
}

# The five kinds of the handbook, each a colour of Okabe & Ito's palette and a marker shape
# (yellow and black left out: too faint on white, and the colour of the text).
KIND_STYLES = {
    "people": (OKABE_ITO["blue"], "o"),
    "materials": (OKABE_ITO["orange"], "s"),
    "money": (OKABE_ITO["green"], "D"),
    "premises": (OKABE_ITO["vermillion"], "^"),
    "organisations": (OKABE_ITO["purple"], "h"),
}
_SPARE = [*KIND_STYLES.values(), (OKABE_ITO["sky_blue"], "v"), (OKABE_ITO["sky_blue"], "p")]

HEIGHT_BUDGET = 3500  # pixels; past it the resource texts get fewer lines
# Text drawn (line width × em, in square pixels), past which the texts get fewer lines: text
# is what makes the PNG big (about 0.14 bytes per square pixel: 1.3e6 is some 185 KB), and it
# must stay under 200 KB.
TEXT_BUDGET = 1.3e6
# (text lines, holder-and-place lines, share of the line the holder and place may take)
LEVELS = ((4, 2, 1.0), (3, 2, 1.0), (3, 1, 1.0), (2, 1, 1.0), (1, 1, 1.0), (1, 1, 0.75),
          (1, 1, 0.5))
MANY = 12  # more resources than this: the smaller text size
SEP = " · "  # between the holder and the place on one line


def kind_styles(kinds: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(colour, marker) of each kind key: the handbook's five fixed, any other key the
    styles the kinds given leave free, in order (then by a hash of its name)."""
    taken = {KIND_STYLES[k] for k in kinds if k in KIND_STYLES}
    free = [s for s in _SPARE if s not in taken]
    styles = {}
    for key in kinds:
        if key in KIND_STYLES:
            styles[key] = KIND_STYLES[key]
        elif free:
            styles[key] = free.pop(0)
        else:
            styles[key] = _SPARE[zlib.crc32(key.encode()) % len(_SPARE)]
    return styles


@dataclass
class _Item:
    row: ResourceRow
    meta: tuple[tuple[str, str], ...]  # ("held by: ", holder), ("where: ", place)
    lines: list[str] = field(default_factory=list)
    meta_lines: list[str] = field(default_factory=list)


def _part(label: str, value: str) -> tuple[str, str]:
    """("held by: ", "the holder"), or ("", "") when the value is not given."""
    value = clean(value)
    if not value:
        return "", ""
    label = clean(label)
    return (f"{label}: " if label else ""), value


def _meta_lines(meta: tuple[tuple[str, str], ...], width: float, max_lines: int) -> list[str]:
    """The holder and the place in at most *max_lines* lines of *width*: on one line when
    they fit, else one each, else each cut to its share of the line."""
    given = [(label, value) for label, value in meta if value]
    parts = [label + value for label, value in given]
    size = SIZE_SMALL
    if not parts:
        return []
    if len(parts) == 1:
        return fit_lines(parts[0], width, size, max_lines)
    joined = parts[0] + SEP + parts[1]
    if width_of(joined, size) <= width:
        return [joined]
    if max_lines >= 2:
        return [fit_lines(p, width, size, 1)[0] for p in parts]
    room = width - width_of(SEP, size)
    need = [width_of(p, size) for p in parts]
    if need[0] <= room / 2:
        share = [need[0], room - need[0]]
    elif need[1] <= room / 2:
        share = [room - need[1], need[1]]
    else:
        share = [room / 2, room / 2]
    return [SEP.join(_cut(p, w) for p, w in zip(parts, share))]


def _cut(text: str, width: float) -> str:
    """*text* on one line of *width*, ended with an ellipsis when it is cut: after a whole
    word when that keeps most of what fits, else mid-word (a name cut after its label alone
    would say nothing)."""
    size = SIZE_SMALL
    if width_of(text, size) <= width:
        return text
    room = width - width_of(ELLIPSIS, size)
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if width_of(text[:mid].rstrip(), size) <= room:
            lo = mid
        else:
            hi = mid - 1
    head = text[:lo]
    words = head.rpartition(" ")[0]
    if words and len(words) >= 0.75 * len(head):
        head = words
    return head.rstrip(" ,;:.-–—") + ELLIPSIS


def _ink(lines: Sequence[str], size: float) -> float:
    """Square pixels of text in *lines* (drawable text, as `fit_lines` gives), for
    `TEXT_BUDGET`."""
    return sum(width_of(line, size) for line in lines) * em(size)


class _Geometry:
    """Sizes and x positions of the blocks, in pixels, for item text *size*."""

    def __init__(self, size: float, widest_number: int, width: int) -> None:
        e, big = em(size), em(SIZE_TEXT)
        self.size = size
        self.left = MARGIN_PX
        self.right = width - MARGIN_PX
        self.stripe = big * 0.22  # the coloured stripe at a block's left edge
        self.pad = big * 0.45  # inside a block, left and right
        self.head_marker = big * 0.85  # the kind's marker in the block's heading
        self.marker = e * 0.62  # a resource's marker
        self.marker_x = self.left + self.stripe + self.pad + self.head_marker / 2
        self.number_x = self.marker_x + self.head_marker / 2 + big * 0.4
        self.number_w = width_of(f"#{widest_number}", size, bold=True)
        self.text_x = self.number_x + self.number_w + e * 0.35
        self.text_w = self.right - self.pad - self.text_x
        self.item_pad = e * 0.25  # above and below a resource
        self.meta_gap = e * 0.08  # between a resource's text and its holder and place
        self.head_pad = big * 0.4  # above and below a block's heading
        self.block_gap = big * 0.6

    def item_h(self, lines: int, meta_lines: int) -> float:
        h = 2 * self.item_pad + block_height(lines, self.size)
        if meta_lines:
            h += self.meta_gap + block_height(meta_lines, SIZE_SMALL)
        return h


@serialized
def resources_chart(
    rows: Iterable[ResourceRow | tuple],
    kinds: Sequence[tuple[str, str]],
    labels: Mapping[str, str] | None = None,
    notes: Mapping[str, tuple[int, str]] | None = None,
) -> Chart:
    """The resource map: a block a kind in the order of *kinds*, each with its resources.

    *kinds* are (key, translated name) pairs in display order; every row's kind must be one
    of the keys and every number unique. Resources keep the order given within their kind.
    *notes* adds to a kind what is kept elsewhere: ``{"organisations": (7, "7 on the
    institutional diagram: …")}`` counts 7 more in the kind's heading and shows the text in its
    block (instead of `none` when the kind has no resource of its own), so the two views agree.
    """
    rows = [coerce(ResourceRow, r) for r in rows]
    kinds = [(str(key), str(name)) for key, name in kinds]
    keys = [key for key, _ in kinds]
    if not kinds:
        raise ValueError("the resource map needs at least one kind")
    if len(set(keys)) != len(keys):
        raise ValueError("kind keys must be distinct")
    numbers: set[int] = set()
    for row in rows:
        if row.kind not in keys:
            raise ValueError(f"resource #{row.number} has unknown kind {row.kind!r}")
        if row.number in numbers:
            raise ValueError(f"resource number #{row.number} is used twice")
        numbers.add(row.number)
    labels = merge_labels(LABELS, labels)
    notes = dict(notes or {})
    if set(notes) - set(keys):
        raise ValueError(f"notes for unknown kinds {sorted(set(notes) - set(keys))}")
    styles = kind_styles(keys)

    sheet = Sheet()
    inner = sheet.width - 2 * MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    size = SIZE_TEXT if len(rows) <= MANY else SIZE_SMALL
    geo = _Geometry(size, max(numbers, default=1), sheet.width)
    if not rows and not any(count for count, _ in notes.values()):
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT, 2),
                        SIZE_TEXT, color=MUTED) + em(SIZE_TEXT) * 0.8

    # The blocks' headings: the kind's name (up to two lines) and its count on the right.
    groups = {key: [] for key in keys}
    for row in rows:
        groups[row.kind].append(_Item(row, (_part(labels["holder"], row.holder),
                                            _part(labels["place"], row.place))))
    counts = {key: str(len(items) + notes.get(key, (0, ""))[0]) for key, items in groups.items()}
    count_w = max(width_of(c, SIZE_TEXT, bold=True) for c in counts.values())
    name_w = geo.right - geo.pad - count_w - em(SIZE_TEXT) * 0.6 - geo.number_x
    names = {key: fit_lines(name, name_w, SIZE_TEXT, 2, bold=True) for key, name in kinds}
    none = fit_lines(labels["none"], geo.right - geo.pad - geo.number_x, SIZE_TEXT, 2)
    head_h = {key: 2 * geo.head_pad + block_height(len(names[key]), SIZE_TEXT) for key in keys}
    empty_h = block_height(len(none), SIZE_TEXT) + geo.head_pad
    # A note: the kind's empty line, or one more line under its resources.
    note_lines = {key: fit_lines(text, geo.right - geo.pad - geo.number_x, SIZE_TEXT, 3)
                  for key, (_, text) in notes.items() if text}
    note_h = {key: block_height(len(lines), SIZE_TEXT) + geo.head_pad + (geo.item_pad if groups[key] else 0)
              for key, lines in note_lines.items()}

    # Wrap every text at the most lines the budgets allow (see the module's docstring).
    items = [item for key in keys for item in groups[key]]
    fixed = y + MARGIN_PX + sum(head_h.values()) + geo.block_gap * (len(keys) - 1) + sum(
        note_h.get(key, empty_h) for key in keys if not groups[key] or key in note_h)
    fixed_ink = (_ink([clean(labels["title"]), clean(labels["subtitle"])], SIZE_TEXT)
                 + sum(_ink(n, SIZE_TEXT) for n in names.values())
                 + sum(_ink(note_lines.get(key, none), SIZE_TEXT) for key in keys
                       if not groups[key] or key in note_lines))

    def wrap(text: list[str], meta: list[str]) -> tuple[list[str], list[str], float, float]:
        """The lines, the height and the ink of a resource."""
        return (text, meta, geo.item_h(len(text), len(meta)),
                _ink(text, size) + _ink(meta, SIZE_SMALL))

    wrapped: list[list[tuple[list[str], list[str], float, float]]] = []
    for level, (max_lines, max_meta, share) in enumerate(LEVELS):
        prev = wrapped[-1] if wrapped else None
        meta_w = geo.text_w * share
        now = []
        for i, item in enumerate(items):
            old = prev[i] if prev else None
            text = (old[0] if old and len(old[0]) <= max_lines
                    else fit_lines(item.row.text, geo.text_w, size, max_lines))
            meta = (old[1] if old and len(old[1]) <= max_meta
                    and all(width_of(m, SIZE_SMALL) <= meta_w for m in old[1])
                    else _meta_lines(item.meta, meta_w, max_meta))
            now.append(old if old and text is old[0] and meta is old[1] else wrap(text, meta))
        wrapped.append(now)
        used = fixed + sum(w[2] for w in now)
        ink = fixed_ink + sum(w[3] for w in now)
        if used <= HEIGHT_BUDGET and ink <= TEXT_BUDGET:
            break
    for item, (text, meta, _, _) in zip(items, wrapped[level]):
        item.lines, item.meta_lines = text, meta
    if level:
        for item, less, more in zip(items, wrapped[level], wrapped[level - 1]):
            extra, extra_ink = more[2] - less[2], more[3] - less[3]
            if used + extra > HEIGHT_BUDGET or ink + extra_ink > TEXT_BUDGET:
                break
            item.lines, item.meta_lines = more[0], more[1]
            used += extra
            ink += extra_ink

    markers: list[tuple[str, bool, float, float, float]] = []  # kind, filled, x, y, size
    dashed: list[tuple[str, float, float, float, float]] = []  # kind, x, y, w, h
    numbers_drawn: list[tuple[float, float, str, str]] = []
    stripes: list[tuple[float, float, float, float]] = []
    stripe_colors: list[str] = []
    for i, (key, _) in enumerate(kinds):
        if i:
            y += geo.block_gap
        color, _ = styles[key]
        group = groups[key]
        h = head_h[key] + (sum(geo.item_h(len(it.lines), len(it.meta_lines)) for it in group)
                           if group else 0) + note_h.get(key, 0 if group else empty_h)
        present = bool(group) or notes.get(key, (0, ""))[0] > 0  # drawn filled, not as a gap
        if present:
            # White under the resources: text on a tint makes a bigger PNG.
            sheet.rect(geo.left, y, geo.right - geo.left, h, PAPER,
                       edge=blend(color, PAPER, 0.45), linewidth=1.0)
            sheet.rect(geo.left, y, geo.right - geo.left, head_h[key], blend(color, PAPER, 0.75))
            stripes.append((geo.left, y, geo.stripe, h))
            stripe_colors.append(color)
        else:
            dashed.append((key, geo.left, y, geo.right - geo.left, h))
        # The heading: marker, name, count.
        top = y + geo.head_pad
        markers.append((key, present, geo.marker_x,
                        top + em(SIZE_TEXT) * (ASCENT - CAP / 2), geo.head_marker))
        sheet.lines(geo.number_x, top, names[key], SIZE_TEXT, bold=True)
        sheet.text(geo.right - geo.pad, top + em(SIZE_TEXT) * ASCENT, counts[key], SIZE_TEXT,
                   bold=True, color=INK if present else MUTED, ha="right")
        y += head_h[key]
        if not group:
            sheet.lines(geo.number_x, y, note_lines.get(key, none), SIZE_TEXT, color=MUTED)
            y += note_h.get(key, empty_h)
            continue
        for j, item in enumerate(group):
            if j:
                sheet.line(geo.left + geo.stripe, y, geo.right, y, HAIRLINE, 1.0)
            top = y + geo.item_pad
            markers.append((key, True, geo.marker_x, top + em(size) * (ASCENT - CAP / 2),
                            geo.marker))
            label = f"#{item.row.number}"
            numbers_drawn.append((geo.text_x - em(size) * 0.35
                                  - width_of(label, size, bold=True) / 2,
                                  top + em(size) * ASCENT, label, INK))
            bottom = sheet.lines(geo.text_x, top, item.lines, size)
            if item.meta_lines:
                sheet.lines(geo.text_x, bottom + geo.meta_gap, item.meta_lines, SIZE_SMALL,
                            color=MUTED)
            y += geo.item_h(len(item.lines), len(item.meta_lines))
        if key in note_lines:
            sheet.line(geo.left + geo.stripe, y, geo.right, y, HAIRLINE, 1.0)
            sheet.lines(geo.number_x, y + geo.item_pad, note_lines[key], SIZE_TEXT, color=MUTED)
            y += note_h[key]
    if stripes:
        sheet.rects(stripes, stripe_colors, edge="none", linewidth=0.0)
    if numbers_drawn:
        sheet.text_batch(numbers_drawn, size, bold=True)
    height = y + MARGIN_PX
    chart = sheet.chart(height)
    # The markers' and outlines' colours come out exact in the PNG too.
    extra = [styles[key][0] for key in keys if styles[key][0] not in chart.flat_colors]
    chart = replace(chart, flat_colors=chart.flat_colors + tuple(extra))
    _draw_dashed(chart, height, dashed, styles)
    _draw_markers(chart, height, markers, styles)
    return chart


def _draw_dashed(chart: Chart, height: float,
                 boxes: list[tuple[str, float, float, float, float]],
                 styles: Mapping[str, tuple[str, str]]) -> None:
    """The white, dashed outline of every kind without a resource."""
    height = math.ceil(height)
    fig = chart.figure
    for key, x, y, w, h in boxes:
        lw = 2.0  # pixels; inside the box, so text placed inside it stays clear of the edge
        fig.add_artist(Rectangle(((x + lw / 2) / DPI, (height - y - h + lw / 2) / DPI),
                                 (w - lw) / DPI, (h - lw) / DPI,
                                 transform=fig.dpi_scale_trans, facecolor=PAPER,
                                 edgecolor=styles[key][0], linewidth=lw * 72 / DPI,
                                 linestyle=(0, (6, 4)), zorder=1))


def _draw_markers(chart: Chart, height: float,
                  markers: list[tuple[str, bool, float, float, float]],
                  styles: Mapping[str, tuple[str, str]]) -> None:
    """Every kind's markers, filled and hollow, one line artist each."""
    height = math.ceil(height)
    fig = chart.figure
    groups: dict[tuple[str, bool, float], list[tuple[float, float]]] = {}
    for key, filled, x, y, size in markers:
        groups.setdefault((key, filled, size), []).append((x / DPI, (height - y) / DPI))
    for (key, filled, size), points in groups.items():
        color, shape = styles[key]
        # Triangles and diamonds look smaller than a circle of the same size.
        scale = {"^": 1.15, "v": 1.15, "D": 0.85, "s": 0.9}.get(shape, 1.0)
        xs, ys = zip(*points)
        fig.add_artist(Line2D(xs, ys, transform=fig.dpi_scale_trans, linestyle="none",
                              marker=shape, markersize=size * scale * 72 / DPI,
                              markerfacecolor=color if filled else PAPER,
                              markeredgecolor=color if not filled else INK,
                              markeredgewidth=(2.0 if not filled else 0.8) * 72 / DPI,
                              zorder=2.5))


@serialized
def render_resources(
    rows: Iterable[ResourceRow | tuple],
    kinds: Sequence[tuple[str, str]],
    labels: Mapping[str, str] | None = None,
    notes: Mapping[str, tuple[int, str]] | None = None,
) -> bytes:
    """PNG bytes of `resources_chart`."""
    return resources_chart(rows, kinds, labels, notes).png()
