"""The layers of ARCHITECTURE.md, read from the code: no module imports one it must not (an
import inside a function counts as well)."""

from __future__ import annotations

import ast
from pathlib import Path

import bot

ROOT = Path(bot.__file__).parent

# (who, what it must not import): module name prefixes, "bot.x" covering "bot.x.y"
BELOW_THE_FLOWS = ("bot.storage", "bot.domain", "bot.charts", "bot.messages", "bot.audiences", "bot.delivery",
                   "bot.outbox")
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
