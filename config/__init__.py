"""Typed settings: the one place that reads environment variables and settings files."""

from config.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "load_settings"]
