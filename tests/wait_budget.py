"""Static bound on how long a test can wait, from the source of ``tests/``: no wait may outlive its timeout.

pytest-timeout counts fixture setup and teardown in the test's timeout (``timeout_func_only`` is off), and a
session fixture is set up inside whichever test needs it first, so a test's wait budget is the sum of the waits
of its own body, of every call of a function of ``tests/`` and of every fixture it depends on (transitively, each
fixture once). A wait is one of :data:`WAITS` with a literal timeout (or a name bound to one: a parameter default or a
module constant), ``time.sleep(n)``, ``subprocess.run(..., timeout=n)`` and a ``time.monotonic() + n`` deadline.
Waits in a ``for`` loop over a literal (or constant) collection count once per item; a wait whose timeout is
computed states its bound with a ``# wait-budget: <seconds>`` comment. Names resolve like Python's: the test's
own module first, then the ``conftest.py`` files above it, then the other modules of ``tests/`` (the larger
budget on a clash). The applicable timeout is the test's ``@pytest.mark.timeout(n)``, else its module's
``pytestmark`` one, else ``[tool.pytest.ini_options] timeout`` of ``pyproject.toml``.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PRAGMA = re.compile(r"#\s*wait-budget:\s*([0-9.]+)")  # the bound of a wait whose timeout is computed
EXCLUDED = ("dags",)  # DAG files of the test stack run inside tasks, not inside a test
# call name -> (positional index of the timeout, keyword, default when not given)
WAITS: dict[str, tuple[int | None, str, float]] = {
    "wait_for": (1, "timeout", 0.0),
    "wait_for_run": (None, "timeout", 600.0),
    "wait_for_dags": (None, "timeout", 180.0),
    "wait_healthy": (0, "timeout", 180.0),
    "probe": (None, "timeout", 0.0),
    "probe_everything": (None, "timeout", 0.0),
}


@dataclass
class Func:
    """One function of ``tests/``: its own waits, what it calls and the fixtures it takes."""

    name: str
    file: Path
    line: int
    own: float = 0.0
    calls: list[tuple[str, int]] = field(default_factory=list)  # (callee, times: loops multiply)
    params: list[str] = field(default_factory=list)
    fixture: bool = False
    timeout: float | None = None
    unresolved: list[str] = field(default_factory=list)


def default_timeout(root: Path) -> float:
    """``timeout`` of ``[tool.pytest.ini_options]``."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    return float(data["tool"]["pytest"]["ini_options"]["timeout"])


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _timeout_mark(node: ast.AST) -> float | None:
    """``n`` of ``pytest.mark.timeout(n)`` found anywhere inside ``node``."""
    for sub in ast.walk(node):
        if (isinstance(sub, ast.Call) and _name(sub.func) == "timeout" and isinstance(sub.func, ast.Attribute)
                and _name(sub.func.value) == "mark" and sub.args and isinstance(sub.args[0], ast.Constant)):
            return float(sub.args[0].value)
    return None


class _Module:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(), filename=str(path))
        self.constants: dict[str, ast.AST] = {}
        self.timeout: float | None = None
        self.lines = path.read_text().splitlines()
        self.imports: dict[str, str] = {}  # name -> dotted module it is imported from
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = node.module
        self.local_waits: dict[str, tuple[int | None, str, float]] = {}
        for node in ast.walk(self.tree):  # a module's own helper named like a wait helper: its signature counts
            if isinstance(node, ast.FunctionDef) and node.name in WAITS:
                names = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
                default = self.value(_defaults(node).get("timeout", ast.Constant(0.0)), {}) or 0.0
                self.local_waits[node.name] = (names.index("timeout") if "timeout" in names else None, "timeout",
                                               default)
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.constants[node.targets[0].id] = node.value
                if node.targets[0].id == "pytestmark":
                    self.timeout = _timeout_mark(node.value)

    def value(self, node: ast.AST, scope: dict[str, ast.AST]) -> float | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            bound = scope.get(node.id, self.constants.get(node.id))
            return self.value(bound, scope) if bound is not None and bound is not node else None
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left, scope), self.value(node.right, scope)
            if left is None or right is None:
                return None
            ops = {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right}
            return ops.get(type(node.op))
        return None

    def count(self, node: ast.AST, scope: dict[str, ast.AST]) -> int:
        """How many items a ``for`` iterates over (1 when it cannot be told from the source)."""
        if isinstance(node, ast.Name) and node.id in self.constants:
            node = self.constants[node.id]
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return len(node.elts)
        if isinstance(node, ast.Dict):
            return len(node.keys)
        if isinstance(node, ast.Call) and _name(node.func) == "range" and len(node.args) == 1:
            n = self.value(node.args[0], scope)
            return int(n) if n is not None else 1
        return 1


def _wait_arg(mod: _Module, call: ast.Call) -> tuple[bool, ast.AST | float | None]:
    """(is a wait, its timeout node or default)."""
    name = _name(call.func)
    kwargs = {k.arg: k.value for k in call.keywords if k.arg}
    owner = ast.unparse(call.func.value).lower() if isinstance(call.func, ast.Attribute) else ""
    if name in WAITS:
        index, keyword, default = mod.local_waits.get(name) or WAITS[name]
        arg = kwargs.get(keyword)
        if arg is None and index is not None and len(call.args) > index:
            arg = call.args[index]
        return True, default if arg is None else arg
    if name == "sleep" and owner == "time" and call.args:
        return True, call.args[0]
    if name == "run" and owner == "subprocess" and "timeout" in kwargs:
        return True, kwargs["timeout"]
    if name == "start" and "stack" in owner:
        return True, WAITS["wait_healthy"][2]
    return False, None


def _wait_of(mod: _Module, call: ast.Call, scope: dict[str, ast.AST], func: Func) -> float:
    is_wait, arg = _wait_arg(mod, call)
    if not is_wait:
        return 0.0
    pragma = PRAGMA.search(mod.lines[call.lineno - 1])
    if pragma:
        return float(pragma.group(1))
    value = arg if isinstance(arg, float) else mod.value(arg, scope)  # type: ignore[arg-type]
    if value is None:
        func.unresolved.append(f"{mod.path.name}:{call.lineno} {ast.unparse(call)[:80]}")
        return 0.0
    return value


def _walk(mod: _Module, nodes: list[ast.stmt] | list[ast.AST], scope: dict[str, ast.AST], func: Func,
          factor: int = 1) -> float:
    total = 0.0
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            if isinstance(node, ast.Lambda):
                total += _walk(mod, [node.body], scope, func, factor)
            continue
        if isinstance(node, ast.For):
            times = mod.count(node.iter, scope)
            total += times * _walk(mod, node.body, scope, func, factor * times)
            total += _walk(mod, node.orelse, scope, func, factor)
            total += _walk(mod, [node.iter], scope, func, factor)
            continue
        if isinstance(node, ast.Call):
            total += _wait_of(mod, node, scope, func)
            callee = _name(node.func)
            if callee:
                func.calls.append((callee, factor))
        if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.left, ast.Call)
                and _name(node.left.func) == "monotonic"):
            value = mod.value(node.right, scope)
            if value is None:
                func.unresolved.append(f"{mod.path.name}:{node.lineno} {ast.unparse(node)[:80]}")
            total += value or 0.0
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            times = 1
            for gen in node.generators:
                times *= mod.count(gen.iter, scope)
            inner = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            total += times * _walk(mod, inner, scope, func, factor * times)
            total += _walk(mod, [g.iter for g in node.generators], scope, func, factor)
            continue
        total += _walk(mod, list(ast.iter_child_nodes(node)), scope, func, factor)
    return total


def _defaults(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.AST]:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    scope: dict[str, ast.AST] = {}
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True):
        scope[arg.arg] = default
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if kw_default is not None:
            scope[arg.arg] = kw_default
    return scope


def _resolution_order(path: Path, tests_dir: Path, files: list[Path]) -> list[Path]:
    conftests = [d / "conftest.py" for d in [path.parent, *path.parent.parents] if d.is_relative_to(tests_dir)]
    return [path, *(c for c in conftests if c != path), *(f for f in files if f != path and f not in conftests)]


IMPORTS: dict[Path, dict[str, str]] = {}


def collect(tests_dir: Path) -> tuple[dict[Path, dict[str, Func]], list[Func]]:
    """Every function of ``tests/`` per file and name (the larger budget on a clash) and the test functions."""
    funcs: dict[Path, dict[str, Func]] = {}
    tests: list[Func] = []
    for path in sorted(tests_dir.rglob("*.py")):
        if any(part in EXCLUDED for part in path.relative_to(tests_dir).parts[:-1]):
            continue
        mod = _Module(path)
        IMPORTS[path] = mod.imports
        here = funcs.setdefault(path, {})
        for node in ast.walk(mod.tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            func = Func(node.name, path, node.lineno)
            func.params = [a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]]
            func.fixture = any("fixture" in ast.unparse(d) for d in node.decorator_list)
            func.own = _walk(mod, node.body, _defaults(node), func)
            marks = [m for d in node.decorator_list if (m := _timeout_mark(d)) is not None]
            func.timeout = marks[0] if marks else mod.timeout
            if node.name in WAITS:  # the wait helpers themselves: their callers' arguments are the waits
                continue
            if node.name.startswith("test_") and path.name.startswith("test_"):
                tests.append(func)
            elif node.name not in here or here[node.name].own < func.own:
                here[node.name] = func
    return funcs, tests


def _module_file(dotted: str, tests_dir: Path) -> Path:
    return tests_dir.parent.joinpath(*dotted.split(".")).with_suffix(".py")


def _lookup(funcs: dict[Path, dict[str, Func]], origin: Path, name: str, tests_dir: Path,
            fixture: bool) -> Func | None:
    """A fixture: the test's module, the conftests above it and what those import; a helper: any module."""
    if fixture:
        conftests = [d / "conftest.py" for d in [origin.parent, *origin.parent.parents]
                     if d.is_relative_to(tests_dir)]
        for path in [origin, *conftests]:
            func = funcs.get(path, {}).get(name)
            if func is None and name in IMPORTS.get(path, {}):
                func = funcs.get(_module_file(IMPORTS[path][name], tests_dir), {}).get(name)
            if func is not None and func.fixture:
                return func
        return None
    for path in _resolution_order(origin, tests_dir, list(funcs)):
        func = funcs.get(path, {}).get(name)
        if func is not None and not func.fixture:
            return func
    return None


def budget(test: Func, funcs: dict[Path, dict[str, Func]], tests_dir: Path) -> tuple[float, list[str]]:
    """Worst-case waiting of one test: its body, each call of a test helper, and its fixtures (each once)."""
    chain: list[str] = []
    fixtures_seen: set[tuple[Path, str]] = set()

    def helpers(func: Func, stack: tuple[str, ...]) -> float:
        total = 0.0
        for name, times in func.calls:
            callee = _lookup(funcs, func.file, name, tests_dir, fixture=False)
            if callee is None or name in stack:
                continue
            sub = callee.own + helpers(callee, (*stack, name))
            if sub:
                chain.append(f"{name}={sub:g}s" + (f" x{times}" if times > 1 else ""))
            total += times * sub
        return total

    def fixtures(func: Func) -> float:
        total = 0.0
        for name in func.params:
            fixture = _lookup(funcs, func.file, name, tests_dir, fixture=True)
            if fixture is None or (fixture.file, name) in fixtures_seen:
                continue
            fixtures_seen.add((fixture.file, name))
            own = fixture.own + helpers(fixture, (name,))
            if own:
                chain.append(f"{name}={own:g}s")
            total += own + fixtures(fixture)
        return total

    return test.own + helpers(test, (test.name,)) + fixtures(test), chain
