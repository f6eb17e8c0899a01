"""One name, one meaning (DESIGN.md, Style): no two public functions, classes or type aliases in core share a name
across modules, and the CLI prints JSON in one place."""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

from core import evaluation, jobs, store
from tests.conftest import ROOT

# Names several modules define on purpose, each the same role in its own module:
SHARED = {
    "main",  # the entry point of a runnable module: core.cli (python -m core) and core.ml.ddp (torchrun)
    "add_commands",  # the hook each CLI command module offers core.cli.build_parser
}


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def public_names(path: Path) -> set[str]:
    """Top-level public functions and classes, and CamelCase type aliases (`PhotoInput = Image | bytes | Path`)."""
    names: set[str] = set()
    for node in tree(path).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(
                t.id for t in node.targets if isinstance(t, ast.Name) and t.id[:1].isupper() and not t.id.isupper()
            )
    return {name for name in names if not name.startswith("_")}


def test_no_two_core_modules_share_a_public_name():
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "core").rglob("*.py")):
        for name in public_names(path):
            where[name].append(str(path.relative_to(ROOT)))
    shared = {name: paths for name, paths in where.items() if len(paths) > 1 and name not in SHARED}
    assert not shared, f"one name, one meaning: {shared}"


def test_the_cli_prints_json_in_one_place():
    """Only core.cli's print_json calls json.dumps for the answer; the command modules call it."""
    cli_modules = [p for p in (ROOT / "core").rglob("*.py") if p.stem.startswith("cli") or p.parent.name == "cli"]
    assert cli_modules
    printers = []
    for path in cli_modules:
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == "print"
                and any(
                    isinstance(a, ast.Call) and isinstance(a.func, ast.Attribute) and a.func.attr == "dumps"
                    for a in call.args
                )
                for call in ast.walk(node)
            ):
                printers.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert sorted(printers) in (["core/cli/__init__.py:print_json"], ["core/cli/__init__.py:print_json"]), printers


def string_tuples(path: Path) -> list[tuple[str, ...]]:
    """Every tuple or list literal made only of strings in a file."""
    return [
        tuple(e.value for e in node.elts)
        for node in ast.walk(tree(path))
        if isinstance(node, (ast.Tuple, ast.List))
        and node.elts
        and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
    ]


def test_split_names_job_statuses_and_the_normal_class_are_defined_once():
    """store.SPLITS, jobs.JobStatus and evaluation.NORMAL; the schema's CHECK constraints list the same."""
    statuses = set(jobs.JobStatus)
    for path in sorted((ROOT / "core").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for values in string_tuples(path):
            assert name == "core/store.py" or values != store.SPLITS, f"{name} spells out the split names"
            assert name == "core/jobs.py" or len(set(values) & statuses) < 3, f"{name} lists job statuses: {values}"
        normal = [
            node.lineno
            for node in ast.walk(tree(path))
            if isinstance(node, ast.Constant) and node.value == evaluation.NORMAL
        ]
        # evaluation defines it; db seeds the default labels and demo draws its synthetic classes by name
        assert name in ("core/evaluation.py", "core/db.py", "core/demo.py") or not normal, f"{name}:{normal}"
    schema = (ROOT / "core" / "migrations.py").read_text(encoding="utf-8")  # the migrations, as written
    assert f"status IN ({', '.join(repr(s.value) for s in jobs.JobStatus)})" in schema
    assert f"split IN ({', '.join(repr(s) for s in store.SPLITS)})" in schema


def test_moments_are_written_in_one_format():
    """db.iso is the only place in core that turns a datetime into text."""
    for path in sorted((ROOT / "core").rglob("*.py")):
        calls = [
            node.lineno
            for node in ast.walk(tree(path))
            if isinstance(node, ast.Attribute) and node.attr in ("isoformat", "strftime")
        ]
        assert path.name == "db.py" or not calls, f"{path.name} formats a moment itself (lines {calls}): use db.iso"
