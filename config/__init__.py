"""Typed settings: the one place that reads environment variables and settings files."""

from config.settings import DEMO_CONFIG, Settings, SettingsError, load_settings

__all__ = ["DEMO_CONFIG", "Settings", "SettingsError", "load_settings"]
