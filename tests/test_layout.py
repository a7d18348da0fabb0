"""The layering of the source tree, read from the import statements of every module (lazy imports inside
functions and TYPE_CHECKING blocks included): engine/ never imports aiogram, handlers or the bot
application; handlers never touch SQL or an exchange; the services never import the chat or the shell;
the engine's packages import each other only along the arrows of docs/architecture.md, so they have no
cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = ("bot", "db", "engine", "handlers", "migrations")

# What each engine package may import of the rest of engine/. "top" is the shared vocabulary at the top
# of engine/ (exchange, markets, money, client_ids, ports); engine.runner hands ticks to the bot types.
ENGINE_ALLOWED: dict[str, set[str]] = {
    "top": {"top"},
    "engine.runner": {"top", "engine.grid", "engine.trend"},
    "engine.market_data": {"top"},
    "engine.grid": {"top", "engine.market_data"},
    "engine.trend": {"top", "engine.market_data"},
    "engine.venues.paper": {"top", "engine.market_data"},
    "engine.venues.live": {"top"},
    "engine.charts": {"top", "engine.market_data", "engine.grid", "engine.trend"},
}
# The engine modules a handler may use: market rules and pure grid math for the wizard, pictures.
HANDLER_ENGINE_ALLOWED = ("engine.markets", "engine.money", "engine.grid.lines", "engine.charts")
SQL_OR_EXCHANGE = ("db", "sqlalchemy", "aiosqlite", "asyncpg", "alembic", "ccxt")
SHELL = (
    "bot.app",
    "bot.polling",
    "bot.chat_state",
    "bot.memory",
    "bot.scheduler",
    "bot.engine_service",
    "bot.alerts",
    "bot.sandbox",
    "bot.__main__",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(*roots: str) -> Iterator[Path]:
    for root in roots:
        for path in sorted((REPO / root).rglob("*.py")):
            if "versions" not in path.parts:
                yield path


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, absolute (`from a import b` counts as module a.b where that is one)."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = REPO.joinpath(*f"{base}.{alias.name}".split("."))
                # `from a import b` imports module a.b where b is one, else a name of module a
                found.add(
                    f"{base}.{alias.name}"
                    if submodule.with_suffix(".py").exists() or submodule.is_dir()
                    else base
                )
    return found


def is_under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def engine_node(name: str) -> str:
    """The unit of engine/ that `name` belongs to: a package, engine.runner, or "top"."""
    parts = name.split(".")
    if len(parts) >= 3 and parts[1] == "venues":
        return ".".join(parts[:3])
    if len(parts) >= 2 and (REPO / "engine" / parts[1]).is_dir():
        return ".".join(parts[:2])
    if name == "engine.runner":
        return name
    return "top"


def engine_imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in source_files("engine"):
        source = engine_node(module_name(path))
        for target in imports_of(path):
            if is_under(target, "engine") and target != "engine" and (REPO / "engine").exists():
                edges.setdefault(source, set()).add(engine_node(target))
    return edges


def test_engine_never_imports_aiogram_handlers_or_the_application() -> None:
    bad = [
        f"{module_name(path)} imports {name}"
        for path in source_files("engine")
        for name in sorted(imports_of(path))
        if is_under(name, "aiogram", "handlers", "bot")
    ]
    assert bad == []


def test_handlers_never_touch_sql_or_the_exchange() -> None:
    bad = []
    for path in source_files("handlers"):
        for name in sorted(imports_of(path)):
            if is_under(name, *SQL_OR_EXCHANGE, "bot.engine_service", "bot.scheduler"):
                bad.append(f"{module_name(path)} imports {name}")
            elif is_under(name, "engine") and not is_under(name, *HANDLER_ENGINE_ALLOWED):
                bad.append(f"{module_name(path)} imports {name}")
    assert bad == []


def test_services_never_import_the_chat_or_the_application_shell() -> None:
    bad = [
        f"{module_name(path)} imports {name}"
        for path in source_files("bot/services")
        for name in sorted(imports_of(path))
        if is_under(name, "aiogram", "handlers", *SHELL)
    ]
    assert bad == []


def test_db_imports_neither_the_engine_nor_the_application() -> None:
    bad = [
        f"{module_name(path)} imports {name}"
        for path in source_files("db")
        for name in sorted(imports_of(path))
        if is_under(name, "engine", "bot", "handlers", "aiogram")
    ]
    assert bad == []


def test_engine_packages_import_each_other_only_along_the_documented_arrows() -> None:
    edges = engine_imports()
    assert set(edges) <= set(ENGINE_ALLOWED), (
        f"engine units without rules: {set(edges) - set(ENGINE_ALLOWED)}"
    )
    bad = {
        source: sorted(targets - ENGINE_ALLOWED[source] - {source})
        for source, targets in edges.items()
        if targets - ENGINE_ALLOWED[source] - {source}
    }
    assert bad == {}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt == node:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_engine_packages() -> None:
    assert _cycle(engine_imports()) is None


def test_no_import_cycle_between_the_modules_of_a_package() -> None:
    edges: dict[str, set[str]] = {}
    modules = {module_name(p) for p in source_files(*SOURCE_ROOTS)}
    for path in source_files(*SOURCE_ROOTS):
        source = module_name(path)
        edges[source] = {
            m for m in imports_of(path) if m in modules and m != source and not m.endswith("__init__")
        }
    # a package's __init__ is a docstring (or a router list): count module-to-module arrows only
    packages = {module_name(p) for p in source_files(*SOURCE_ROOTS) if p.name == "__init__.py"}
    edges = {s: {t for t in ts if t not in packages} for s, ts in edges.items() if s not in packages}
    assert _cycle(edges) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


def test_engine_has_no_package_in_all_but_name_at_its_top() -> None:
    prefixed = [
        p.name
        for p in (REPO / "engine").glob("*.py")
        if p.stem.startswith(("grid_", "trend_", "paper_", "ccxt_", "live_"))
    ]
    assert prefixed == []


@pytest.mark.parametrize(
    "package",
    sorted(str(p.parent.relative_to(REPO)) for p in source_files(*SOURCE_ROOTS) if p.name == "__init__.py"),
)
def test_every_package_says_what_it_holds_and_what_it_may_import(package: str) -> None:
    if package == "migrations":
        pytest.skip("Alembic's script directory")
    tree = ast.parse((REPO / package / "__init__.py").read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc, f"{package}/__init__.py has no docstring"
    if package.startswith("engine") or package.startswith("bot/services"):
        assert "import" in doc, f"{package}/__init__.py does not say what it may import"
