"""Processes a test starts: a loopback port, a server started and stopped by its PID, a CLI process whose
output a thread collects.

Every process is stopped by its own PID: SIGTERM (the service writes what it buffers, Radicale closes its
storage), then SIGKILL if it has not ended in time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests

__all__ = ["Collected", "free_port", "running", "stop", "thread_cpus", "wait_until_answers"]


def free_port() -> int:
    """A loopback port no socket holds now (the kernel's choice), for a server started next."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def thread_cpus(pid: int) -> dict[int, frozenset[int]]:
    """Each thread of process ``pid``: the CPUs it may run on."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found[int(task.name)] = frozenset(os.sched_getaffinity(int(task.name)))
        except ProcessLookupError:
            continue
    return found


def stop(popen: subprocess.Popen[Any], timeout: float = 30) -> None:
    """End ``popen``: SIGTERM, then SIGKILL if it is still running after ``timeout`` seconds."""
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
    try:
        popen.wait(timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(timeout)


def wait_until_answers(
    url: str,
    *,
    method: str = "GET",
    auth: tuple[str, str] | None = None,
    process: subprocess.Popen[Any] | None = None,
    timeout: float = 60,
) -> None:
    """Until ``url`` answers at all (any status). A PROPFIND is sent with ``Depth: 0``. Raises ``RuntimeError``
    when ``process`` ends first or ``timeout`` seconds pass."""
    headers = {"Depth": "0"} if method == "PROPFIND" else {}
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.request(method, url, auth=auth, headers=headers, timeout=5)
            return
        except requests.ConnectionError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the process serving {url} ended with {process.returncode}") from None
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.2)


@contextlib.contextmanager
def running(
    command: Sequence[str],
    url: str,
    *,
    method: str = "GET",
    auth: tuple[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    stop_timeout: float = 20,
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` started, once ``url`` answers (see :func:`wait_until_answers`); stopped by its PID after.
    Its output goes to ``log`` (whose end a start that fails shows), else nowhere."""
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log.open("wb")) if log is not None else subprocess.DEVNULL
        process = subprocess.Popen(
            list(command), env=None if env is None else dict(env), cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )
        stack.callback(stop, process, stop_timeout)
        try:
            wait_until_answers(url, method=method, auth=auth, process=process)
        except RuntimeError as exc:
            printed = log.read_text(errors="replace")[-4000:] if log is not None else ""
            raise RuntimeError(f"{exc}\n{printed}") from None
        yield process


class Collected:
    """A process whose output (stdout and stderr, as text) a thread collects line by line into ``lines``."""

    def __init__(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> None:
        self.name = name
        self.lines: list[str] = []
        self.popen = subprocess.Popen(
            list(command),
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name=f"output of {name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    def output(self, last: int = 40) -> str:
        """The last ``last`` lines it printed."""
        return "".join(self.lines[-last:])

    def wait_for(self, prefix: str, timeout: float = 90) -> None:
        """Until it prints a line starting with ``prefix``; the test fails if it ends first or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.startswith(prefix) for line in self.lines):
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"{self.name} never printed {prefix!r}:\n{self.output()}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (then SIGKILL), and the rest of its output read."""
        stop(self.popen, timeout)
        self._reader.join(10)
