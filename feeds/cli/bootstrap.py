"""Settings and runtime for a CLI command."""

from __future__ import annotations

import argparse
from typing import Any

from caldav_bridge.runtime import Runtime
from config import Settings, load_settings

__all__ = ["runtime_of", "settings_of"]


def settings_of(args: argparse.Namespace, **overrides: object) -> Settings:
    given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    return load_settings(config_file=getattr(args, "config", None), **given)


def runtime_of(args: argparse.Namespace, **overrides: object) -> Runtime:
    return Runtime.from_settings(settings_of(args, **overrides))
