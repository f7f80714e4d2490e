"""Settings and runtime for a CLI command."""

from __future__ import annotations

import argparse

from caldav_bridge.runtime import Runtime
from config import Settings, load_settings

__all__ = ["settings_of", "runtime_of"]


def settings_of(args: argparse.Namespace, **overrides: object) -> Settings:
    return load_settings(config_file=getattr(args, "config", None), **{k: v for k, v in overrides.items() if v is not None})


def runtime_of(args: argparse.Namespace, **overrides: object) -> Runtime:
    return Runtime.from_settings(settings_of(args, **overrides))
