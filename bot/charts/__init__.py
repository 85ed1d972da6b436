"""Charts: plain data in, PNG bytes out (matplotlib object API on Agg, no pyplot); and the
documents made of them: the printed report (PDF) and the data export (xlsx, CSV).

Every text a reader sees comes in through ``labels`` (already translated); the English
defaults are each module's ``LABELS``. Renderers are synchronous and CPU-bound: from the
event loop call ``await render(render_stickers, rows, labels)``, which draws in a process of its
own (``bot.drawing``) so the bot's event loop keeps its core and its GIL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.charts.combined import render_combined
from bot.charts.data import (
    CandidateRow, CombinedRow, MatrixPoint, Problem, RankedProblem, StickerRow, TreeNode,
)
from bot.charts.election import render_election
from bot.charts.data import EvaluationSummary
from bot.charts.evaluation import render_evaluation
from bot.charts.matrix import render_matrix
from bot.charts.data import OrgRow
from bot.charts.orgs import render_orgs
from bot.charts.data import ResourceRow
from bot.charts.pairwise import render_pairwise
from bot.charts.data import TaskRow
from bot.charts.plan import render_plan
from bot.charts.progress import ProgressRow, render_progress
from bot.charts.report import render_report
from bot.charts.resources import render_resources
from bot.charts.sheets import render_csv, render_csv_zip, render_xlsx
from bot.charts.stickers import render_stickers
from bot.charts.tree import render_tree

__all__ = [
    "CandidateRow",
    "CombinedRow",
    "EvaluationSummary",
    "MatrixPoint",
    "OrgRow",
    "Problem",
    "ProgressRow",
    "RankedProblem",
    "ResourceRow",
    "StickerRow",
    "TaskRow",
    "TreeNode",
    "render",
    "render_combined",
    "render_csv",
    "render_csv_zip",
    "render_election",
    "render_evaluation",
    "render_matrix",
    "render_orgs",
    "render_pairwise",
    "render_plan",
    "render_progress",
    "render_report",
    "render_resources",
    "render_stickers",
    "render_tree",
    "render_xlsx",
]


async def render(fn: Callable[..., bytes], *args: Any, **kwargs: Any) -> bytes:
    """Run the renderer *fn* in the drawing process (``bot.drawing``) and return its bytes."""
    from bot import drawing

    return await drawing.run(fn, *args, **kwargs)
