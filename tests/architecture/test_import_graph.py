"""The house's one rule of structure: imports point down the layers, and no two modules import each other.

Layers, top to bottom: the sandbox rails → risk → partners → lending's shell → lending's origination → servicing
→ catalogue → underwriting → merchants → accounts and core.
A lower layer never imports a higher one (the higher layer passes facts in), whether at the top of a module or
inside a function: an import deferred into a function is still a dependency, and hiding a cycle that way is what
this test exists to catch. Tests, migrations and management commands of the top layer are outside the graph.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "accounts", "merchants", "underwriting", "lending", "partners", "risk", "sandbox")

# Lower number = lower layer. A module may import its own layer and the layers below it.
LAYERS = {
    "core": 0,
    "accounts": 0,
    "merchants": 1,
    "underwriting": 2,
    "lending.catalogue": 3,
    "lending.servicing": 4,
    "lending.origination": 5,
    # The app's own shell: the model and admin registries, the URL namespace and the demo loader.
    "lending": 6,
    # Partner banks and insurers: they co-fund and co-insure what lending books.
    "partners": 7,
    # The risk firewall reads lending's and partners' facts and checks them through lending's hooks.
    "risk": 8,
    # The sandbox rails play the bank, the platform and a partner bank behind their interfaces (demo and tests only).
    "sandbox": 9,
}


def _layer_of(module: str) -> tuple[str, int]:
    best = max((name for name in LAYERS if module == name or module.startswith(f"{name}.")), key=len)
    return best, LAYERS[best]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).parts
            if "tests" in relative or "migrations" in relative:
                continue
            modules[_module_name(path)] = path
    return modules


def _imports(path: Path, module: str, known: dict[str, Path]) -> set[str]:
    """Every project module ``path`` imports, anywhere in it (``from a import b`` counts ``a.b`` when it is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known] or [base]
        else:
            continue
        for name in names:
            # The deepest project module the name refers to.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = _project_modules()
    return {module: _imports(path, module, known) for module, path in known.items()}


def test_the_graph_is_read(graph):
    # A walk that found nothing would pass everything: make sure it sees the imports we know are there.
    assert "core.services.audit" in graph["lending.servicing.services.repayments"]
    assert "merchants.models" in graph["underwriting.selectors.features"]


def test_no_import_points_up_the_layers(graph):
    upward = []
    for module, imported in graph.items():
        own_name, own = _layer_of(module)
        for target in imported:
            target_name, layer = _layer_of(target)
            if layer > own and not target_name.startswith(f"{own_name}."):
                upward.append(f"{module} imports {target} ({own_name} must not depend on {target_name})")
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycles(graph):
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, "\n".join(" ↔ ".join(cycle) for cycle in cycles)
