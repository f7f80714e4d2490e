"""Processes a test starts: a loopback port, a server started and stopped by its PID, a CLI process whose
output a thread collects.

Every process is stopped by its own PID: SIGTERM (the service writes what it buffers, Radicale closes its
storage), then SIGKILL if it has not ended in time.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
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

__all__ = [
    "Collected",
    "ephemeral_low",
    "free_port",
    "port_slice",
    "running",
    "stop",
    "thread_cpus",
    "wait_until_answers",
]


_FIRST_PORT = 10000


def ephemeral_low() -> int:
    """The first port of the range the kernel picks from for ``bind(port 0)`` and outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_slice(worker: str, workers: int, below: int) -> range:
    """The ports xdist worker ``worker`` (``gw0``, ``gw1``, ...; ``""`` outside xdist) of ``workers`` takes
    its servers' ports from: its share of 10000..``below``."""
    workers = max(1, workers)
    index = int(worker.removeprefix("gw") or 0) % workers
    width = (below - _FIRST_PORT) // workers
    if width < 16:
        raise RuntimeError(f"the ephemeral port range starts at {below}: no room below it for test servers")
    first = _FIRST_PORT + index * width
    return range(first, first + width)


def _worker_ports() -> Iterator[int]:
    """This process's slice, from a random start (two suites at once rarely meet), round and round."""
    ports = port_slice(
        os.environ.get("PYTEST_XDIST_WORKER", ""),
        int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")),
        ephemeral_low(),
    )
    offset = random.randrange(len(ports))
    while True:
        for step in range(len(ports)):
            yield ports[(offset + step) % len(ports)]


_PORTS = _worker_ports()


def free_port(candidates: Iterator[int] = _PORTS) -> int:
    """A loopback port no socket holds now, for a server started next: the first of ``candidates`` (by
    default this worker's slice, see :func:`port_slice`) that binds.

    Not the kernel's choice: a port ``bind(port 0)`` handed out and released here could be handed out again
    to another worker's in-process server before our server binds it (CI once met a Flask 404 where a
    Radicale was to answer). Below the ephemeral range no ``bind(port 0)`` and no outgoing connection
    takes a port, and the workers' slices do not overlap."""
    for port in itertools.islice(candidates, 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port among 1,000 tried")


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
