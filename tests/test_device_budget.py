"""The GPU call's test controls: the plugin ``benchmarks/gpu/device_budget.py`` and ``SKETCHTEST_BACKENDS``."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

PLUGIN_FOLDER = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "gpu"
SLEEPY_TESTS = """
import time

def test_fast():
    pass

def test_sleeps_three_seconds():
    time.sleep(3)

def test_last():
    pass
"""


def _run_pytest(folder, *options):
    (folder / "test_sleepy.py").write_text(SLEEPY_TESTS)
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_FOLDER))
    env.pop("SKETCHTEST_BACKENDS", None)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "device_budget", "-p", "no:cacheprovider", "-q", "-rs",
         "--rootdir", str(folder), *options, str(folder / "test_sleepy.py")],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )
    return completed.stdout


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGALRM"), reason="SIGALRM is POSIX-only")
def test_per_test_timeout_fails_the_slow_test_only(tmp_path):
    output = _run_pytest(tmp_path, "--per-test-timeout", "1")
    assert "TimeoutError" in output and "ran past --per-test-timeout=1 s" in output
    assert "1 failed, 2 passed" in output


def test_session_budget_skips_the_tests_that_start_after_it(tmp_path):
    output = _run_pytest(tmp_path, "--session-budget", "2")
    assert "session time budget of 2 s spent" in output
    assert "2 passed, 1 skipped" in output


def _collect(backends, test_file):
    env = dict(os.environ, SKETCHTEST_BACKENDS=backends)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", test_file],
        cwd=PLUGIN_FOLDER.parents[1], env=env, capture_output=True, text=True, timeout=300,
    )


def test_backend_selection_keeps_the_named_backends_and_drops_tests_without_one():
    completed = _collect("numpy,torch", "tests/test_streaming.py")
    collected = [line for line in completed.stdout.splitlines() if "::" in line]
    assert collected == ["tests/test_streaming.py::test_streaming_on_every_backend[numpy]",
                         "tests/test_streaming.py::test_streaming_on_every_backend[torch]"], completed.stdout
    assert "deselected" in completed.stdout


def test_backend_selection_refuses_an_unknown_backend():
    completed = _collect("numpy,tpu", "tests/test_streaming.py")
    assert completed.returncode != 0
    assert "SKETCHTEST_BACKENDS names unknown backends ['tpu']" in completed.stdout + completed.stderr
