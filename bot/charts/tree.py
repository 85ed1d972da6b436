"""Problem tree (мәселе ағашы) of step 3: consequences above, the problem as the trunk, causes
below.

A phone screen is too narrow for a drawn tree of forty wrapped texts, so each half is an
outline read top to bottom: a node is a tinted box with a coloured stripe, its number ("#3")
and its text; what hangs under a node follows it, indented, joined to it by a line that
continues the parent's stripe. The top-level nodes hang on a thick spine that runs into the
trunk: the consequences' (leaves) up from the trunk's top edge, the causes' (roots) down
from its bottom edge. The two kinds differ by side of the trunk, heading and colour
(vermillion and blue from Okabe & Ito's palette), never by colour alone.

Texts get up to four lines each; when the tree would be taller than `HEIGHT_BUDGET`, or
carry more text than `TEXT_BUDGET` (the PNG's size), every node is cut to three, then two
lines, then one, ending with an ellipsis; then the nodes nearest the trunk (causes first)
get back a line each while the budgets allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.charts.common import (
    ASCENT, CAP, INK, MARGIN_PX, MUTED, OKABE_ITO, PAPER, SIZE_SMALL, SIZE_TEXT, Chart,
    Sheet, blend, block_height, clean, em, fit_lines, merge_labels, polyline, serialized, width_of,
)
from bot.charts.data import TreeNode, coerce

LABELS = {
    "title": "Problem tree",
    "subtitle": "",  # e.g. "12 causes · 9 consequences"
    "effects": "Consequences (leaves)",  # the heading above the consequences
    "problem": "The problem",  # the small heading inside the trunk
    "causes": "Causes (roots)",  # the heading below the trunk
    "no_effects": "No consequences yet",  # under the consequences' heading when there are none
    "no_causes": "No causes yet",
    "empty": "No causes or consequences yet",  # under the trunk when the tree has no node
}

EFFECT = OKABE_ITO["vermillion"]
CAUSE = OKABE_ITO["blue"]
COLORS = {"effect": EFFECT, "cause": CAUSE}
TINTS = {kind: blend(color, PAPER, 0.87) for kind, color in COLORS.items()}
TRUNK_FILL = blend(OKABE_ITO["yellow"], PAPER, 0.55)

HEIGHT_BUDGET = 3500  # pixels; past it the node texts get fewer lines
# Text drawn (line width × em, in square pixels), past which the node texts get fewer
# lines: text is what makes the PNG big (0.14 to 0.16 bytes per square pixel, Kazakh, Latin
# or capitals alike), and the PNG must stay under 200 KB at full width.
TEXT_BUDGET = 1.2e6
MAX_LINES = (4, 3, 2, 1)  # lines a node's text may take, tried in turn
TRUNK_LINES = 6  # the problem: up to 300 characters
MANY_NODES = 12  # more nodes than this: the smaller text size


@dataclass
class _Placed:
    """A node in outline order with its depth (0: on the problem) and wrapped text."""

    node: TreeNode
    depth: int
    lines: list[str]


def outline(nodes: Iterable[TreeNode | tuple]) -> dict[str, list[tuple[TreeNode, int]]]:
    """The nodes of each kind in outline order, each with its depth (0: on the problem).

    Siblings keep the order they were given in. Raises ValueError for a repeated number, a
    parent that does not exist or is of the other kind, and a cycle.
    """
    nodes = [coerce(TreeNode, n) for n in nodes]
    by_number: dict[int, TreeNode] = {}
    for node in nodes:
        if node.number in by_number:
            raise ValueError(f"node number #{node.number} is used twice")
        by_number[node.number] = node
    children: dict[tuple[str, int | None], list[TreeNode]] = {}
    for node in nodes:
        if node.parent is not None:
            parent = by_number.get(node.parent)
            if parent is None:
                raise ValueError(f"#{node.number} hangs under #{node.parent}, which does not exist")
            if parent.kind != node.kind:
                raise ValueError(f"#{node.number} is a {node.kind} but hangs under "
                                 f"#{node.parent}, a {parent.kind}")
        children.setdefault((node.kind, node.parent), []).append(node)

    result: dict[str, list[tuple[TreeNode, int]]] = {}
    for kind in ("effect", "cause"):
        order: list[tuple[TreeNode, int]] = []
        stack = [(node, 0) for node in reversed(children.get((kind, None), []))]
        while stack:
            node, depth = stack.pop()
            order.append((node, depth))
            stack.extend((child, depth + 1)
                         for child in reversed(children.get((kind, node.number), [])))
        if len(order) != sum(1 for n in nodes if n.kind == kind):
            looped = sorted({n.number for n in nodes if n.kind == kind}
                            - {n.number for n, _ in order})
            raise ValueError(f"the {kind}s " + ", ".join(f"#{n}" for n in looped)
                             + " hang under each other in a cycle")
        result[kind] = order
    return result


@serialized
def tree_chart(problem: str, nodes: Iterable[TreeNode | tuple],
               labels: Mapping[str, str] | None = None) -> Chart:
    """The problem tree: consequences (outline) above, the problem's box, causes below."""
    parts = outline(nodes)
    labels = merge_labels(LABELS, labels)
    count = sum(len(p) for p in parts.values())

    sheet = Sheet()
    right = sheet.width - MARGIN_PX
    inner = right - MARGIN_PX
    y = sheet.header(labels["title"], labels["subtitle"])
    size = SIZE_TEXT if count <= MANY_NODES else SIZE_SMALL
    geo = _Geometry(size, max((d for p in parts.values() for _, d in p), default=0),
                    max((n.number for p in parts.values() for n, _ in p), default=1), inner)

    trunk_label = fit_lines(labels["problem"], inner - 2 * geo.trunk_pad, SIZE_SMALL, 1)[0]
    trunk_text = fit_lines(problem, inner - 2 * geo.trunk_pad, SIZE_TEXT, TRUNK_LINES, bold=True)
    trunk_h = (2 * geo.trunk_pad + block_height(1, SIZE_SMALL) + em(SIZE_SMALL) * 0.35
               + block_height(len(trunk_text), SIZE_TEXT))
    heading_w = inner - (geo.base - MARGIN_PX) - geo.swatch - em(size) * 0.4
    headings = {kind: fit_lines(labels[key], heading_w, size, 1, bold=True)[0]
                for kind, key in (("effect", "effects"), ("cause", "causes"))}
    none = {kind: fit_lines(labels[key], inner - (geo.base - MARGIN_PX), size, 2)
            for kind, key in (("effect", "no_effects"), ("cause", "no_causes"))}

    if not count:
        y = _trunk(sheet, y, trunk_h, trunk_label, trunk_text, geo)
        y += em(SIZE_TEXT) * 0.8
        y = sheet.lines(MARGIN_PX, y, fit_lines(labels["empty"], inner, SIZE_TEXT, 2),
                        SIZE_TEXT, color=MUTED)
        return sheet.chart(y + MARGIN_PX)

    # Wrap every text at up to four lines. When the page would be too tall or carry too
    # much text, at the most lines every node can have, and one more for as many nodes as
    # still fit, nearest the trunk first (see the module's docstring).
    placed = {kind: [_Placed(n, d, []) for n, d in part] for kind, part in parts.items()}
    fixed = y + trunk_h + MARGIN_PX + sum(
        geo.heading_h + geo.section_gap
        + (block_height(len(none[kind]), size) if not placed[kind] else 0.0)
        for kind in placed)
    fixed_ink = (_ink([labels["title"], labels["subtitle"], trunk_label], SIZE_TEXT)
                 + _ink(trunk_text, SIZE_TEXT) + _ink(list(headings.values()), size))
    everyone = [p for part in placed.values() for p in part]
    wrapped: dict[int, list[list[str]]] = {}
    prev: list[list[str]] | None = None
    for max_lines in MAX_LINES:
        wrapped[max_lines] = prev = [
            fit_lines(p.node.text, geo.text_width(p.depth), size, max_lines)
            if prev is None or len(prev[i]) > max_lines else prev[i]
            for i, p in enumerate(everyone)]
        used = fixed + sum(geo.box_h(len(w)) + geo.gap for w in wrapped[max_lines])
        ink = fixed_ink + sum(_ink(w, size) for w in wrapped[max_lines])
        if used <= HEIGHT_BUDGET and ink <= TEXT_BUDGET:
            break
    for p, lines in zip(everyone, wrapped[max_lines]):
        p.lines = lines
    if max_lines < MAX_LINES[0]:
        more = wrapped[max_lines + 1]
        # Causes first at each depth: they are what the next steps work on.
        for i in sorted(range(len(everyone)),
                        key=lambda i: (everyone[i].depth, everyone[i].node.kind != "cause")):
            extra = geo.box_h(len(more[i])) - geo.box_h(len(everyone[i].lines))
            extra_ink = _ink(more[i], size) - _ink(everyone[i].lines, size)
            if used + extra > HEIGHT_BUDGET or ink + extra_ink > TEXT_BUDGET:
                break
            everyone[i].lines = more[i]
            used += extra
            ink += extra_ink

    lines: dict[str, list[tuple[float, float, float, float]]] = {"effect": [], "cause": []}
    spines: dict[str, list[tuple[float, float, float, float]]] = {"effect": [], "cause": []}

    y = _heading(sheet, y, headings["effect"], EFFECT, geo)
    if placed["effect"]:
        tops, y = _outline(sheet, y, placed["effect"], geo, lines["effect"])
        first_attach = tops[0]
        y += geo.section_gap
    else:
        first_attach = None
        y = sheet.lines(geo.base, y, none["effect"], size, color=MUTED) + geo.section_gap
    trunk_top = y
    y = _trunk(sheet, y, trunk_h, trunk_label, trunk_text, geo)
    if first_attach is not None:
        spines["effect"].append((geo.spine, first_attach, geo.spine, trunk_top))
    trunk_bottom = y
    y += geo.section_gap
    y = _heading(sheet, y, headings["cause"], CAUSE, geo)
    if placed["cause"]:
        tops, y = _outline(sheet, y, placed["cause"], geo, lines["cause"])
        spines["cause"].append((geo.spine, trunk_bottom, geo.spine, tops[-1]))
    else:
        y = sheet.lines(geo.base, y, none["cause"], size, color=MUTED)
    height = y + MARGIN_PX
    chart = sheet.chart(height)
    for kind in ("effect", "cause"):
        polyline(chart, height, spines[kind], COLORS[kind], geo.spine_w)
        polyline(chart, height, lines[kind], COLORS[kind], geo.link_w)
    return chart


def _ink(lines: Sequence[str], size: float) -> float:
    """Square pixels of text in *lines* (their widths times the em), for `TEXT_BUDGET`."""
    return sum(width_of(clean(line), size) for line in lines) * em(size)


class _Geometry:
    """Sizes and x positions of the outline, in pixels, for text *size* and *depth* levels."""

    def __init__(self, size: float, depth: int, widest_number: int, inner: float) -> None:
        e = em(size)
        self.size = size
        self.spine = MARGIN_PX + e * 0.45  # the top-level spine's x
        self.spine_w = e * 0.26  # its width in pixels
        self.stripe = e * 0.22  # the coloured stripe at a box's left edge
        self.link_w = self.stripe * 0.75  # lines from a parent to its children
        self.base = MARGIN_PX + e * 1.3  # x of a top-level box
        # Indent a level by 1.3 em, less when the tree is deep: text keeps 60 % of the width.
        self.indent = min(e * 1.3, inner * 0.35 / depth) if depth else e * 1.3
        self.right = MARGIN_PX + inner
        self.pad = e * 0.18  # inside a box, above and below the text
        self.hpad = e * 0.35  # inside a box, after the stripe and before the right edge
        self.gap = e * 0.25  # between boxes
        self.number_w = width_of(f"#{widest_number}", size, bold=True) + e * 0.4
        self.swatch = e * 0.8
        self.heading_h = block_height(1, size) + e * 0.45
        self.section_gap = e * 0.8
        self.trunk_pad = em(SIZE_TEXT) * 0.55

    def left(self, depth: int) -> float:
        return self.base + self.indent * depth

    def text_x(self, depth: int) -> float:
        return self.left(depth) + self.stripe + self.hpad + self.number_w

    def text_width(self, depth: int) -> float:
        return self.right - self.hpad - self.text_x(depth)

    def box_h(self, lines: int) -> float:
        return block_height(lines, self.size) + 2 * self.pad

    def attach_y(self, top: float) -> float:
        """Where a line joins a box whose top is *top*: the middle of its first line's capitals."""
        return top + self.pad + em(self.size) * (ASCENT - CAP / 2)


def _heading(sheet: Sheet, top: float, text: str, color: str, geo: _Geometry) -> float:
    """A colour swatch and the section's bold name; returns where the section starts."""
    size = geo.size
    baseline = top + em(size) * ASCENT
    sheet.rect(geo.base, baseline - em(size) * CAP / 2 - geo.swatch / 2, geo.swatch, geo.swatch,
               color)
    sheet.text(geo.base + geo.swatch + em(size) * 0.4, baseline, text, size, bold=True)
    return top + geo.heading_h


def _trunk(sheet: Sheet, top: float, height: float, label: str, text: Sequence[str],
           geo: _Geometry) -> float:
    """The problem's box across the page; returns its bottom."""
    sheet.rect(MARGIN_PX, top, sheet.width - 2 * MARGIN_PX, height, TRUNK_FILL, edge=INK,
               linewidth=1.5, radius=em(SIZE_TEXT) * 0.35)
    x = MARGIN_PX + geo.trunk_pad
    y = sheet.lines(x, top + geo.trunk_pad, [label], SIZE_SMALL, color=MUTED)
    sheet.lines(x, y + em(SIZE_SMALL) * 0.35, text, SIZE_TEXT, bold=True)
    return top + height


def _outline(sheet: Sheet, top: float, placed: list[_Placed], geo: _Geometry,
             links: list[tuple[float, float, float, float]]) -> tuple[list[float], float]:
    """The boxes of one half in outline order, and the lines joining each child to its
    parent's stripe or each top-level node to the spine (added to *links*); returns the
    top-level nodes' attach points and the bottom of the last box."""
    size = geo.size
    kind = placed[0].node.kind
    boxes: list[tuple[float, float, float, float]] = []
    colors: list = []
    numbers: list[tuple[float, float, str, str]] = []
    tops: list[float] = []  # attach points of the top-level nodes
    # The ancestors of the current node by depth: [x of the line down, box bottom, last child].
    parents: list[list[float]] = []
    y = top
    for p in placed:
        left = geo.left(p.depth)
        h = geo.box_h(len(p.lines))
        attach = geo.attach_y(y)
        for x, bottom, last in parents[p.depth:]:
            if last is not None:
                links.append((x, bottom, x, last))
        del parents[p.depth:]
        if p.depth:
            parents[-1][2] = attach
            links.append((parents[-1][0], attach, left, attach))
        else:
            tops.append(attach)
            links.append((geo.spine, attach, left, attach))
        boxes += [(left, y, geo.right - left, h), (left, y, geo.stripe, h)]
        colors += [TINTS[kind], COLORS[kind]]
        label = f"#{p.node.number}"
        numbers.append((left + geo.stripe + geo.hpad + width_of(label, size, bold=True) / 2,
                        y + geo.pad + em(size) * ASCENT, label, INK))
        sheet.lines(geo.text_x(p.depth), y + geo.pad, p.lines, size)
        parents.append([left + geo.stripe / 2, y + h, None])
        y += h + geo.gap
    for x, bottom, last in parents:
        if last is not None:
            links.append((x, bottom, x, last))
    sheet.rects(boxes, colors, edge="none", linewidth=0.0)
    sheet.text_batch(numbers, size, bold=True)
    return tops, y - geo.gap


@serialized
def render_tree(problem: str, nodes: Iterable[TreeNode | tuple],
                labels: Mapping[str, str] | None = None) -> bytes:
    """PNG bytes of `tree_chart`."""
    return tree_chart(problem, nodes, labels).png()
