"""The charts a stored message may name (see ``bot.messages``): each renderer under a stable
name, and the plain row types its arguments may hold.

A name is written to the database and read back by other versions of the code: never rename or
reuse one. Only functions of ``bot.charts`` modules (the printed report and the data export too,
rendered like a chart and sent as a document) and dataclasses of ``bot.charts.data`` may be
registered; a name read back is looked up here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import is_dataclass

from bot.charts import data
from bot.charts.combined import render_combined
from bot.charts.election import render_election
from bot.charts.evaluation import render_evaluation
from bot.charts.matrix import render_matrix
from bot.charts.orgs import render_orgs
from bot.charts.pairwise import render_pairwise
from bot.charts.plan import render_plan
from bot.charts.progress import render_progress
from bot.charts.resources import render_resources
from bot.charts.stickers import render_stickers
from bot.charts.tree import render_tree
from bot.charts.report import render_report
from bot.charts.sheets import render_csv, render_csv_zip, render_xlsx

RENDERERS: dict[str, Callable[..., bytes]] = {
    "combined": render_combined,
    "election": render_election,
    "evaluation": render_evaluation,
    "export_csv": render_csv_zip,
    "export_csv_table": render_csv,
    "export_xlsx": render_xlsx,
    "matrix": render_matrix,
    "orgs": render_orgs,
    "pairwise": render_pairwise,
    "plan": render_plan,
    "progress": render_progress,
    "report_pdf": render_report,
    "resources": render_resources,
    "stickers": render_stickers,
    "tree": render_tree,
}

ROW_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    data.CandidateRow, data.CombinedRow, data.EvaluationSummary, data.MatrixPoint, data.OrgRow,
    data.Problem, data.ProgressRow, data.RankedProblem, data.ResourceRow, data.StickerRow, data.TaskRow, data.TreeNode,
)}

for _name, _fn in RENDERERS.items():
    if not callable(_fn) or not _fn.__module__.startswith("bot.charts."):
        raise RuntimeError(f"chart renderer {_name!r} is not a function of bot.charts: {_fn!r}")
for _name, _cls in ROW_TYPES.items():
    if not is_dataclass(_cls) or _cls.__module__ != data.__name__ or _name in ("tuple", "date"):
        raise RuntimeError(f"chart row type {_name!r} is not a dataclass of bot.charts.data")
_NAMES = {fn: name for name, fn in RENDERERS.items()}
_TYPE_NAMES = {cls: name for name, cls in ROW_TYPES.items()}


def name_of(render: Callable[..., bytes]) -> str:
    """The registered name of a renderer (to store a chart)."""
    try:
        return _NAMES[render]
    except (KeyError, TypeError):
        raise TypeError(f"{render!r} is not a registered chart renderer: add it to "
                        "bot.charts.registry.RENDERERS to store a chart drawn by it") from None


def renderer(name: object) -> Callable[..., bytes]:
    """The renderer registered under ``name`` (read back from a stored chart)."""
    from bot.messages import Unreadable

    found = RENDERERS.get(name) if isinstance(name, str) else None
    if found is None:
        raise Unreadable(f"no chart renderer is registered as {name!r} in this version")
    return found


def type_name(cls: type) -> str:
    """The registered name of a chart argument's type (to store it)."""
    try:
        return _TYPE_NAMES[cls]
    except KeyError:
        raise TypeError(f"a chart argument of type {cls.__qualname__} cannot be stored: use plain values "
                        "or add a dataclass of bot.charts.data to bot.charts.registry.ROW_TYPES") from None


def row_type(name: object) -> type:
    """The row type registered under ``name`` (read back from a stored chart argument)."""
    from bot.messages import Unreadable

    found = ROW_TYPES.get(name) if isinstance(name, str) else None
    if found is None:
        raise Unreadable(f"no chart argument type is registered as {name!r} in this version")
    return found
