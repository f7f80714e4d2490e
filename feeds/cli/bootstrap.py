"""Settings, runtime and validated input for a CLI command.

The runtime (SQLAlchemy, the store) is imported when a command asks for it, not when the parser is
built: that is what keeps ``--help`` and the parser free of the database libraries.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from caldav_bridge.errors import FieldError, ValidationFailed
from config import Settings, load_settings
from feeds.cli.output import UsageError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from caldav_bridge.runtime import Runtime

__all__ = ["at_options", "runtime_of", "settings_of", "validated"]

M = TypeVar("M", bound="BaseModel")


def settings_of(args: argparse.Namespace, **overrides: object) -> Settings:
    given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    return load_settings(config_file=getattr(args, "config", None), **given)


def runtime_of(args: argparse.Namespace, **overrides: object) -> Runtime:
    """A runtime on the command's settings, closed when the command ends (``main`` holds the command's
    ``args.resources``): the fetch logs it buffers are written, its connections and spool file let go."""
    from caldav_bridge.runtime import Runtime

    settings = settings_of(args, **overrides)
    if not getattr(args, "creates_database", False):
        _require_database(settings)
    rt = Runtime.from_settings(settings)
    args.resources.callback(rt.close)
    return rt


def _require_database(settings: Settings) -> None:
    """A command that reads or changes the data (all but the ones that migrate: ``db upgrade``, ``demo``,
    ``serve``, ``worker``, ``sync run`` and ``sync check``, which declare ``creates_database``) finds the default
    SQLite file there, or stops with one line: a mistyped data directory would otherwise get a new empty database."""
    if settings.database_url:
        return
    database = Path(settings.data_dir) / "appointments.db"
    if not database.exists():
        raise UsageError(f"no database at {database}: run `appointment-service db upgrade` (or `demo`) first")


def validated(model: type[M], data: Mapping[str, Any], options: Mapping[str, str] | None = None) -> M:
    """``data`` checked by ``model`` (the model the REST API checks the same input with).

    A problem is reported at the command-line option it came from (``options`` maps a field to it),
    as a :class:`ValidationFailed`, so it prints as one line with exit status 2.
    """
    from pydantic import ValidationError

    from caldav_bridge.services.validation import field_errors

    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        names = options or {}
        errors = [_renamed(e, names) for e in field_errors(exc)]
        raise ValidationFailed(errors) from None


def _renamed(error: FieldError, names: Mapping[str, str]) -> FieldError:
    head, _, rest = error.field.partition(".")
    if head in names:
        return FieldError(names[head] + (f".{rest}" if rest else ""), error.message)
    return error


@contextmanager
def at_options(options: Mapping[str, str]) -> Iterator[None]:
    """Report a service's :class:`ValidationFailed` at the options its fields came from."""
    try:
        yield
    except ValidationFailed as exc:
        raise ValidationFailed([_renamed(e, options) for e in exc.errors]) from None
