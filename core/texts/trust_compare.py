"""Texts of issue 17 (trust at the verdict): comparing two runs photo by photo before a promotion."""

EN: dict[str, str] = {}

KO: dict[str, str] = {}
