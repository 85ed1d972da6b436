"""The layers of ARCHITECTURE.md, read from the code: no module imports one it must not (an
import inside a function counts as well)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import bot

ROOT = Path(bot.__file__).parent

# (who, what it must not import): module name prefixes, "bot.x" covering "bot.x.y"
BELOW_THE_FLOWS = ("bot.storage", "bot.domain", "bot.charts", "bot.messages", "bot.audiences", "bot.links",
                   "bot.markup", "bot.delivery", "bot.outbox")
CHANNELS = ("bot.handlers", "bot.whatsapp", "aiogram")
RULES = [
    *((layer, ("bot.flows",)) for layer in BELOW_THE_FLOWS),
    ("bot.domain", ("bot.storage", "bot.charts", *CHANNELS, "aiohttp", "aiosqlite", "sqlite3", "matplotlib")),
    ("bot.flows", CHANNELS),
    ("bot.audiences", CHANNELS),  # the channels' differences are its profile table, not their code
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, *, at_run_time: bool = False) -> set[str]:
    """Every module the file imports, anywhere in it; ``from a import b`` counts as ``a.b`` too
    (b may be a module). ``at_run_time``: not those under ``if TYPE_CHECKING:`` (names for the
    type checker alone: no import happens, so they make no cycle)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    if at_run_time:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def arrows() -> list[tuple[str, str]]:
    return sorted((module_name(path), target) for path in ROOT.rglob("*.py") for target in imports(path))


def test_the_import_graph_is_read_from_every_module():
    found = arrows()
    assert ("bot.storage.outbox", "bot.messages") in found  # a top-level import
    assert ("bot.messages", "bot.charts.registry") in found  # one inside a function
    assert ("bot.flows.types", "bot.messages.Message") in found


def test_no_layer_imports_what_it_must_not():
    broken = [f"{source} imports {target}" for source, target in arrows() for layer, banned in RULES
              if within(source, layer) and any(within(target, b) for b in banned)]
    assert broken == []


# Channels and what else drives the flows from outside (timers, the simulator) → flows → what the
# flows stand on → the pure rules. A module may import its own layer or those below, never above.
LAYERS = [
    ("bot.handlers", "bot.whatsapp", "bot.scheduler", "bot.sim"),
    ("bot.flows",),
    ("bot.storage", "bot.charts", "bot.messages", "bot.links", "bot.markup", "bot.delivery", "bot.outbox", "bot.pacing",
     "bot.i18n", "bot.config"),
    ("bot.domain",),
]


def layer_of(module: str) -> int | None:
    return next((rank for rank, layer in enumerate(LAYERS) for prefix in layer if within(module, prefix)), None)


def test_channels_then_flows_then_domain_with_no_arrow_back():
    back = [f"{source} imports {target}" for source, target in arrows()
            if (s := layer_of(source)) is not None and (t := layer_of(target)) is not None and t < s]
    assert back == []
    assert layer_of("bot.whatsapp.channel") == 0 and layer_of("bot.flows.dots") == 1
    assert layer_of("bot.domain.text") == 3 and layer_of("bot.app") is None  # (the composition stands apart)


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph, as the modules along it (empty when there is none)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def flows_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in (ROOT / "flows").rglob("*.py")}
    return {name: {target for target in imports(path, at_run_time=True) if target in paths and target != name}
            for name, path in paths.items()}


def test_the_flows_import_each_other_without_a_cycle():
    """Imports inside functions count: one flow module uses another's helpers, or is used by it,
    not both (shared helpers live in leaves: payloads, scopes, access, kinds, steps, paging...)."""
    graph = flows_graph()
    assert "bot.flows.ballots" in graph["bot.flows.dots"]  # read from the code
    assert "bot.flows.engine" not in graph["bot.flows.context"]  # (a type only: under TYPE_CHECKING)
    assert cycle(graph) == []


def test_the_flows_import_each_other_at_the_top():
    """An import inside a function hides a dependency (it was the way around a cycle)."""
    inside = []
    for path in (ROOT / "flows").rglob("*.py"):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inside += [f"{module_name(path)}:{node.lineno}" for node in ast.walk(function)
                           if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.flows")
                           or isinstance(node, ast.Import) and any(a.name.startswith("bot.flows") for a in node.names)]
    assert inside == []


def test_a_cycle_is_found():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_the_flows_build_no_channel_address_and_write_no_tags_in_code():
    """Links are named by what they open (``bot.links``), each channel writes its address; the
    flows' code writes emphasis with ``bot.markup`` (the catalogs keep their ``<b>``)."""
    flows = sorted((ROOT / "flows").rglob("*.py"))
    assert len(flows) > 20
    addresses = [p.name for p in flows if re.search(r"\b(t|wa)\.me\b", p.read_text(encoding="utf-8"))]
    assert addresses == []
    tagged = [f"{path.name}:{line}" for path in flows for line in _tag_literals(path)]
    assert tagged == []


def _tag_literals(path: Path) -> list[int]:
    """Lines where code (not a message for the catalogs) writes ``<b>``/``<i>`` itself."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    catalog: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("t", "tn", "N_"):
            catalog |= {id(arg) for arg in node.args[:2]}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in catalog and (
                "<b>" in node.value or "<i>" in node.value or "</b>" in node.value or "</i>" in node.value):
            found.append(node.lineno)
    return found
