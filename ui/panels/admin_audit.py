"""The Admin page's audit log: filters, a readable table (actions, targets and details in the user's language,
times in the user's date format) and the CSV download."""

from __future__ import annotations

import re
from datetime import date, timedelta

import streamlit as st

from core import audit, i18n
from core.workspace import Workspace
from ui import components as ui

AUDIT_LIMIT = 5000
# detail key -> the text-key family its values belong to (values outside the family are shown as they are)
VALUE_KEYS = {
    "role": "role.",
    "need": "role.",
    "source": "source.",
    "kind": "train.kind.",
    "was": "job.status.",
    "reason": "admin.audit.reason.",
    "method": "admin.audit.method.",
}
ROLE_CHANGE = {"old": "role.", "new": "role."}  # in "user.role" entries, old and new are roles
TARGETS = re.compile(r"^(job|run) (\d+)$")
FIRST = ("old", "new", "kind", "arch", "role", "label", "count", "reason")  # the log stores details sorted by name


def _translated(prefix: str, value: str) -> str:
    key = prefix + re.sub(r"\W+", "_", value.strip().lower()).strip("_")
    return ui.tr(key) if key in i18n.EN else value


def value_text(value: object) -> str:
    """One detail value as a person reads it: yes/no, "—", lists joined, numbers shortened."""
    if value is None or value == "":
        return ui.tr("common.none")
    if isinstance(value, bool):
        return ui.tr("common.yes" if value else "common.no")
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value) or ui.tr("common.none")
    if isinstance(value, dict):
        return ", ".join(f"{k}={value_text(v)}" for k, v in value.items()) or ui.tr("common.none")
    return str(value)


def detail_lines(entry: audit.Entry, labels: dict[str, str]) -> list[str]:
    """The entry's details as "name: value" lines, names and known values translated."""
    families = {**VALUE_KEYS, **(ROLE_CHANGE if entry.action == "user.role" else {})}
    lines = []
    for name, value in sorted(entry.details.items(), key=lambda item: (FIRST + (item[0],)).index(item[0])):
        if name == "label" and isinstance(value, str):
            shown = labels.get(value, value)
        elif name in families and isinstance(value, str):
            shown = _translated(families[name], value)
        else:
            shown = value_text(value)
        title = ui.tr(f"admin.audit.detail.{name}") if f"admin.audit.detail.{name}" in i18n.EN else name
        lines.append(f"{title}: {shown}")
    return lines


def action_text(action: str) -> str:
    return ui.tr(f"admin.audit.action.{action}")


def target_text(target: str) -> str:
    """ "job 3" / "run 3" and the fixed targets core writes, in the user's language; ids and names as they are."""
    found = TARGETS.match(target)
    if found:
        return ui.tr(f"admin.audit.target.{found[1]}", id=found[2])
    return _translated("admin.audit.target.", target) if target else ui.tr("common.none")


def _filters(ws: Workspace) -> dict[str, object]:
    cols = st.columns([2, 3, 2, 2, 2])
    who = ui.choice(
        cols[0],
        ui.tr("admin.audit.who"),
        [None, *audit.users_seen(ws.conn)],
        "audit_who",
        lambda u: ui.tr("common.any") if u is None else u,
    )
    actions = ui.choices(
        cols[1],
        ui.tr("admin.audit.actions"),
        list(audit.ACTIONS),
        "audit_actions",
        action_text,
        placeholder=ui.tr("common.any"),
    )
    since = cols[2].date_input(
        ui.tr("admin.audit.since"), value=date.today() - timedelta(days=30), key="audit_since", format=ui.date_format()
    )
    until = cols[3].date_input(
        ui.tr("admin.audit.until"), value=date.today(), key="audit_until", format=ui.date_format()
    )
    text = cols[4].text_input(ui.tr("admin.audit.text"), key="audit_text")
    return {
        "user": who,
        "actions": tuple(actions) or None,
        "since": since.isoformat(),
        "until": (until + timedelta(days=1)).isoformat(),
        "text": text or None,
    }


def audit_log(ws: Workspace) -> None:
    entries = audit.query(ws.conn, **_filters(ws), limit=AUDIT_LIMIT)
    st.caption(ui.tr("admin.audit.count", n=len(entries), limit=AUDIT_LIMIT))
    labels = ui.label_names(ws)
    col = {name: ui.tr(f"admin.audit.col.{name}") for name in ("at", "user", "action", "target", "details")}
    rows = [
        {
            col["at"]: ui.local_time(e.at, seconds=True),
            col["user"]: e.user,
            col["action"]: action_text(e.action),
            col["target"]: target_text(e.target),
            col["details"]: " · ".join(detail_lines(e, labels)),
        }
        for e in entries
    ]
    ui.table(rows, empty_key="admin.audit.empty", key="audit_table")
    csv_rows = [
        {**row, col["at"]: ui.iso_time(e.at), col["details"]: "\n".join(detail_lines(e, labels))}
        for row, e in zip(rows, entries, strict=True)
    ]
    st.download_button(
        ui.tr("admin.audit.csv"),
        ui.csv_bytes(csv_rows),
        "audit.csv",
        "text/csv",
        key="audit_csv",
        icon=":material/download:",
        disabled=not rows,
    )
