"""The conftest guard: an unmarked test that takes longer than BOLTSCOPE_TEST_LIMIT_S fails with a message that
says how to mark it; a test marked slow (or e2e, gpu) may take as long as it needs."""

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


def test_an_unmarked_test_over_the_limit_fails_and_a_slow_one_does_not(guarded):
    result = guarded.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_unmarked_and_long took * s (setup and call), over the 0.3 s*mark it "
                                 "@pytest.mark.slow*"])


def test_the_guard_is_off_at_zero(guarded, monkeypatch):
    monkeypatch.setenv("BOLTSCOPE_TEST_LIMIT_S", "0")
    guarded.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
