"""The conftest guard: in a run that leaves slow tests out, an unmarked test that takes longer than
BOLTSCOPE_TEST_LIMIT_S fails with a message that says how to mark it; a test marked slow (or e2e, gpu) may take
as long as it needs."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

pytest_plugins = ["pytester"]

TESTS = """
import time
import pytest

def test_quick():
    pass

def test_unmarked_and_long():
    time.sleep(0.6)

@pytest.mark.slow
def test_marked_and_long():
    time.sleep(0.6)
"""


@pytest.fixture
def guarded(pytester, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_TEST_LIMIT_S", "0.3")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the copied conftest imports core
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    slow: long\n")
    pytester.makepyfile(test_sample=TESTS)
    return pytester


def test_in_the_fast_loop_an_unmarked_test_over_the_limit_fails(guarded):
    result = guarded.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not slow")  # as make test-fast runs
    result.assert_outcomes(passed=1, failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["*test_unmarked_and_long took * s (setup and call), over the 0.3 s*mark it @pytest.mark.slow*"]
    )


def test_the_guard_is_off_at_zero(guarded, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_TEST_LIMIT_S", "0")
    guarded.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not slow").assert_outcomes(passed=2, deselected=1)


def test_a_full_run_is_not_guarded(guarded):
    """make test and CI run every test, slow ones included, on machines that may be busy: no guard there."""
    guarded.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
