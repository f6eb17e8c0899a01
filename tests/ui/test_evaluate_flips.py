"""AppTest: the Evaluate page's photo-by-photo tab (issue 17 point 4): the candidate against the production model,
its counts and flipped photos with both runs' verdicts and heatmaps, in English and Korean, for every role."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core import auth, compare, evaluation, i18n, jobs, runs
from tests.conftest import ROOT
from tests.core.test_compare import flip_workspace
from tests.core.train_helpers import ADMIN, TRAINER, add_demo, run_job_here, tiny_config
from ui.panels import evaluate_flips


def open_flips(lang: str = "en", actor: auth.Actor | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if actor is not None:
        at.session_state["actor"] = actor
    at.run()
    at.switch_page("pages/evaluate.py").run()
    if lang != "en":
        at.radio(key="lang").set_value(lang).run()
    at.session_state["eval_tab"] = i18n.t("compare.tab", lang)
    at.run()
    assert not at.exception, at.exception
    return at


def figures(at: AppTest, lang: str = "en") -> dict[str, str]:
    """The flips tab's counts (AppTest draws every tab: the Run tab's figures are there too)."""
    ours = {i18n.t(f"compare.m.{name}", lang) for name in ("fixed", "broken", "same")}
    return {m.label: m.value for m in at.metric if m.label in ours}


def texts(at: AppTest) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption])


@pytest.fixture
def crafted(ws, monkeypatch):
    """Two crafted runs (no model files), the first in production."""
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    a, b = flip_workspace(ws)
    evaluation.promote(ws.conn, TRAINER, a.id)
    return ws, a, b, compare.compare_photos(ws.conn, a.id, b.id)


@pytest.mark.slow  # AppTest draws the whole Evaluate page several times (over 15 s on a 2-core machine)
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_flips_tab_shows_the_candidate_against_production(crafted, lang):
    ws, a, b, found = crafted
    at = open_flips(lang, auth.Actor("vic", "viewer"))  # comparing is reading: every role that sees Evaluate
    tr = lambda key, **v: i18n.t(key, lang, **v)  # noqa: E731
    assert figures(at, lang) == {
        tr("compare.m.fixed"): str(len(found.fixed)),
        tr("compare.m.broken"): str(len(found.broken)),
        tr("compare.m.same"): str(found.same),
    }
    shown = texts(at)
    assert tr("compare.rule", a=a.id, ta="0.200", b=b.id, tb=f"{found.b.threshold:.3f}") in shown
    kind = at.radio(key=f"cmp_kind_{lang}")
    assert kind.options == [
        tr("compare.kind.broken", n=len(found.broken)),
        tr("compare.kind.fixed", n=len(found.fixed)),
    ]
    for flip in found.broken:  # newly wrong first, all of them (3 <= SHOWN)
        assert f"#{flip.image_id} · " in shown
        assert f"{tr('compare.right')}" in shown and f"{tr('compare.wrong')}" in shown
    assert tr("compare.heatmap_failed", message="").rstrip() in shown  # crafted runs have no model to explain

    kind.set_value("fixed").run()
    pages = at.selectbox(key=f"cmp_page_fixed_{a.id}_{b.id}")
    assert len(found.fixed) > evaluate_flips.SHOWN and pages.options[0] == f"1–4 / {len(found.fixed)}"
    first = texts(at)
    assert all(f"#{f.image_id} · " in first for f in found.fixed[: evaluate_flips.SHOWN])
    assert not any(f"#{f.image_id} · " in first for f in found.fixed[evaluate_flips.SHOWN :])
    pages.set_value(evaluate_flips.SHOWN).run()
    assert all(f"#{f.image_id} · " in texts(at) for f in found.fixed[evaluate_flips.SHOWN :])
    assert not at.exception, at.exception


@pytest.mark.slow
def test_a_promotion_shows_what_it_recorded(crafted):
    ws, a, b, found = crafted
    evaluation.promote(ws.conn, TRAINER, b.id, force=True)
    at = open_flips()
    recorded = f"{len(found.fixed)} fixed, {len(found.broken)} newly wrong, {found.same} unchanged"
    # b is production now: the candidate defaults to a, against b; the record names which replaced which
    [shown] = [i.value for i in at.info if i.value.startswith("Recorded with the promotion")]
    assert f"promotion of run #{b.id} over run #{a.id}" in shown and recorded in shown
    # picked as promoted: b against a
    at.selectbox(key=f"cmp_b_{b.id}_en").set_value(b.id).run()
    at.selectbox(key=f"cmp_a_{b.id}_en").set_value(a.id).run()
    [recorded_text] = [i.value for i in at.info if i.value.startswith("Recorded with the promotion")]
    assert f"promotion of run #{b.id} over run #{a.id}" in recorded_text
    assert recorded in recorded_text


@pytest.mark.slow
def test_one_run_or_the_same_run_twice_says_what_to_do(ws, monkeypatch):
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    a, b = flip_workspace(ws)
    at = open_flips()
    at.selectbox(key=f"cmp_a_{b.id}_en").set_value(b.id).run()
    assert i18n.t("compare.pick_two") in [i.value for i in at.info] and not figures(at)


def test_defaults_are_the_newest_run_against_production():
    finished = [
        runs.Run(
            i,
            i,
            "train",
            "tiny_cnn",
            tiny_config(),
            ("normal",),
            {},
            None,
            {},
            "",
            "x",
            1,
            None,
            None,
            None,
            None,
            None,
        )
        for i in (5, 4, 3)
    ]
    assert evaluate_flips.default_pair(finished, 3) == (5, 3)
    assert evaluate_flips.default_pair(finished, 5) == (4, 5)  # the newest is production: the next is the candidate
    assert evaluate_flips.default_pair(finished, None) == (5, 4)


@pytest.mark.slow  # trains two tiny runs and draws Grad-CAMs
def test_trained_runs_draw_both_heatmaps(ws, monkeypatch):
    monkeypatch.setattr(jobs, "launch_worker", lambda *a, **k: None)
    add_demo(ws, 45)
    ids = []
    for seed, epochs in ((0, 1), (1, 3)):
        job_id = jobs.submit(ws.conn, ADMIN, tiny_config(epochs=epochs, seed=seed))
        assert run_job_here(ws, job_id) == "done"
        ids.append(runs.run_for_job(ws.conn, job_id).id)
    evaluation.promote(ws.conn, ADMIN, ids[0])
    found = compare.compare_photos(ws.conn, ids[0], ids[1])
    assert found.fixed or found.broken, "the two tiny runs must disagree on some photo"
    at = open_flips("ko")
    if not found.broken:
        at.radio(key="cmp_kind_ko").set_value("fixed").run()
    drawn = min(len(found.broken or found.fixed), evaluate_flips.SHOWN)
    with_heatmaps = len(at.get("image"))
    assert with_heatmaps >= 3 * drawn  # each photo and both runs' heatmaps
    assert i18n.t("compare.heatmap_failed", "ko", message="").rstrip() not in texts(at)
    at.toggle(key="cmp_heatmaps").set_value(False).run()
    assert with_heatmaps - len(at.get("image")) == 2 * drawn and not at.exception


@pytest.mark.slow
def test_the_promotion_message_says_what_changed_photo_by_photo(crafted):
    """(needs ui/panels/evaluate_release.py's _promoted_text to add compare.promoted)"""
    ws, a, b, found = crafted
    at = open_flips("ko")
    at.checkbox(key=f"eval_force_{b.id}").check().run()
    at.button(key="eval_promote").click().run()
    assert not at.exception, at.exception
    assert runs.production_run_id(ws.conn) == b.id
    said = i18n.t("compare.promoted", "ko", fixed=len(found.fixed), broken=len(found.broken), same=found.same)
    assert any(said in s.value for s in at.success)
