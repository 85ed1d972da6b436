"""The layers of ARCHITECTURE.md, read from the code: no module imports one it must not (an
import inside a function counts as well)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import bot

ROOT = Path(bot.__file__).parent

# (who, what it must not import): module name prefixes, "bot.x" covering "bot.x.y"
BELOW_THE_FLOWS = ("bot.storage", "bot.domain", "bot.charts", "bot.messages", "bot.links", "bot.markup", "bot.delivery",
                   "bot.outbox")
CHANNELS = ("bot.handlers", "bot.whatsapp", "aiogram")
RULES = [
    *((layer, ("bot.flows",)) for layer in BELOW_THE_FLOWS),
    ("bot.domain", ("bot.storage", "bot.charts", *CHANNELS, "aiohttp", "aiosqlite", "sqlite3", "matplotlib")),
    ("bot.flows", CHANNELS),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module the file imports, anywhere in it; ``from a import b`` counts as ``a.b`` too
    (b may be a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
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
