"""Issue 14, point 10 (passwords): trainers and admins need 12 characters, not their name, not a common password;
every password has an upper bound; each refusal carries a translation key with English and Korean text."""

from __future__ import annotations

import pytest

from core import auth, i18n, users
from core.errors import ValidationError

ADMIN = auth.Actor("root", "admin")


@pytest.mark.parametrize(
    "role, password, key",
    [
        ("admin", "elevenchars", "session.user_password_short"),
        ("trainer", "elevenchars", "session.user_password_short"),
        ("admin", "Password1234", "session.user_password_common"),
        ("trainer", "QWERTY123456", "session.user_password_common"),
        ("admin", "xx-Kim-2026-xx", "session.user_password_name"),
        ("viewer", "x" * 1025, "session.user_password_long"),
    ],
)
def test_weak_passwords_of_trainers_and_admins_are_refused_with_a_translated_reason(ws, role, password, key):
    with pytest.raises(ValidationError) as refused:
        users.add(ws.conn, ADMIN, "kim", role, password)
    assert refused.value.key == key and users.get(ws.conn, "kim") is None
    assert key in i18n.EN and key in i18n.KO
    assert "{" not in i18n.t(key, "ko", **refused.value.detail)


def test_labelers_and_viewers_keep_the_eight_character_minimum(ws):
    users.add(ws.conn, ADMIN, "lee", "labeler", "password")
    users.add(ws.conn, ADMIN, "vic", "viewer", "vic-vic-vic")
    users.add(ws.conn, ADMIN, "kim", "trainer", "twelve chars")
    assert [u.name for u in users.list_users(ws.conn)] == ["kim", "lee", "vic"]


def test_a_new_password_follows_the_policy_of_the_accounts_role(ws):
    users.add(ws.conn, ADMIN, "boss", "admin", "a long password")
    with pytest.raises(ValidationError) as refused:
        users.set_password(ws.conn, auth.Actor("boss", "admin"), "boss", "boss-password")
    assert refused.value.key == "session.user_password_name"
    with pytest.raises(ValidationError, match="at least 12"):
        users.set_password(ws.conn, ADMIN, "boss", "short pass")
    users.set_password(ws.conn, ADMIN, "boss", "another long one")
