"""Page tests run in single-user mode unless they sign in themselves (tests/ui/test_signin.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def single_user_mode(monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_NO_AUTH", "1")
