"""The library never imports a program (s2s_jax/bin) or the top-level configs/ folder; every
program is a console command of the package."""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "s2s_jax"


def _imports(path):
  tree = ast.parse(path.read_text(), str(path))
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      yield node.module
      yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_library_modules_import_no_program_and_no_config_file():
  offenders = []
  for path in PACKAGE.rglob("*.py"):
    if path.parent.name == "bin":
      continue
    for name in _imports(path):
      if name.startswith(("s2s_jax.bin", "configs")):
        offenders.append(f"{path.relative_to(ROOT)} imports {name}")
  assert not offenders


def test_every_program_is_a_console_command():
  scripts = dict(re.findall(r'^(s2s-[\w-]+) = "([\w.]+):console"$',
                            (ROOT / "pyproject.toml").read_text(), flags=re.M))
  programs = {p.stem for p in (PACKAGE / "bin").glob("*.py")} - {"__init__", "options"}
  assert {target.rsplit(".", 1)[1] for target in scripts.values()} == programs
  for name, target in scripts.items():
    assert name == "s2s-" + target.rsplit(".", 1)[1].replace("_", "-")
    assert "def console():" in (PACKAGE / "bin" / (target.rsplit(".", 1)[1] + ".py")).read_text()
