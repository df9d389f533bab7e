"""No import cycles in the package, counting imports inside functions too.

A local import that closes a cycle works until someone moves it to the top
of the file; the layering (config -> evaluators, sampling -> workdir, the
readers -> preprocess) is checked statically from the source, so the test
needs no subprocesses and fails with the cycle's modules named.
"""

import ast
import pathlib

import ssgan_jax

PACKAGE = pathlib.Path(ssgan_jax.__file__).parent


def _modules() -> dict[str, pathlib.Path]:
  out = {}
  for path in PACKAGE.rglob("*.py"):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
      parts = parts[:-1]
    out[".".join(parts)] = path
  return out


def imports_of(path: pathlib.Path, modules) -> set[str]:
  """The package modules that `path` imports anywhere in its source."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      found.update(a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      for a in node.names:
        full = f"{node.module}.{a.name}"
        found.add(full if full in modules else node.module)
  return {m for m in found if m in modules}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
  """Strongly connected components with more than one module (Tarjan)."""
  index, low, stack, on_stack, out = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(graph[v]):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        out.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return out


def test_the_cycle_finder_finds_cycles():
  graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
  assert cycles(graph) == [["a", "b", "c"]]
  assert cycles({"a": {"b"}, "b": set()}) == []


def test_package_has_no_import_cycles():
  modules = _modules()
  assert "ssgan_jax.evaluation.evaluators" in modules
  graph = {
    name: imports_of(path, modules) - {name} for name, path in modules.items()
  }
  # The graph is real: training reaches the evaluators through config_lib.
  assert "ssgan_jax.evaluation.evaluators" in graph["ssgan_jax.config_lib"]
  assert cycles(graph) == []
