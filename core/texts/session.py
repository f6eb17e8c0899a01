"""Texts of sign-in sessions, deep links and the server frame."""

EN: dict[str, str] = {}

KO: dict[str, str] = {}
