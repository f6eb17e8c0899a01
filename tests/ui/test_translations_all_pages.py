"""Every page, rendered with AppTest in English and Korean on a small workspace with data (photos, two finished
tiny runs, one in production, a queued suspects job, audit entries, accounts), shows no raw text key, no
unfilled {placeholder} and, in Korean, nothing that fell back to English. Also, statically: the tables agree,
and every key the code names literally exists in both languages."""

from __future__ import annotations

import ast
import json
import logging
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.runtime.state.common import user_key_from_element_id
from streamlit.testing.v1 import AppTest

from core import audit, auth, config, i18n, jobs, review, signin, store, users
from tests.conftest import ROOT

# ---------------------------------------------------------------------------------------------- the scan

# proto fields a person reads; ids, icons, formats and the like are left out
TEXT_FIELDS = {"body", "label", "options", "help", "placeholder", "caption", "delta", "text", "title"}
SKIPPED_ELEMENTS = {"html"}  # our own script tags, not text
CHART_TEXT_KEYS = {"text", "name", "title", "ticktext", "hovertemplate", "hovertext", "texttemplate"}
FILE_SUFFIXES = {"py", "csv", "json", "jpg", "jpeg", "png", "onnx", "pt", "db", "log", "txt", "md", "zip", "yaml"}
KEY_PREFIXES = sorted({key.split(".")[0] for key in i18n.EN}, key=len, reverse=True)
KEY_PATTERN = re.compile(
    r"(?<![\w./:@-])(?:" + "|".join(map(re.escape, KEY_PREFIXES)) + r")(?:\.[a-z0-9_]+)+(?![\w/@-])"
)
PLACEHOLDER = re.compile(r"(?<![%$])\{[a-z_][a-z0-9_]*(?:\.[a-z_]+)?(?::[^{}]*)?\}")
# three lowercase English words in a row, in the Korean UI: a sentence of ours left in English (code spans,
# icons, paths and file names are taken out first; product terms such as macro-F1 or GFLOPs are single words)
ENGLISH_WORDS = re.compile(r"(?<![\w.-])[a-z]{2,}(?:[ ,]+[a-z]{2,}){2,}(?![\w-])")
NOT_PROSE = re.compile(r"`[^`]*`|:material/[a-z_]+:|<[^>]+>|\S+[/\\]\S+|\S+\.[a-z]{2,4}\b|%\{[^}]*\}")
LOGGED = ("missing translation key", "translation for key", "could not be filled")


def _chart_texts(spec: object, parent: str = "") -> Iterator[str]:
    """Strings a plotly or vega chart shows: titles, trace names, tick and hover texts."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            yield from _chart_texts(value, key)
    elif isinstance(spec, list):
        for value in spec:
            yield from _chart_texts(value, parent)
    elif isinstance(spec, str) and parent in CHART_TEXT_KEYS:
        yield spec


def _frame_texts(arrow: bytes) -> Iterator[str]:
    from streamlit import dataframe_util

    frame = dataframe_util.convert_arrow_bytes_to_pandas_df(arrow)
    yield from (str(c) for c in frame.columns)
    yield from (str(i) for i in frame.index if isinstance(i, str))
    for column in frame.columns:
        yield from (v for v in frame[column].tolist() if isinstance(v, str))


def _table_texts(value) -> Iterator[str]:
    """A dataframe and its styled copy."""
    yield from _frame_texts(value.data)
    if value.HasField("styler") and value.styler.display_values:
        yield from _frame_texts(value.styler.display_values)


def _proto_texts(proto, element: str) -> Iterator[str]:
    for field, value in proto.ListFields():
        name = field.name
        if name in ("arrow_data", "data") and hasattr(value, "data"):
            yield from _table_texts(value)
        elif name == "lazy_data" and value.initial_chunk.data:
            yield from _frame_texts(value.initial_chunk.data)
        elif name == "columns" and isinstance(value, str) and element == "dataframe":  # column_config labels
            for column in json.loads(value or "{}").values():
                yield from (str(column[k]) for k in ("label", "help") if column.get(k))
        elif name == "spec" and isinstance(value, str):
            yield from _chart_texts(json.loads(value))
        elif name == "placeholder" or name in TEXT_FIELDS:
            if isinstance(value, str):
                yield value
            elif hasattr(value, "__iter__") and not hasattr(value, "ListFields"):
                yield from (v for v in value if isinstance(v, str))


def collect_texts(at: AppTest) -> list[str]:
    """Every string the rendered page shows: markdown, captions, alerts, titles, widget labels, help and
    options, tab and expander labels, metric labels and values, table headers and text cells, chart texts."""
    found: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if proto is not None and kind not in SKIPPED_ELEMENTS:
            inner = getattr(proto, kind, None) if hasattr(proto, "WhichOneof") and kind else None
            found.extend(_proto_texts(inner if hasattr(inner, "ListFields") else proto, kind))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return [t for t in found if t.strip()]


def raw_keys(text: str) -> list[str]:
    """Translation keys (or things shaped like one) that show in a text."""
    hits = [m for m in KEY_PATTERN.findall(text) if m.rsplit(".", 1)[-1] not in FILE_SUFFIXES]
    return hits + [k for k in KEYS_BY_LENGTH if k in text and k not in hits and _bounded(text, k)]


def _bounded(text: str, key: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(key) + r"(?![\w])", text) is not None


KEYS_BY_LENGTH = sorted(i18n.EN, key=len, reverse=True)
ENGLISH_ONLY = {text for key, text in i18n.EN.items() if i18n.KO.get(key) != text and re.search(r"[a-z]{3}", text)}


def problems(texts: list[str], lang: str, logs: list[str]) -> list[str]:
    found = []
    for text in texts:
        found += [f"raw key {k!r} in {text!r}" for k in raw_keys(text)]
        found += [f"unfilled placeholder {p!r} in {text!r}" for p in PLACEHOLDER.findall(text)]
        if lang == "ko" and text in ENGLISH_ONLY:
            found.append(f"English text in the Korean page: {text!r}")
        elif lang == "ko":
            found += [
                f"English words {w!r} in the Korean page: {text!r}"
                for w in ENGLISH_WORDS.findall(NOT_PROSE.sub(" ", text))
            ]
    return found + [f"logged: {line}" for line in logs]


# ----------------------------------------------------------------------------------- the workspace and pages

PHOTOS = 45


@pytest.fixture(scope="module")
def scan_ws(tmp_path_factory):
    """Photos, two finished tiny runs (the first in production), a queued suspects job, audit entries and
    accounts: enough for every page to draw its tables, charts and result cards."""
    from core import evaluation, runs
    from core.workspace import open_workspace
    from tests.core.train_helpers import ADMIN, add_demo, run_job_here, tiny_config

    path = tmp_path_factory.mktemp("scan") / "ws"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jobs, "launch_worker", lambda *a, **k: None)
        ws = open_workspace(path)
        add_demo(ws, PHOTOS)
        run_ids = []
        for seed in (0, 1):
            job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=2, seed=seed))
            assert run_job_here(ws, job_id) == "done"
            run_ids.append(runs.run_for_job(ws.conn, job_id).id)
        evaluation.promote(ws.conn, ADMIN, run_ids[0])
        jobs.submit(ws.conn, ADMIN, tiny_config(kind="suspects"))
        users.add(ws.conn, ADMIN, "kim", "trainer", "long enough password", "kim@plant.example")
        users.add(ws.conn, ADMIN, "lee", "labeler", None, "lee@plant.example")
        users.set_role(ws.conn, ADMIN, "lee", "trainer")
        with pytest.raises(Exception):  # noqa: B017 - any refusal; the audit row is what counts
            signin.authenticate(ws.conn, "kim", "wrong password here")
        image = store.query_images(ws.conn, store.ImageQuery(), 0, 1)[0][0]
        store.relabel(ws.conn, ADMIN, [image.id], "broken", "manual")
        audit.record_now(ws.conn, ADMIN.name, "export", "dataset zip", file="dataset.zip")
        ws.close()
    yield path


def _demo_jpegs(n: int) -> list[tuple[str, bytes, str]]:
    from tests.core.train_helpers import demo_uploads

    return [(Path(name).name, data, "image/jpeg") for name, data in demo_uploads()[:n]]


def _prepare_dataset(at: AppTest) -> None:
    """Open the first photo of the gallery, so its detail view and label history are scanned too."""
    opener = next((b for b in at.button if re.fullmatch(r"open_\d+", b.key or "")), None)
    if opener is not None:  # as its button does (clicking it in AppTest loses the sidebar's language choice)
        at.session_state["open_id"] = int(opener.key.removeprefix("open_"))


def _prepare_diagnose(at: AppTest) -> None:
    at.file_uploader(key="diag_files").set_value(_demo_jpegs(2))


# page file, and what to do before the scan
PAGES = {
    "dataset": ("pages/dataset.py", _prepare_dataset),
    "train": ("pages/train.py", None),
    "evaluate": ("pages/evaluate.py", None),
    "review": ("pages/review.py", None),
    "diagnose": ("pages/diagnose.py", _prepare_diagnose),
    "admin": ("pages/admin.py", None),
}


def _tab_keys(at: AppTest) -> dict[str, list[str]]:
    """{tabs key: [tab labels]} of every keyed st.tabs on the page."""
    found: dict[str, list[str]] = {}

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if getattr(node, "type", "") == "tab_container" and proto is not None and proto.id:
            key = user_key_from_element_id(proto.id)
            if key:
                found[key] = [child.label for child in node.children.values() if getattr(child, "type", "") == "tab"]
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def render_all(path: str, lang: str, prepare=None) -> tuple[AppTest, list[tuple[str, str]]]:
    """Open the page in lang, then each of its tabs; (where, text) for everything shown on the way."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["actor"] = auth.Actor("root", "admin")
    at.run()
    at.switch_page(path).run()
    if lang != "en":
        at.radio(key="lang").set_value(lang).run()
    if prepare is not None:
        prepare(at)
        at.run()
    assert not at.exception, at.exception
    shown = [("first view", t) for t in collect_texts(at)]
    for key, labels in _tab_keys(at).items():
        for label in labels[1:]:
            at.session_state[key] = label
            at.run()
            assert not at.exception, (label, at.exception)
            shown += [(f"tab {label!r}", t) for t in collect_texts(at)]
        at.session_state[key] = labels[0]
    return at, shown


def _report(page: str, lang: str, shown: list[tuple[str, str]], logs: list[str]) -> list[str]:
    found: list[str] = []
    for where, text in dict.fromkeys(shown):
        found += [f"{page} [{lang}] {where}: {p}" for p in problems([text], lang, [])]
    return found + [f"{page} [{lang}] {p}" for p in problems([], lang, sorted(set(logs)))]


def _i18n_logs(caplog) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "core.i18n" and any(s in r.getMessage() for s in LOGGED)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("page", list(PAGES))
def test_page_shows_no_raw_key_and_no_missing_translation(scan_ws, monkeypatch, caplog, page, lang):
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(scan_ws))
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    caplog.set_level(logging.WARNING, logger="core.i18n")
    path, prepare = PAGES[page]
    _, shown = render_all(path, lang, prepare)
    assert len(shown) > 10, "the page rendered next to nothing"
    found = _report(page, lang, shown, _i18n_logs(caplog))
    assert not found, "\n".join(found)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_signin_page_shows_no_raw_key_and_no_missing_translation(scan_ws, monkeypatch, caplog, lang):
    monkeypatch.delenv("BOLTSCOPE_NO_AUTH", raising=False)
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(scan_ws))
    caplog.set_level(logging.WARNING, logger="core.i18n")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    if lang != "en":
        at.radio(key="lang").set_value(lang).run()
    at.text_input(key="signin_name").input("kim")
    at.text_input(key="signin_password").input("not the password")
    at.button[0].click().run()  # a refusal, so its message is scanned too
    assert not at.exception, at.exception
    shown = [("after a refused sign-in", t) for t in collect_texts(at)]
    assert at.error, "the refusal is shown"
    found = _report("signin", lang, shown, _i18n_logs(caplog))
    assert not found, "\n".join(found)


def test_the_scan_finds_raw_keys_placeholders_and_english():
    assert raw_keys("train.kind.suspects") == ["train.kind.suspects"]
    assert raw_keys("#3 · tiny_cnn · train.kind.suspects · 2026") == ["train.kind.suspects"]
    assert raw_keys("admin.audit.col.at") and raw_keys("see diagnose.no_such_key here")
    assert not raw_keys("diagnosis.csv") and not raw_keys("pages/train.py") and not raw_keys("kim@plant.example")
    assert not raw_keys("Macro-F1 0.512 · e.g. 3.5 ms")
    assert problems(["Hello {name}"], "en", []) and not problems(["%{x}: %{y}"], "en", [])
    assert problems([i18n.EN["admin.audit.csv"]], "ko", []) and not problems([i18n.KO["admin.audit.csv"]], "ko", [])
    assert problems(["이유: first production model"], "ko", []) and not problems(
        ["이유: first production model"], "en", []
    )
    assert not problems(["JPEG, PNG, BMP 또는 WebP · 검증 macro-F1 · `python -m core user add NAME`"], "ko", [])
    assert not problems(["파일 demo/broken/some file name.jpg · %{text}"], "ko", [])


# --------------------------------------------------------------------------------------- static checks


def _fields(template: str) -> set[str]:
    """The names a template fills ({at.year} and {at:%H} both need `at`)."""
    return {re.split(r"[.\[]", f)[0] for _, f, _, _ in string.Formatter().parse(template) if f is not None and f}


def test_english_and_korean_have_the_same_keys_and_placeholders():
    assert sorted(set(i18n.EN) - set(i18n.KO)) == [], "keys without a Korean text"
    assert sorted(set(i18n.KO) - set(i18n.EN)) == [], "keys without an English text"
    differ = {
        k: (_fields(i18n.EN[k]), _fields(i18n.KO[k])) for k in i18n.EN if _fields(i18n.EN[k]) != _fields(i18n.KO[k])
    }
    assert not differ, differ
    assert all(i18n.KO[k].strip() for k in i18n.KO), "empty Korean texts"


SOURCES = sorted(
    [
        *(ROOT / "core").rglob("*.py"),
        *(ROOT / "pages").rglob("*.py"),
        ROOT / "app.py",
        *[p for p in (ROOT / "ui").rglob("*.py")],
    ],
    key=str,
)
KEYED_ERRORS = {"SignInRefused", "RejectedFile"}  # their first argument is a text key


def literal_keys() -> dict[str, set[str]]:
    """{key: {file:line}} for every literal text key in the code: t(...), tr(...), ui.tr(...), i18n.t(...),
    key="..." on a core error (and any keyword key= whose value looks like a dotted text key), and the first
    argument of SignInRefused / RejectedFile."""
    keys: dict[str, set[str]] = {}
    for path in SOURCES:
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0] if node.args else None
            literals = []
            if name in {"t", "tr"} | KEYED_ERRORS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                literals.append(first.value)
            for kw in node.keywords:
                if (
                    kw.arg in ("key", "reason_key", "empty_key")
                    and isinstance(kw.value, ast.Constant)
                    and isinstance(kw.value.value, str)
                    and "." in kw.value.value
                    and " " not in kw.value.value
                ):
                    literals.append(kw.value.value)
            for key in literals:
                keys.setdefault(key, set()).add(f"{where}:{node.lineno}")
    return keys


def test_every_literal_key_in_the_code_is_translated():
    used = literal_keys()
    assert len(used) > 100
    missing = {k: sorted(v) for k, v in used.items() if k not in i18n.EN or k not in i18n.KO}
    assert not missing, f"keys without English or Korean text: {missing}"


# text-key families the code fills from a constant: every member has its text
FAMILIES = {
    "role.": auth.ROLES,
    "split.": store.SPLITS,
    "source.": tuple(sorted(set(store.EVENT_SOURCES) | set(store.IMAGE_SOURCES))),
    "job.status.": tuple(jobs.JobStatus),
    "train.kind.": config.RUN_KINDS,
    "review.reason.": review.REASONS,
    "admin.audit.action.": audit.ACTIONS,
}


@pytest.mark.parametrize("prefix", list(FAMILIES))
def test_every_member_of_a_key_family_is_translated(prefix):
    missing = [prefix + m for m in FAMILIES[prefix] if prefix + m not in i18n.EN or prefix + m not in i18n.KO]
    assert not missing, missing
