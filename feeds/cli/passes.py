"""Commands that repeat a delivery pass (``messages deliver``, ``webhooks deliver``): their options and loop."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

__all__ = ["add_pass_options", "run_passes"]


def add_pass_options(parser: argparse.ArgumentParser, interval: float) -> None:
    parser.add_argument(
        "--once", action="store_true", help="one pass, then exit (else repeat every --interval seconds)"
    )
    parser.add_argument(
        "--interval", type=float, default=interval, help=f"seconds between passes (default {interval:g})"
    )
    parser.add_argument("--max-runs", type=int, default=0, help="stop after this many passes (0: until interrupted)")


def run_passes(args: argparse.Namespace, one_pass: Callable[[], Any]) -> dict[str, int]:
    """``one_pass`` (which returns a dataclass of counts) until ``--once`` or ``--max-runs`` says stop; the counts
    summed over the passes, and ``runs``."""
    total: dict[str, int] = {}
    runs = 0
    while True:
        for key, value in asdict(one_pass()).items():
            total[key] = total.get(key, 0) + value
        runs += 1
        if args.once or (args.max_runs and runs >= args.max_runs):
            return {**total, "runs": runs}
        time.sleep(max(0.1, args.interval))
