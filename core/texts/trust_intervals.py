"""Texts of issue 17 (trust at the verdict): defect recall and false-alarm intervals on the operating-point
panel and in the model card."""

EN: dict[str, str] = {}

KO: dict[str, str] = {}
