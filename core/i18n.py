"""t(key, lang, **values): every string a user reads, in English and Korean."""

from __future__ import annotations

import logging

from core.texts import (
    admin,
    api,
    base,
    dataset,
    diagnose,
    distill,
    evaluate,
    familiarity,
    inspect,
    inspect_align,
    inspect_judge,
    inspect_record,
    report,
    review,
    session,
    train,
    trust_compare,
    trust_heatmap,
    trust_intervals,
)

LANGUAGES = {"en": "English", "ko": "한국어"}
log = logging.getLogger(__name__)

EN: dict[str, str] = {}
KO: dict[str, str] = {}
for _area in (
    base,
    dataset,
    train,
    evaluate,
    review,
    diagnose,
    admin,
    session,
    inspect,
    inspect_record,
    inspect_align,
    inspect_judge,
    api,
    report,
    trust_intervals,
    trust_compare,
    trust_heatmap,
    familiarity,
    distill,
):
    for _table, _part in ((EN, _area.EN), (KO, _area.KO)):
        _clash = set(_table) & set(_part)
        if _clash:
            raise RuntimeError(f"translation keys defined twice: {sorted(_clash)}")
        _table.update(_part)

TABLES = {"en": EN, "ko": KO}


def t(key: str, lang: str = "en", **values: object) -> str:
    """The text for key in lang, formatted with values; English, then the key, as fallbacks."""
    table = TABLES.get(lang, EN)
    template = table.get(key)
    if template is None:
        template = EN.get(key)
        if template is None:
            log.warning("missing translation key %r", key)
            return key
        log.warning("no %s translation for key %r; showing the English text", lang, key)
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        log.warning("translation %r could not be filled with %r", key, values)
        return template
