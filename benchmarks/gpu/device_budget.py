"""A pytest plugin for the one GPU call: a per-test alarm and a time budget for the session.

Loaded by ``benchmarks/gpu/device_check.sh`` (``-p device_budget`` with this
folder on ``PYTHONPATH``); it needs no other plugin (pytest-timeout may be
missing there). ``--per-test-timeout S`` fails a test still running after
S seconds (SIGALRM: it interrupts Python, not a hung CUDA call; the shell's
``timeout`` covers that). ``--session-budget S`` skips every test that would
start more than S seconds after the first test started (collection not
counted), so that pytest ends on time and still writes its junit report.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

_FIRST_TEST_STARTED = []


def pytest_addoption(parser):
    group = parser.getgroup("device_budget", "time limits for the one GPU call")
    group.addoption("--per-test-timeout", type=int, default=0, help="fail a test after this many seconds")
    group.addoption("--session-budget", type=float, default=0.0,
                    help="skip the tests that would start after this many seconds")


def pytest_runtest_setup(item):
    budget = item.config.getoption("--session-budget")
    if not _FIRST_TEST_STARTED:
        _FIRST_TEST_STARTED.append(time.monotonic())
    if budget > 0 and time.monotonic() - _FIRST_TEST_STARTED[0] > budget:
        pytest.skip(f"session time budget of {budget:.0f} s spent")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    seconds = item.config.getoption("--per-test-timeout")
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():  # signals: main thread only
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"{item.nodeid} ran past --per-test-timeout={seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
