"""Texts of api (issue 16: inspections)."""

EN: dict[str, str] = {}

KO: dict[str, str] = {}
