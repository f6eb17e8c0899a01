"""Texts of inspect_align (issue 16: inspections)."""

EN: dict[str, str] = {}

KO: dict[str, str] = {}
