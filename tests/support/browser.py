"""Debian's Chromium driven by Playwright for the page tests (never a downloaded browser).

Required in CI (``make test`` installs Debian's chromium as root); skipped with that reason elsewhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["CHROMIUM", "FLAGS", "chromium"]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: The flags a headless Chromium needs on these machines (no network beyond loopback, running as root).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> Iterator[Any]:
    """Launch the browser for a fixture to yield; fails under CI and skips elsewhere when it is missing."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI (make test installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not installed (make test installs it as root)")
    from playwright.sync_api import sync_playwright  # only the browser tests need it

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS, timeout=60_000)
        yield browser
        browser.close()
