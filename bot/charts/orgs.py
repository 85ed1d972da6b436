"""Institutional diagram (институционалдық диаграмма) of step 4: the Venn ("chapati") circles.

The community is a circle in the middle of a square diagram; each organisation or person is a
circle whose area grows with its importance (1 to 3) and whose centre lies nearer the middle
the closer it is to the community: at closeness 3 just outside the community's circle (never
over it, so the community's name stays readable), at closeness 1 near the diagram's edge.
Faint rings, each labelled ("closeness 3", "2", "1") beside its line, mark where those centres
lie. The distance from the middle depends on closeness alone, the size on importance alone.

Each circle carries its number ("#2"); beside it, where there is room clear of every circle
and every other label, stands the organisation's name (whole, or its first whole words and
"…"). A list below the diagram gives "#2 name — importance 2.5, closeness 1.7 (6 estimates)"
for every one. The angle of each
circle around the middle is free: circles are placed one at a time (innermost, then most
important first) at the angle, and their number at the spot inside the circle, that keeps
every number clear of the other numbers and of the other circles and the circles apart as
far as they can be; then each circle is placed again once the others are known. Numbers are
drawn over every circle, and the circles are translucent, so an overlap never hides one.

Colours: the community in a yellow tint with a dark rim, the organisations in Okabe & Ito's
blue; the two are told apart by place and rim too, never by colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.colors import to_rgb
from matplotlib.patches import Circle

from bot.charts.common import (
    ASCENT, CAP, DESCENT, DPI, ELLIPSIS, HAIRLINE, INK, LINE_STEP, MARGIN_PX, MUTED, OKABE_ITO, PAPER, RULE,
    SIZE_SMALL, SIZE_TEXT, Chart, Sheet, blend, block_height, clean, em, fit_lines, fmt_number,
    merge_labels, serialized, width_of,
)
from bot.charts.data import OrgRow, coerce

LABELS = {
    "title": "Institutional diagram",
    "subtitle": "",  # e.g. "14 members estimated"
    "community": "Our community",  # inside the centre circle
    "importance": "circle size: importance",  # the key under the diagram
    "closeness": "distance: closeness",
    "ring": "closeness {n}",  # beside the ring where centres of closeness n lie
    # One line of the list: "#2 name — {scores} ({raters})".
    "scores": "importance {importance}, closeness {closeness}",
    "raters": "{n} estimates",
    "raters_one": "{n} estimate",  # for one estimate; when only "raters" is given, that one
    "empty": "No organisations yet",
    "decimal": ".",  # the decimal mark of the mean estimates
}

ORG = OKABE_ITO["blue"]
ORG_ALPHA = 0.2
ORG_TRANSLUCENT = (*to_rgb(ORG), ORG_ALPHA)
ORG_FILL = blend(ORG, PAPER, 1 - ORG_ALPHA)  # one translucent disc on paper
COMMUNITY_FILL = blend(OKABE_ITO["yellow"], PAPER, 0.55)

SIDE = 1080 - 2 * MARGIN_PX  # the diagram is a square as wide as the page's text
R_COMMUNITY = 150.0  # the community circle's radius, px
R_LEAST = 36.0  # an organisation of importance 1 (at least: its number must fit)
R_MOST = 66.0  # importance 3
GAP = 10.0  # between the community's circle and the biggest circle of closeness 3
NAME_WIDTH = 230.0  # px: a name beside its circle takes at most two lines this wide
OTHER_GAP = 18.0  # px: a name beside its circle keeps at least this far from any other circle
EDGE_PAD = 6.0  # between the outermost circles and the diagram's edge
NUMBER_PAD = 5.0  # kept clear around a number, px
SPREAD = 300.0  # weight of the push between circles, against their overlap squared
ANGLES = 72  # angles tried around the middle (5° apart)
NUMBER_SIZES = (SIZE_TEXT, SIZE_SMALL, 10.5, 9.0)  # points, tried in turn
MANY = 12  # more organisations than this: the list in the smaller text size


@dataclass(frozen=True)
class Disc:
    """Where one organisation is drawn, in pixels from the diagram's middle (y down)."""

    number: int
    x: float
    y: float
    r: float
    label_x: float  # the middle of its number
    label_y: float


@dataclass(frozen=True)
class Geometry:
    """Radii and distances for a diagram whose widest number is *number_w* pixels wide."""

    number_w: float
    number_h: float

    @property
    def r_least(self) -> float:
        return max(R_LEAST, math.hypot(self.number_w / 2, self.number_h / 2) + NUMBER_PAD)

    @property
    def r_most(self) -> float:
        return max(R_MOST, self.r_least * 1.6)

    def radius(self, importance: float) -> float:
        """Area linear in importance: 1 gives `r_least`, 3 gives `r_most`."""
        a, b = self.r_least ** 2, self.r_most ** 2
        return math.sqrt(a + (b - a) * (importance - 1) / 2)

    @property
    def far(self) -> float:
        """Distance of a closeness-1 centre from the middle."""
        return SIDE / 2 - self.r_most - EDGE_PAD

    @property
    def near(self) -> float:
        """Distance of a closeness-3 centre from the middle: no circle reaches the community's."""
        return R_COMMUNITY + self.r_most + GAP

    def distance(self, closeness: float) -> float:
        """Closeness 3 at `near`, 1 at `far`, linear between."""
        return self.near + (self.far - self.near) * (3 - closeness) / 2


def _validated(rows: Iterable[OrgRow | tuple]) -> list[OrgRow]:
    rows = sorted((coerce(OrgRow, r) for r in rows), key=lambda r: r.number)
    for a, b in zip(rows, rows[1:]):
        if a.number == b.number:
            raise ValueError(f"organisation number #{a.number} is used twice")
    return rows


def _number_size(rows: Sequence[OrgRow], size: float = SIZE_TEXT) -> tuple[float, float]:
    """Width and height in pixels kept for the widest number "#n" inside a circle."""
    w = max((width_of(f"#{r.number}", size, bold=True) for r in rows), default=0.0)
    return w, em(size) * (ASCENT + DESCENT)


def place(rows: Iterable[OrgRow | tuple], clear: tuple[float, float] = (0.0, 0.0),
          size: float = SIZE_TEXT) -> list[Disc]:
    """Each organisation's circle and number (at *size* points), in the order of their
    numbers.

    *clear* is the half width and half height of a box around the middle (the community's
    name) that no organisation's circle may reach into.
    """
    rows = _validated(rows)
    geo = Geometry(*_number_size(rows, size))
    label_h = em(size) * (ASCENT + DESCENT) / 2 + NUMBER_PAD / 2
    angles = -math.pi / 2 + 2 * math.pi * np.arange(ANGLES) / ANGLES
    unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (K, 2)
    n = len(rows)
    radius = np.array([geo.radius(r.importance) for r in rows])
    dist = np.array([geo.distance(r.closeness) for r in rows])
    half_w = np.array([width_of(f"#{r.number}", size, bold=True) / 2 + NUMBER_PAD / 2
                       for r in rows])
    centre = np.zeros((n, 2))
    label = np.zeros((n, 2))
    placed = np.zeros(n, dtype=bool)
    cw, ch = clear

    def best(i: int) -> None:
        # Candidate centres (K) and number offsets inside the circle (L).
        centres = dist[i] * unit  # (K, 2)
        room = max(radius[i] - math.hypot(half_w[i], label_h) - 2.0, 0.0)
        directions = [(0.0, 0.0)] + [(math.cos(t), math.sin(t))
                                     for t in np.arange(8) * math.pi / 4]
        offsets = np.array(directions) * room  # (L, 2)
        labels = centres[:, None, :] + offsets[None, :, :]  # (K, L, 2)
        others = np.flatnonzero(placed)
        cost = np.broadcast_to(np.linalg.norm(offsets, axis=1) * 0.05,
                               (len(centres), len(offsets))).copy()
        # The number stays clear of the community's name (hard).
        overlap = ((np.abs(labels[..., 0]) < half_w[i] + cw)
                   & (np.abs(labels[..., 1]) < label_h + ch))
        cost += overlap * 1e7
        # The circle stays clear of the community's name (hard).
        cost += (_box_disc(np.zeros(2), cw, ch, centres, radius[i]) * 1e7)[:, None]
        if len(others):
            o_lab, o_cen, o_r, o_hw = label[others], centre[others], radius[others], half_w[others]
            # Numbers apart (hard).
            dx = np.abs(labels[:, :, None, 0] - o_lab[None, None, :, 0])
            dy = np.abs(labels[:, :, None, 1] - o_lab[None, None, :, 1])
            clash = (dx < half_w[i] + o_hw) & (dy < 2 * label_h)
            cost += clash.sum(axis=2) * 1e6
            # My number outside the other circles, their numbers outside mine (strong).
            gx = np.maximum(np.abs(labels[:, :, None, 0] - o_cen[None, None, :, 0]) - half_w[i], 0)
            gy = np.maximum(np.abs(labels[:, :, None, 1] - o_cen[None, None, :, 1]) - label_h, 0)
            cost += (gx ** 2 + gy ** 2 < o_r ** 2).sum(axis=2) * 1e4
            gx = np.maximum(np.abs(centres[:, None, 0] - o_lab[None, :, 0]) - o_hw, 0)
            gy = np.maximum(np.abs(centres[:, None, 1] - o_lab[None, :, 1]) - label_h, 0)
            cost += ((gx ** 2 + gy ** 2 < radius[i] ** 2).sum(axis=1) * 1e4)[:, None]
            # Circles as far apart as they can be (soft).
            gap = np.linalg.norm(centres[:, None, :] - o_cen[None, :, :], axis=2)
            cost += (np.maximum(radius[i] + o_r + 12.0 - gap, 0) ** 2).sum(axis=1)[:, None]
            # ... and spread around the middle rather than bunched on one side (soft).
            cost += (SPREAD * ((radius[i] + o_r) / np.maximum(gap, 1.0)) ** 2).sum(axis=1)[:, None]
        k, l = np.unravel_index(int(np.argmin(cost)), cost.shape)
        centre[i], label[i] = centres[k], labels[k, l]
        placed[i] = True

    order = sorted(range(n), key=lambda i: (-rows[i].closeness, -rows[i].importance,
                                            rows[i].number))
    for i in order:
        best(i)
    for i in order:  # once more, now that the others are known
        placed[i] = False
        best(i)
    return [Disc(r.number, float(c[0]), float(c[1]), float(rad), float(lab[0]), float(lab[1]))
            for r, c, rad, lab in zip(rows, centre, radius, label)]


def clashes(discs: Sequence[Disc], size: float = SIZE_TEXT) -> int:
    """How many pairs of the numbers (at *size* points) touch each other."""
    half_h = em(size) * (ASCENT + DESCENT) / 2
    boxes = [(d.label_x, d.label_y, width_of(f"#{d.number}", size, bold=True) / 2)
             for d in discs]
    return sum(1 for i, (x, y, w) in enumerate(boxes) for x2, y2, w2 in boxes[i + 1:]
               if abs(x - x2) < w + w2 and abs(y - y2) < 2 * half_h)


def _box_disc(box_centre: np.ndarray, hw: float, hh: float, centres: np.ndarray,
              r: float) -> np.ndarray:
    """For each of *centres*: does a disc of radius *r* there reach into the box?"""
    if hw <= 0 or hh <= 0:
        return np.zeros(len(centres), dtype=bool)
    gx = np.maximum(np.abs(centres[:, 0] - box_centre[0]) - hw, 0)
    gy = np.maximum(np.abs(centres[:, 1] - box_centre[1]) - hh, 0)
    return gx ** 2 + gy ** 2 < r ** 2


def _community_text(text: str, clear_r: float) -> tuple[list[str], float]:
    """The community's name in as few lines as fit inside radius *clear_r*, and its size:
    whole words at the larger size if it can, then at the smaller, then shortened."""
    full = clean(text)
    tries = [(size, lines) for size in (SIZE_TEXT, SIZE_SMALL) for lines in (1, 2, 3)
             if block_height(lines, size) / 2 < clear_r]
    fitted: list[str] = []
    for size, lines in tries:
        width = 2 * math.sqrt(clear_r ** 2 - (block_height(lines, size) / 2) ** 2)
        fitted = fit_lines(text, width, size, lines, bold=True)
        if " ".join(fitted) == full:
            return fitted, size
    # Too long: at the smaller size, whole words where they fit, ending with "…".
    for size, lines in reversed(tries):
        width = 2 * math.sqrt(clear_r ** 2 - (block_height(lines, size) / 2) ** 2)
        return fit_lines(text, width, size, lines, bold=True), size
    return [], SIZE_SMALL


def _template(text: str, **values: str) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


@serialized
def orgs_chart(rows: Iterable[OrgRow | tuple], labels: Mapping[str, str] | None = None) -> Chart:
    """The community in the middle, a circle an organisation around it, the list below."""
    rows = _validated(rows)
    given = labels or {}
    labels = merge_labels(LABELS, labels)
    if "raters" in given and "raters_one" not in given:
        labels["raters_one"] = labels["raters"]

    sheet = Sheet()
    inner = sheet.width - 2 * MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    clear_r = R_COMMUNITY - 8.0  # no organisation's circle reaches into the community's
    name, name_size = _community_text(labels["community"], clear_r)
    name_w = max((width_of(line, name_size, bold=True) for line in name), default=0.0)
    name_h = block_height(len(name), name_size) if name else 0.0
    circles: list[tuple[float, float, float, tuple, tuple, float]] = []  # x, y, r, fill, edge, lw

    if not rows:
        cx, cy = sheet.width / 2, y + R_COMMUNITY + 2
        circles.append((cx, cy, R_COMMUNITY, COMMUNITY_FILL, INK, 1.5))
        if name:
            sheet.lines_centered(cx, cy, name, name_size, bold=True, ha="center")
        y = cy + R_COMMUNITY + em(SIZE_TEXT) * 1.0
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT, 2),
                        SIZE_TEXT, color=MUTED)
        return _finish(sheet, y + MARGIN_PX, circles)

    clear = (name_w / 2 + 4, name_h / 2 + 4) if name else (0.0, 0.0)
    for number_size in NUMBER_SIZES:  # smaller numbers only when too many crowd a ring
        discs = place(rows, clear, number_size)
        if not clashes(discs, number_size):
            break
    geo = Geometry(*_number_size(rows, number_size))
    cx, cy = sheet.width / 2, y + SIDE / 2
    for closeness in (3, 2, 1):  # guides: where closeness 3, 2 and 1 put a centre
        circles.append((cx, cy, geo.distance(closeness), (0, 0, 0, 0), RULE, 1.0))
    circles.append((cx, cy, R_COMMUNITY, COMMUNITY_FILL, INK, 1.5))
    for d in sorted(discs, key=lambda d: -d.r):  # the big ones underneath
        circles.append((cx + d.x, cy + d.y, d.r, ORG_TRANSLUCENT, ORG, 2.0))
    if name:
        sheet.lines_centered(cx, cy, name, name_size, bold=True, ha="center")
    sheet.text_batch([(cx + d.label_x, cy + d.label_y + em(number_size) * CAP / 2,
                       f"#{d.number}", INK) for d in discs], number_size, bold=True)
    # What the names and ring labels must keep clear of (boxes x0, y0, x1, y1 from the middle).
    half_h = em(number_size) * (ASCENT + DESCENT) / 2
    taken = [(d.label_x - width_of(f"#{d.number}", number_size, bold=True) / 2, d.label_y - half_h,
              d.label_x + width_of(f"#{d.number}", number_size, bold=True) / 2, d.label_y + half_h)
             for d in discs]
    for d, row in sorted(zip(discs, rows), key=lambda pair: (-pair[1].importance, pair[1].number)):
        _name_beside(sheet, cx, cy, d, row.name, discs, taken)
    _ring_labels(sheet, cx, cy, geo, discs, labels["ring"], taken)
    y += SIDE + em(SIZE_TEXT) * 0.6
    y = _key(sheet, y, labels, circles)
    y = _listing(sheet, y + em(SIZE_TEXT) * 0.6, rows, labels)
    return _finish(sheet, y + MARGIN_PX, circles)


def _ring_labels(sheet: Sheet, cx: float, cy: float, geo: Geometry, discs: Sequence[Disc],
                 template: str, taken: list[tuple[float, float, float, float]]) -> None:
    """"closeness 3", "2", "1", each beside its ring (just outside or just inside it, never
    across a ring's line), where it is farthest from every circle; left out of a ring with no
    clear spot (the list below gives every closeness)."""
    size = SIZE_SMALL
    h = em(size) * (ASCENT + DESCENT) / 2 + 3
    angles = -math.pi / 2 + 2 * math.pi * np.arange(ANGLES) / ANGLES
    cos, sin = np.concatenate([np.cos(angles)] * 2), np.concatenate([np.sin(angles)] * 2)
    side = np.repeat([1.0, -1.0], ANGLES)  # outside the ring, then inside it
    for closeness in (3, 2, 1):
        text = clean(_template(template, n=str(closeness)))
        if not text:
            continue
        w = width_of(text, size) / 2 + 3
        ring = geo.distance(closeness)
        outer = geo.distance(closeness - 1) if closeness > 1 else math.inf
        inner = geo.distance(closeness + 1) if closeness < 3 else R_COMMUNITY
        # Move each candidate off the ring's line, outward or inward, until its box clears it.
        xs, ys = ring * cos, ring * sin
        for _ in range(100):
            near = np.hypot(np.maximum(np.abs(xs) - w, 0), np.maximum(np.abs(ys) - h, 0))
            far = np.hypot(np.abs(xs) + w, np.abs(ys) + h)
            crossing = (near < ring + 3) & (far > ring - 3)
            if not crossing.any():
                break
            xs, ys = xs + 2 * side * cos * crossing, ys + 2 * side * sin * crossing
        near = np.hypot(np.maximum(np.abs(xs) - w, 0), np.maximum(np.abs(ys) - h, 0))
        far = np.hypot(np.abs(xs) + w, np.abs(ys) + h)
        ok = ((far < outer - 3) & (near > inner + 3) & (np.abs(xs) + w < SIDE / 2)
              & (np.abs(ys) + h < SIDE / 2) & ((near > ring) | (far < ring)))
        room = np.full(len(xs), np.inf)
        for d in discs:  # how far the label's box stays from each circle
            gx = np.maximum(np.abs(xs - d.x) - w, 0)
            gy = np.maximum(np.abs(ys - d.y) - h, 0)
            room = np.minimum(room, np.hypot(gx, gy) - d.r)
        for x0, y0, x1, y1 in taken:  # and from the names and numbers
            gx = np.maximum(np.maximum(x0 - (xs + w), (xs - w) - x1), 0)
            gy = np.maximum(np.maximum(y0 - (ys + h), (ys - h) - y1), 0)
            room = np.minimum(room, np.hypot(gx, gy) - 0.01)
        room = np.where(ok, room, -np.inf)
        k = int(np.argmax(room))
        if room[k] < 2:
            continue
        taken.append((xs[k] - w, ys[k] - h, xs[k] + w, ys[k] + h))
        sheet.text(cx + xs[k], cy + ys[k] + em(size) * CAP / 2, text, size, color=MUTED, ha="center")


def name_variants(name: str) -> list[list[str]]:
    """The name as it may stand beside its circle, longest first: whole in up to two lines, then
    its first whole words with "…" in two lines and in one; never a word cut in the middle."""
    words = clean(name).split()
    out: list[list[str]] = []
    for count in (2, 1):
        lines = fit_lines(name, NAME_WIDTH, SIZE_SMALL, count)
        shown = " ".join(lines).removesuffix(ELLIPSIS).split()
        whole = " ".join(lines) == " ".join(words)
        if whole or (shown and shown == words[:len(shown)] and not any(x.endswith("-") for x in lines)):
            if lines not in out:
                out.append(lines)
    return out


def _name_beside(sheet: Sheet, cx: float, cy: float, d: Disc, name: str, discs: Sequence[Disc],
                 taken: list[tuple[float, float, float, float]]) -> None:
    """The organisation's name next to its circle (below it if it can), clear of every circle,
    of the community's circle and of the labels already placed; left out where none is clear."""
    size = SIZE_SMALL
    for lines in name_variants(name):
        w = max(width_of(line, size) for line in lines) / 2 + 2
        h = block_height(len(lines), size) / 2 + 2
        for angle in (90, 60, 120, 30, 150, 0, 180, -90, -60, -120, -30, -150):  # y grows down
            ux, uy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            x, y = d.x + ux * d.r, d.y + uy * d.r
            for _ in range(200):  # out along the direction until the box clears the circle
                if math.hypot(max(abs(x - d.x) - w, 0), max(abs(y - d.y) - h, 0)) > d.r + 3:
                    break
                x, y = x + 2 * ux, y + 2 * uy
            box = (x - w, y - h, x + w, y + h)
            if abs(x) + w > SIDE / 2 or abs(y) + h > SIDE / 2:
                continue
            if math.hypot(max(abs(x) - w, 0), max(abs(y) - h, 0)) <= R_COMMUNITY + 3:
                continue
            # Clear of every other circle by more than of its own, so it reads as this one's name.
            if any(math.hypot(max(abs(x - o.x) - w, 0), max(abs(y - o.y) - h, 0)) <= o.r + OTHER_GAP
                   for o in discs if o is not d):
                continue
            if any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken):
                continue
            taken.append(box)
            top = cy + y - h + 2
            for i, line in enumerate(lines):
                sheet.text(cx + x, top + em(size) * (ASCENT + LINE_STEP * i), line, size, ha="center")
            return


def _key(sheet: Sheet, top: float, labels: Mapping[str, str], circles: list) -> float:
    """A small and a big circle, "circle size: importance"; then "distance: closeness"."""
    size = SIZE_SMALL
    inner = sheet.width - 2 * MARGIN_PX
    small, big = em(size) * 0.3, em(size) * 0.5
    middle = top + em(size) * ASCENT - em(size) * CAP / 2
    x = MARGIN_PX + small
    circles.append((x, middle, small, ORG_TRANSLUCENT, ORG, 1.5))
    x += small + em(size) * 0.25 + big
    circles.append((x, middle, big, ORG_TRANSLUCENT, ORG, 1.5))
    x += big + em(size) * 0.4
    importance = fit_lines(labels["importance"], inner - (x - MARGIN_PX), size, 1)[0]
    closeness = fit_lines(labels["closeness"], inner, size, 1)[0]
    baseline = top + em(size) * ASCENT
    sheet.text(x, baseline, importance, size, color=MUTED)
    x += width_of(importance, size) + em(size) * 1.5
    if x + width_of(closeness, size) > MARGIN_PX + inner:
        x, baseline = MARGIN_PX, baseline + em(size) * 1.6
    sheet.text(x, baseline, closeness, size, color=MUTED)
    return baseline + em(size) * DESCENT


def _listing(sheet: Sheet, top: float, rows: Sequence[OrgRow], labels: Mapping[str, str]) -> float:
    """"#n name — scores (raters)", one entry an organisation, by number."""
    size = SIZE_TEXT if len(rows) <= MANY else SIZE_SMALL
    right = sheet.width - MARGIN_PX
    sheet.line(MARGIN_PX, top, right, top, HAIRLINE, 1.0)
    y = top + em(size) * 0.45
    number_w = max(width_of(f"#{r.number}", size, bold=True) for r in rows)
    text_x = MARGIN_PX + number_w + em(size) * 0.4
    width = right - text_x
    space = width_of(" ", size)
    dec = labels["decimal"]
    for row in rows:
        template = labels["raters_one"] if row.raters == 1 else labels["raters"]
        raters = clean(_template(template, n=str(row.raters)))
        scores = clean(_template(labels["scores"],
                                 importance=fmt_number(row.importance, 1, dec),
                                 closeness=fmt_number(row.closeness, 1, dec)))
        tail = " ".join(part for part in ("—", scores, f"({raters})" if raters else "") if part)
        name = fit_lines(row.name, width, size, 2)
        baseline = y + em(size) * ASCENT
        sheet.text(MARGIN_PX, baseline, f"#{row.number}", size, bold=True)
        y = sheet.lines(text_x, y, name, size)
        last_w = width_of(name[-1], size)
        if last_w + space + width_of(tail, size) <= width:
            step = em(size) * 1.25 * (len(name) - 1)
            sheet.text(text_x + last_w + space, baseline + step, tail, size, color=MUTED)
        else:
            y = sheet.lines(text_x, y + em(size) * (1.25 - ASCENT - DESCENT),
                            fit_lines(tail, width, size, 2), size, color=MUTED)
        y += em(size) * 0.45
    return y


def _finish(sheet: Sheet, height: float, circles: list) -> Chart:
    """The page with every circle as one collection under the text."""
    chart = sheet.chart(height)
    height = math.ceil(height)
    fig = chart.figure
    patches = [Circle((x / DPI, (height - y) / DPI), r / DPI) for x, y, r, *_ in circles]
    collection = PatchCollection(patches, transform=fig.dpi_scale_trans, zorder=1.5,
                                 facecolors=[c[3] for c in circles],
                                 edgecolors=[c[4] for c in circles],
                                 linewidths=[c[5] * 72 / DPI for c in circles])
    collection.set_gid("circles")
    fig.add_artist(collection)
    return Chart(fig, (COMMUNITY_FILL, ORG_FILL, *chart.flat_colors))


@serialized
def render_orgs(rows: Iterable[OrgRow | tuple], labels: Mapping[str, str] | None = None) -> bytes:
    """PNG bytes of `orgs_chart`."""
    return orgs_chart(rows, labels).png()
