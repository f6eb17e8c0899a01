"""The import rules of DESIGN.md, checked on the source by path: core never imports streamlit, pages, ui or api;
nothing outside core/ml imports torch at module level; pages and ui stay thin; every t()/tr() key exists in both
languages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core import i18n
from tests.conftest import ROOT

TORCH = ("torch", "torchvision", "pytorch_grad_cam")
# what pages and ui may import from the torch tier (DESIGN.md): the entry points of a model's answer
ENTRY_POINTS = {f"core.ml.{name}" for name in ("predict", "explain", "diagnosis", "export")}
SOURCES = [p for folder in ("core", "ui", "pages", "api") for p in sorted((ROOT / folder).rglob("*.py"))]
SOURCES += [ROOT / "app.py", ROOT / "serve.py"]
CORE_FILES = [p for p in SOURCES if p.relative_to(ROOT).parts[0] == "core"]
ML = ROOT / "core" / "ml"
PAGE_SCRIPTS = sorted((ROOT / "pages").glob("*.py"))
UI_FILES = sorted((ROOT / "ui").rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def in_ml(path: Path) -> bool:
    return ML in path.parents


def imported_modules(path: Path, top_level_only: bool = False) -> set[str]:
    """Modules a file imports; top_level_only skips imports inside functions (loaded only when called)."""
    names: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_tiers_are_folders():
    """`ls core` shows the tiers: the torch tier in core/ml, the command line in core/cli."""
    assert (ML / "__init__.py").is_file() and (ROOT / "core" / "cli" / "__init__.py").is_file()
    assert len(list(ML.glob("*.py"))) > 5 and (ROOT / "ui" / "components.py").is_file()


@pytest.mark.parametrize("path", CORE_FILES, ids=rel)
def test_core_never_imports_streamlit_pages_ui_or_api(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] in ("streamlit", "pages", "ui", "api")}
    assert not bad, f"{rel(path)} imports {bad}"


@pytest.mark.parametrize("path", [p for p in SOURCES if not in_ml(p)], ids=rel)
def test_nothing_outside_core_ml_imports_torch_at_module_level(path):
    """By path, not by a list: a module reaches the torch tier only inside the function that needs it."""
    mods = imported_modules(path, top_level_only=True)
    bad = {m for m in mods if m.split(".")[0] in TORCH or m.startswith("core.ml.")}
    if rel(path).startswith(("pages/", "ui/")):  # the page of a model's answer loads the model's tier
        bad -= ENTRY_POINTS
    assert not bad, f"{rel(path)} is outside core/ml but imports {bad} at module level"


@pytest.mark.parametrize("path", UI_FILES, ids=rel)
def test_ui_never_imports_a_page(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] == "pages"}
    assert not bad, f"{rel(path)} imports {bad}"


@pytest.mark.parametrize("path", [*PAGE_SCRIPTS, *UI_FILES, ROOT / "app.py"], ids=rel)
def test_pages_and_ui_are_thin(path):
    """No torch, SQL or subprocess in pages and ui; a page script <= 150 lines, a panel <= 300, the shared
    widgets <= 400."""
    mods = imported_modules(path)
    bad = {m for m in mods if m.split(".")[0] in ("torch", "sqlite3", "subprocess", "torchvision")}
    assert not bad, f"{rel(path)} imports {bad}"
    limit = 150 if path in PAGE_SCRIPTS or path.name == "app.py" else 400 if path.name == "components.py" else 300
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= limit, f"{rel(path)} has {lines} lines; the limit for it is {limit}"


def test_pages_holds_only_the_page_scripts():
    """Every module in pages/ is a page app.py runs (or the sign-in); what they share lives in ui/."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    named = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".py")
    }
    scripts = {p.name for p in PAGE_SCRIPTS} - {"__init__.py"}
    assert scripts <= named | {"signin.py"}, scripts - named


@pytest.mark.parametrize("path", CORE_FILES, ids=rel)
def test_core_modules_are_small(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


def translation_keys_used() -> set[str]:
    """Literal first arguments of t(...), tr(...) and ui.tr(...) calls, plus reason keys in core."""
    keys: set[str] = set()
    for path in SOURCES:
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
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                weights_only = [kw for kw in node.keywords if kw.arg == "weights_only"]
                calls.append((path.name, bool(weights_only) and ast.unparse(weights_only[0].value) == "True"))
    assert calls and all(ok for _name, ok in calls), calls
