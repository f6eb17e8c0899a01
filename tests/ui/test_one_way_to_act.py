"""Issue 15, section 3: one way for pages to act. Every button that changes something runs through
`on_click=ui.act, args=(action, ws, ...)`: the callback reads the session and the account again, acts with the
role the account has now, audits a refusal and flashes every core error in one vocabulary. A handler written as
`if st.button(...): ...` does none of that (it acts with the actor of the run that drew the button, and its own
try/except neither audits nor shares the flash).

Source checks over pages/ and ui/ (pages/signin.py is exempt: there is no actor before sign-in):
- a button's value is never read by the script (no `if x.button(...)`, no `clicked = x.button(...)`), except
  the navigation buttons listed in READ_BY_SCRIPT with their reason;
- every button has an on_click, and it is ui.act with a module-level action(ws, me, ...) that is not handed
  the actor of the drawing run, or a callback that touches only this tab's st.session_state: a lambda on
  st.session_state, or a function listed in SESSION_ONLY with its reason, which takes and names no actor (every
  core function that changes something takes the acting user, so without one it cannot change anything)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

BUTTONS = {"button", "form_submit_button"}
EXEMPT = {"pages/signin.py"}  # there is no actor before sign-in; its form signs one in

# (file, enclosing function) -> why the script may read the button's value instead of giving it a callback
READ_BY_SCRIPT = {
    ("ui/components.py", "image_card"): "a thumbnail's zoom button: the page opens that photo (navigation only)",
}

# (file, function) -> why this callback may skip ui.act: it changes only this tab's st.session_state
SESSION_ONLY = {
    ("ui/panels/dataset_photo.py", "_back"): "opens the photo seen before (reads the store, changes nothing)",
    ("ui/panels/dataset_photo.py", "_skip"): "opens the next photo of the filter (reads the store, changes nothing)",
    ("ui/panels/dataset_photo.py", "_close"): "closes the open photo",
    ("ui/panels/dataset_photo.py", "_select_page"): "ticks the boxes of the page",
    ("ui/panels/dataset_photo.py", "_select_filter"): "ticks every photo of the filter",
    ("ui/panels/dataset_photo.py", "_select_none"): "unticks every box",
}

ACTOR_NAMES = {"me", "actor", "local_actor"}


@dataclass
class Module:
    rel: str
    tree: ast.Module
    functions: dict[str, ast.FunctionDef]
    imports: dict[str, str]  # local name -> file of a module of ours


def _parsed(rel: str, text: str) -> Module:
    tree = ast.parse(text)
    for node in ast.walk(tree):  # parents, for "is the value read?" and "which function is this in?"
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    imports = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imports[alias.asname or alias.name] = f"{node.module.replace('.', '/')}/{alias.name}.py"
    return Module(rel, tree, functions, imports)


def _module(path: Path) -> Module:
    return _parsed(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))


def _modules() -> dict[str, Module]:
    paths = [*sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").rglob("*.py"))]
    found = {m.rel: m for m in map(_module, paths)}
    return {rel: m for rel, m in found.items() if rel not in EXEMPT}


def _buttons(module: Module) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in BUTTONS
    ]


def _enclosing(node: ast.AST) -> str | None:
    while (node := getattr(node, "parent", None)) is not None:
        if isinstance(node, ast.FunctionDef):
            return node.name
    return None


def _where(module: Module, call: ast.Call) -> str:
    return f"{module.rel}:{call.lineno}"


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _touches_only_session_state(body: ast.AST) -> bool:
    """Every call in it is a method of st.session_state, and it names nothing but st and constants (a key)."""
    calls = [n for n in ast.walk(body) if isinstance(n, ast.Call)]
    if not all(isinstance(c.func, ast.Attribute) and ast.unparse(c.func.value) == "st.session_state" for c in calls):
        return False
    return all(n.id == "st" or n.id.isupper() for n in ast.walk(body) if isinstance(n, ast.Name))


def _action(modules: dict[str, Module], module: Module, node: ast.expr) -> ast.FunctionDef | None:
    """The module-level function `action` or `panel_module.action` names, when it is one of ours."""
    if isinstance(node, ast.Name):
        return module.functions.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        other = modules.get(module.imports.get(node.value.id, ""))
        return other.functions.get(node.attr) if other else None
    return None


def _callback_problem(modules: dict[str, Module], module: Module, call: ast.Call) -> str | None:
    """None when the button's on_click follows the rule; else what is wrong."""
    keywords = {k.arg: k.value for k in call.keywords}
    on_click, args = keywords.get("on_click"), keywords.get("args")
    if on_click is None:
        return "no on_click"
    if ast.unparse(on_click) == "ui.act":
        if not isinstance(args, ast.Tuple) or len(args.elts) < 2 or ast.unparse(args.elts[1]) != "ws":
            return "ui.act without args=(action, ws, ...)"
        if _names(ast.Tuple(elts=args.elts[1:])) & ACTOR_NAMES:
            return "the actor of the drawing run is handed to the action (ui.act reads it again)"
        action = _action(modules, module, args.elts[0])
        if action is None:
            return f"{ast.unparse(args.elts[0])} is not a module-level function of ours"
        if [a.arg for a in action.args.args[:2]] != ["ws", "me"]:
            return f"{action.name} does not take (ws, me, ...)"
        return None
    if isinstance(on_click, ast.Lambda):
        return None if _touches_only_session_state(on_click.body) else "a lambda that does more than st.session_state"
    if isinstance(on_click, ast.Name) and (module.rel, on_click.id) in SESSION_ONLY:
        callback = module.functions[on_click.id]
        if _names(callback) & ACTOR_NAMES or {a.arg for a in callback.args.args} & ACTOR_NAMES:
            return f"{on_click.id} is listed as session-only but names an actor"
        return None
    return f"on_click={ast.unparse(on_click)} is neither ui.act nor a session-only callback"


def test_no_button_value_is_read_by_the_script():
    """No `if x.button(...)`: a handler under an if runs with the actor of the drawing run, unaudited."""
    read = []
    for module in _modules().values():
        for call in _buttons(module):
            if isinstance(call.parent, ast.Expr):  # type: ignore[attr-defined]
                continue  # a statement of its own: the value is thrown away, the callback acts
            if (module.rel, _enclosing(call)) not in READ_BY_SCRIPT:
                read.append(f"{_where(module, call)}: {ast.unparse(call.parent)[:80]}")  # type: ignore[attr-defined]
    assert read == []


def test_every_button_acts_through_ui_act_or_touches_only_the_session():
    wrong, modules = [], _modules()
    for module in modules.values():
        for call in _buttons(module):
            if (module.rel, _enclosing(call)) in READ_BY_SCRIPT:
                continue
            problem = _callback_problem(modules, module, call)
            if problem:
                wrong.append(f"{_where(module, call)}: {problem}")
    assert wrong == []


def test_the_exceptions_listed_exist():
    """An exception whose button or callback has gone must go from the lists too (no blanket allowances)."""
    modules = _modules()
    for rel, name in SESSION_ONLY:
        assert name in modules[rel].functions, (rel, name)
    for rel, name in READ_BY_SCRIPT:
        assert any(_enclosing(call) == name for call in _buttons(modules[rel])), (rel, name)


def test_the_check_sees_the_patterns_it_forbids():
    """The checks above are only worth something if they recognise what they forbid."""
    source = """
import streamlit as st
from ui import components as ui

def save(ws, me, run_id): ...

def panel(ws, me, run):
    if st.button("Save", key="a"):
        save(ws, me, run.id)
    clicked = st.form_submit_button("Create")
    st.button("Go", key="b", on_click=lambda: store.relabel(ws.conn, me, [1], "x", "ui"))
    st.button("Go", key="c", on_click=ui.act, args=(save, ws, me))
    st.button("Go", key="d", on_click=ui.act, args=(save, ws, run.id))
    st.button("Go", key="e", on_click=lambda: st.session_state.update(open=True))
"""
    module = _parsed("pages/probe.py", source)
    calls = _buttons(module)
    read = [c for c in calls if not isinstance(c.parent, ast.Expr)]  # type: ignore[attr-defined]
    assert len(read) == 2
    problems = [_callback_problem({}, module, c) for c in calls]
    assert problems[0] == problems[1] == "no on_click"
    assert problems[2] == "a lambda that does more than st.session_state"
    assert problems[3].startswith("the actor of the drawing run")
    assert problems[4] is None and problems[5] is None
