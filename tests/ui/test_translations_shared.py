"""What every page shares, in both languages: dates in the user's format, tables that say when they are empty
and show None as "—", rounded figures, core errors shown through their text key; and the Admin audit log's
readable details."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from core import audit, auth, files, i18n, users
from core.errors import CoreError
from tests.conftest import ROOT

ADMIN = auth.Actor("root", "admin")
KO_TIME = re.compile(r"^\d{4}년 \d{1,2}월 \d{1,2}일 \d{2}:\d{2}(:\d{2})?$")
EN_TIME = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2}(:\d{2})?$")


def admin_page(lang: str, tab: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = ADMIN
    at.run()
    at.switch_page("pages/admin.py").run()
    if lang != "en":
        at.radio(key="lang").set_value(lang).run()
    if tab:
        at.session_state["admin_tab"] = i18n.t(tab, lang)
        at.run()
    assert not at.exception, at.exception
    return at


def column(at: AppTest, key: str, lang: str) -> list[str]:
    frame = at.dataframe[-1].value
    return frame[i18n.t(key, lang)].tolist()


@pytest.fixture
def logged(ws):
    users.add(ws.conn, ADMIN, "kim", "labeler", "long enough password")
    users.set_role(ws.conn, ADMIN, "kim", "trainer")
    audit.record_now(ws.conn, "lee", "relabel", "#1", label="broken", changed=1, source="review")
    audit.record_now(ws.conn, "kim", "sign_in.failed", "kim", reason="wrong password")
    audit.record_now(ws.conn, "kim", "promote", "run 3", forced=True, reason=None)
    return ws


@pytest.mark.parametrize("lang, pattern", [("en", EN_TIME), ("ko", KO_TIME)])
def test_dates_follow_the_language(logged, lang, pattern):
    at = admin_page(lang)
    created = column(at, "admin.users.col.created", lang)
    assert created and all(pattern.match(c.split(" · ")[0]) for c in created), created
    assert column(at, "admin.users.col.last", lang) == ["—"], "never signed in: a dash, not None"
    assert column(at, "admin.users.col.email", lang) == ["—"]
    at = admin_page(lang, "admin.tab.audit")
    times = column(at, "admin.audit.col.at", lang)
    assert len(times) == 5 and all(pattern.match(t) for t in times), times
    assert at.date_input(key="audit_since").proto.format == i18n.t("common.date_input", lang)


def test_audit_details_are_readable_key_value_lines(logged):
    at = admin_page("en", "admin.tab.audit")
    details = dict(
        zip(column(at, "admin.audit.col.action", "en"), column(at, "admin.audit.col.details", "en"), strict=True)
    )
    assert details["role changed"] == "before: labeler · after: trainer"
    assert details["relabel"] == "label: broken · changed: 1 · source: review"
    assert details["sign-in refused"] == "reason: wrong password"
    assert details["promotion"] == "reason: — · forced: yes"
    assert "run 3" in column(at, "admin.audit.col.target", "en")
    assert not any(c in text for text in details.values() for c in '{}"')


def test_audit_log_is_korean_in_korean(logged):
    at = admin_page("ko", "admin.tab.audit")
    details = dict(
        zip(column(at, "admin.audit.col.action", "ko"), column(at, "admin.audit.col.details", "ko"), strict=True)
    )
    assert details["역할 변경"] == "이전: 라벨러 · 이후: 학습 담당"
    assert details["라벨 변경"] == "라벨: 파손 · 변경: 1 · 출처: 검토"
    assert details["로그인 거부"] == "이유: 비밀번호 틀림"
    assert details["운영 모델 지정"] == "이유: — · 강제: 예"
    assert "실행 3" in column(at, "admin.audit.col.target", "ko")
    assert at.multiselect(key="audit_actions_ko").options[0] == "업로드"


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_empty_tables_say_so_instead_of_an_empty_grid(ws, lang):
    at = admin_page(lang)
    assert not at.dataframe, "no accounts: no empty grid"
    assert any(i18n.t("admin.users.empty", lang) in c.value for c in at.caption)
    at = admin_page(lang, "admin.tab.audit")
    assert not at.dataframe
    assert any(i18n.t("admin.audit.empty", lang) in c.value for c in at.caption)
    assert at.get("download_button")[0].proto.disabled


def test_the_audit_csv_keeps_iso_times_and_one_detail_a_line(logged, monkeypatch):
    from ui import components as ui

    saved: list[list[dict[str, object]]] = []
    monkeypatch.setattr(ui, "csv_bytes", lambda rows: saved.append(rows) or b"")
    at = admin_page("ko", "admin.tab.audit")
    assert at.get("download_button")[0].proto.label == "CSV로 내려받기"
    rows = saved[-1]
    assert all(re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$", r["시각"]) for r in rows), rows
    role = next(r for r in rows if r["동작"] == "역할 변경")
    assert role["세부 내용"] == "이전: 라벨러\n이후: 학습 담당" and role["대상"] == "kim"


def shared_widgets() -> None:
    """An AppTest script: the shared helpers of ui/components.py, drawn in the session's language."""
    import pandas as pd
    import streamlit as st

    from core.errors import CoreError
    from ui import components as ui

    st.markdown(ui.local_time("2026-12-03T05:05:07Z"))
    st.markdown(ui.local_time("2026-12-03T05:05:07Z", seconds=True))
    st.markdown(
        " | ".join(
            [
                ui.fmt(0.51234),
                ui.fmt(12.6, "ms"),
                ui.fmt(1.23456, "gflops"),
                ui.fmt(None),
                ui.fmt(float("nan"), "ms"),
                ui.fmt(1234.4, "ms"),
            ]
        )
    )
    ui.table([], key="t_empty")
    ui.table(pd.DataFrame({"f1": [0.51234, None], "name": ["a", None]}), formats={"f1": "f1"}, key="t_full")
    ui.show_error(CoreError("english", key="error.name_empty"))
    ui.show_error(CoreError("plain english message without a key"))


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_shared_helpers_follow_the_language(lang, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    try:
        at = AppTest.from_function(shared_widgets, default_timeout=30)
        at.session_state["lang"] = lang
        at.run()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert not at.exception, at.exception
    texts = [m.value for m in at.markdown]
    if lang == "ko":
        assert texts[:2] == ["2026년 12월 3일 05:05", "2026년 12월 3일 05:05:07"]
    else:
        assert texts[:2] == ["Dec 3, 2026, 05:05", "Dec 3, 2026, 05:05:07"]
    assert texts[2] == "0.512 | 13 | 1.23 | — | — | 1,234"
    assert any(i18n.t("common.empty", lang) in c.value for c in at.caption)
    assert len(at.dataframe) == 1, "the empty table draws no grid"
    table = at.dataframe[0]
    assert table.proto.placeholder == "—"
    assert '"format": "%.3f"' in table.proto.columns
    errors = [e.value for e in at.error]
    assert errors[0] == i18n.t("common.error", lang, message=i18n.t("error.name_empty", lang))
    assert errors[1].endswith("plain english message without a key"), "no key: the English message"


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_workspace_that_cannot_be_opened_is_explained_in_the_users_language(tmp_path, monkeypatch, lang):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("BOLTSCOPE_WORKSPACE", str(blocker / "ws"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    expected = i18n.t("error.workspace_folders", lang, path=str(blocker / "ws"), reason="Not a directory")
    assert [e.value for e in at.error] == [i18n.t("common.error", lang, message=expected)]


def raised(call) -> CoreError:
    with pytest.raises(CoreError) as info:
        call()
    return info.value


def core_errors(ws, tmp_path) -> dict[str, CoreError]:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    me = auth.Actor("root", "admin")
    return {
        "role": raised(lambda: auth.Actor("kim", "boss")),
        "name": raised(lambda: auth.Actor(" ", "viewer")),
        "action": raised(lambda: auth.can(me, "fly")),
        "permission": raised(lambda: auth.require(auth.Actor("vic", "viewer"), "users")),
        "audit": raised(lambda: audit.record(ws.conn, "kim", "no.such.action")),
        "ext": raised(lambda: ws.layout.original("0" * 64, ".exe!")),
        "sha": raised(lambda: ws.layout.thumb("not a sha")),
        "folders": raised(lambda: files.Layout(blocker / "ws").ensure()),
        "write": raised(lambda: files.write_atomic(blocker / "x.bin", b"1")),
        "staged": raised(lambda: files.staged_dir(blocker / "out", "export to").__enter__()),
    }


def test_core_errors_of_accounts_audit_and_files_carry_a_translated_key(ws, tmp_path):
    for name, exc in core_errors(ws, tmp_path).items():
        assert exc.key in i18n.EN and exc.key in i18n.KO, (name, exc.key)
        english, korean = i18n.t(exc.key, "en", **exc.detail), i18n.t(exc.key, "ko", **exc.detail)
        assert "{" not in english + korean, (name, english, korean)
        assert re.search(r"[가-힣]", korean), (name, korean)
        assert str(exc), "the English message stays for the CLI and the logs"


def test_pages_show_core_errors_through_their_text_key():
    """A page that shows `str(exc)` shows the English message to a Korean user: pages use ui.error_text /
    ui.show_error / ui.flash_error, which translate through the error's key."""
    offenders = []
    for path in sorted([*(ROOT / "pages").glob("*.py"), ROOT / "app.py"]):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bstr\(exc\)", line) and path.name != "components.py":
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, offenders
