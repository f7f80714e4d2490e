"""Commands that repeat a delivery pass (``messages deliver``, ``webhooks deliver``): their options and loop."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

__all__ = ["add_pass_options", "run_passes"]


#: The longest wait between two passes (a day): longer is no schedule but a typo, and ``inf`` no number of seconds.
MAX_INTERVAL = 86_400.0


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0.1 <= seconds <= MAX_INTERVAL:  # NaN fails both
        raise argparse.ArgumentTypeError(f"must be between 0.1 and {MAX_INTERVAL:g} seconds")
    return seconds


def _passes(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError("must be 0 (until interrupted) or more")
    return count


def add_pass_options(parser: argparse.ArgumentParser, interval: float) -> None:
    parser.add_argument(
        "--once", action="store_true", help="one pass, then exit (else repeat every --interval seconds)"
    )
    parser.add_argument(
        "--interval", type=_seconds, default=interval, help=f"seconds between passes (default {interval:g})"
    )
    parser.add_argument(
        "--max-runs", type=_passes, default=0, help="stop after this many passes (0: until interrupted)"
    )


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
        time.sleep(args.interval)
