"""Texts of issue 17 (trust at the verdict): the heatmap check (do the model's heatmaps point at the bolt?)."""

EN: dict[str, str] = {}

KO: dict[str, str] = {}
