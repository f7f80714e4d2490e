"""``fewer_collections`` raises the generation-0 threshold for bulk work and always puts it back;
``freeze_startup_heap`` leaves a server's start-up objects out of later collections."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from caldav_bridge.infra.gc_pacing import fewer_collections


def test_raises_and_restores_even_on_error() -> None:
    before = gc.get_threshold()  # the test process's own (tests/conftest.py raises them)
    gc.set_threshold(700, 10, 10)  # CPython's, as a process has them until told otherwise
    try:
        with pytest.raises(RuntimeError), fewer_collections(12_345):
            assert gc.get_threshold() == (12_345, 10, 10)
            with fewer_collections(1_000):  # an inner bulk job keeps the outer setting
                assert gc.get_threshold()[0] == 12_345
            assert gc.get_threshold()[0] == 12_345
            raise RuntimeError("boom")
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_freeze_startup_heap_leaves_what_exists_out_of_collections() -> None:
    # In a child process: frozen objects stay for the process's life, which pytest's should not.
    script = (
        "import gc\n"
        "from caldav_bridge.infra.gc_pacing import freeze_startup_heap\n"
        "assert gc.get_freeze_count() == 0\n"
        "kept = [[i] for i in range(1000)]\n"
        "freeze_startup_heap()\n"
        "frozen = gc.get_freeze_count()\n"
        "assert frozen > 1000, frozen\n"
        "later = [[i] for i in range(10)]\n"
        "gc.collect()\n"
        "assert gc.get_freeze_count() == frozen\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
