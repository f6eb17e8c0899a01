"""The import rules of DESIGN.md, checked on the source: core never imports streamlit or pages,
the light tier never imports torch, pages stay thin, and every t()/tr() key exists in both languages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core import i18n
from tests.conftest import ROOT

TORCH_TIER = {
    "models",
    "checkpoint",
    "transforms",
    "data",
    "trainer",
    "train_state",
    "runner",
    "runtime",
    "worker",
    "ddp",
    "embed",
    "predict",
    "explain",
    "export",
    "diagnosis",
}
CORE_FILES = sorted((ROOT / "core").glob("*.py"))
PAGE_FILES = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]


def imported_modules(path: Path, top_level_only: bool = False) -> set[str]:
    """Modules a file imports; top_level_only skips imports inside functions (loaded only when called)."""
    names: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "core":
                names.update(f"core.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_never_imports_streamlit_or_pages(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] in ("streamlit", "pages")}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", [p for p in CORE_FILES if p.stem not in TORCH_TIER], ids=lambda p: p.name)
def test_light_tier_never_imports_torch(path):
    """At import time: a light module may reach the torch tier inside a function that trains (CLI --wait)."""
    mods = imported_modules(path, top_level_only=True)
    bad = {m for m in mods if m.split(".")[0] in ("torch", "torchvision", "pytorch_grad_cam")}
    bad |= {m for m in mods if m.startswith("core.") and m.split(".")[1] in TORCH_TIER}
    assert not bad, f"{path.name} is in the light tier but imports {bad}"


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_pages_are_thin(path):
    mods = imported_modules(path)
    bad = {m for m in mods if m.split(".")[0] in ("torch", "sqlite3", "subprocess", "torchvision")}
    allowed_core = {"core.predict", "core.explain", "core.diagnosis", "core.export"}  # imported when used
    bad |= {m for m in mods if m.startswith("core.") and m.split(".")[1] in TORCH_TIER} - allowed_core
    assert not bad, f"{path.name} imports {bad}"
    # DESIGN.md: a page <= 150 lines, a panel module (any other module in pages/) <= 300; the shared widgets 400
    limit = 150 if path.name in page_scripts() else 400 if path.name == "components.py" else 300
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= limit, f"{path.name} has {lines} lines; the limit for it is {limit}"


def page_scripts() -> set[str]:
    """The files app.py runs as pages (named as string constants there: "dataset.py", "signin.py", …)."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.endswith(".py")
        and (ROOT / "pages" / node.value).is_file()
    } | {"app.py"}


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_modules_are_small(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


def translation_keys_used() -> set[str]:
    """Literal first arguments of t(...), tr(...) and ui.tr(...) calls, plus reason keys in core."""
    keys: set[str] = set()
    for path in [*CORE_FILES, *PAGE_FILES]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                value = node.args[0].value
                if name in ("t", "tr") and isinstance(value, str):
                    keys.add(value)
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value.startswith(("reject.", "dup.")) and " " not in node.value:
                    keys.add(node.value)
    return keys


def test_every_used_key_is_translated():
    used = translation_keys_used()
    assert len(used) > 50
    missing = {k for k in used if k not in i18n.EN or k not in i18n.KO}
    assert not missing, f"keys without English or Korean text: {sorted(missing)}"


def test_tables_have_the_same_keys_and_placeholders():
    assert set(i18n.EN) == set(i18n.KO)
    import string

    def names(template: str) -> set[str]:  # {at.year} and {at:%H} both fill `at`: languages write dates differently
        return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(template) if f}

    for key in i18n.EN:
        assert names(i18n.EN[key]) == names(i18n.KO[key]), key


def test_page_urls_do_not_shadow_files_in_pages():
    """Streamlit also registers pages/*.py by file name; an st.Page url_path equal to one of those names
    makes a direct link or a reload open the bare file instead of the app (seen with /train)."""
    stems = {p.stem for p in (ROOT / "pages").glob("*.py")}
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    paths = [
        kw.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "url_path" and isinstance(kw.value, ast.Constant)
    ]
    # the page table: (file, title key, icon, url path, action) rows
    paths += [
        row.elts[3].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Tuple)
        for row in node.elts
        if isinstance(row, ast.Tuple) and len(row.elts) == 5 and isinstance(row.elts[3], ast.Constant)
    ]
    assert len(paths) >= 6, "app.py registers its six pages with url paths"
    assert not set(paths) & stems, f"url paths {set(paths) & stems} shadow files in pages/"


def test_every_torch_load_refuses_pickled_code():
    """torch.load(..., weights_only=True) everywhere: a checkpoint or weights file cannot run code."""
    calls = []
    for path in [*CORE_FILES, *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                weights_only = [kw for kw in node.keywords if kw.arg == "weights_only"]
                calls.append((path.name, bool(weights_only) and ast.unparse(weights_only[0].value) == "True"))
    assert calls and all(ok for _name, ok in calls), calls
