"""Audit gaps closed: a refused core call is audited (who, the action, their role, the role it needed) and changes
nothing else; a Review skip is audited."""

from __future__ import annotations

import pytest

from core import audit, auth, jobs, review, users
from core.errors import PermissionDenied
from tests.core.test_roles_enforced import CALLS, below
from tests.core.train_helpers import ADMIN, add_demo, tiny_config


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    from core.workspace import open_workspace

    ws = open_workspace(tmp_path_factory.mktemp("gaps") / "ws")
    add_demo(ws, 12)
    users.add(ws.conn, ADMIN, "root", "admin", "a long password")
    jobs.submit(ws.conn, ADMIN, tiny_config())
    yield ws
    ws.close()


def refusals(ws) -> list[audit.Entry]:
    return audit.query(ws.conn, actions=("refused",))


def dump_without_refusals(ws) -> list[str]:
    """The whole database, less the audit rows of refusals."""
    return [line for line in ws.conn.iterdump() if not (line.startswith('INSERT INTO "audit"') and "'refused'" in line)]


def test_a_refused_call_is_audited_with_the_user_the_action_and_the_role_it_needed(populated):
    before, seen = list(populated.conn.iterdump()), len(refusals(populated))
    with pytest.raises(PermissionDenied):
        jobs.submit(populated.conn, auth.Actor("vera", "viewer"), tiny_config())
    entries = refusals(populated)
    assert len(entries) == seen + 1
    entry = entries[0]
    assert (entry.user, entry.action, entry.target) == ("vera", "refused", "train")
    assert entry.details == {"role": "viewer", "need": "trainer"}
    after = list(populated.conn.iterdump())
    assert [line for line in after if line not in before] == [  # the one audit row and nothing else
        line for line in after if line.startswith('INSERT INTO "audit"') and f"VALUES({entry.id}," in line
    ]
    assert dump_without_refusals(populated) == before


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_refused_mutating_call_is_audited_once_where_the_app_names_the_connection(populated, name):
    """Calls that pass no connection to auth.require are audited on the one the app's page run names."""
    action, call = CALLS[name]
    actor = below(action)
    before, seen = dump_without_refusals(populated), len(refusals(populated))
    with auth.audit_refusals(populated.conn), pytest.raises(PermissionDenied):
        call(populated, actor)
    entries = refusals(populated)
    assert len(entries) == seen + 1, name
    assert (entries[0].user, entries[0].target, entries[0].details) == (
        actor.name,
        action,
        {"role": actor.role, "need": auth.ACTION_MIN_ROLE[action]},
    )
    assert dump_without_refusals(populated) == before


def test_a_refusal_outside_any_named_connection_still_refuses_and_writes_nothing(populated):
    seen = len(refusals(populated))
    with pytest.raises(PermissionDenied):
        auth.require(auth.Actor("vera", "viewer"), "delete")
    assert len(refusals(populated)) == seen


def test_a_review_skip_is_audited(populated):
    item = review.Item(3, "suspect", "normal", "broken", 0.9)
    review.record_decision(populated.conn, auth.Actor("lena", "labeler"), item, "skip")
    entry = audit.query(populated.conn, actions=("review.skip",))[0]
    assert (entry.user, entry.target, entry.details) == ("lena", "#3", {"reason": "suspect"})
    row = populated.conn.execute("SELECT decision, user FROM review_decisions ORDER BY id DESC").fetchone()
    assert tuple(row) == ("skip", "lena")
