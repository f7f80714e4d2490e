"""The ``appointment-service`` command run by a test: as a process, or in the test's process.

A process is what a user starts, and the tests of what only a process shows (exit status through the shell,
pipes, start-up imports, settings from the environment, ``serve``) start one. Each costs ~0.7 s of CPU, most of it
importing SQLAlchemy, pydantic and the service, so the tests of what a command *does* (users, tokens, calendars,
feeds, demo) call :func:`feeds.cli.main` in-process: the same parser, handlers, output and exit codes, with
the environment, standard input and output of the call swapped in for its duration, and the loggers' levels as
they were after it (``main`` quiets libraries' loggers: left so, a later test in the same worker that checks what
Radicale logged, a secret above all, would read nothing and pass whatever was logged).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from unittest import mock

from feeds.cli import main

__all__ = ["CLI", "in_process", "process"]

#: The command as the tests start it (the installed ``appointment-service`` script runs the same ``main``).
CLI = (sys.executable, "-m", "feeds.cli")


def process(
    args: Sequence[str], env: Mapping[str, str], *, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``appointment-service ARGS`` as a process with the environment ``env`` (the whole of it)."""
    return subprocess.run([*CLI, *args], env=dict(env), input=stdin, capture_output=True, text=True, timeout=timeout)


def in_process(
    args: Sequence[str], env: Mapping[str, str], *, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``feeds.cli.main(ARGS)`` with ``env`` added to the environment and ``stdin`` as standard input; its exit
    status (returned, or raised as ``SystemExit`` by the argument parser) and what it wrote, as a process's."""
    out, err = _text_stream(), _text_stream()
    with _swapped(env, stdin, out, err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # as the interpreter reads it: None is 0, a message is 1
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(list(args), code, _written(out), _written(err))


def _text_stream(initial: bytes = b"") -> io.TextIOWrapper:
    """A text stream over bytes (with ``.buffer``, as ``sys.stdout`` has) and no buffering of its own."""
    return io.TextIOWrapper(io.BytesIO(initial), encoding="utf-8", write_through=True)


def _written(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8")


@contextlib.contextmanager
def _swapped(env: Mapping[str, str], stdin: str | None, out: io.TextIOWrapper, err: io.TextIOWrapper) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, env))
        stack.enter_context(mock.patch.object(sys, "stdin", _text_stream((stdin or "").encode())))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        stack.enter_context(_logger_levels_kept())
        yield


@contextlib.contextmanager
def _logger_levels_kept() -> Iterator[None]:
    """Every logger's level afterwards as before (a logger made meanwhile: NOTSET, as it was made)."""
    manager = logging.Logger.manager
    before = {name: lg.level for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    root = logging.root.level
    try:
        yield
    finally:
        logging.root.setLevel(root)
        for name, lg in list(manager.loggerDict.items()):
            if isinstance(lg, logging.Logger) and lg.level != before.get(name, logging.NOTSET):
                lg.setLevel(before.get(name, logging.NOTSET))
