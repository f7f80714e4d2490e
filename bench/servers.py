"""Shared by the benchmarks that run ``appointment-service serve`` processes: start one, wait for it, stop it.

``serve_process`` starts the service on 127.0.0.1 and a free port (or the one given), with the database and
data folder given (other ``APPOINTMENTS_*`` variables of the caller's environment are dropped) and this
checkout first on ``PYTHONPATH`` (the server runs the code the bench is part of), waits for ``/readyz`` and
stops the process by its PID (SIGTERM, then SIGKILL after 10 s) when the block ends, also on errors.
``provision_fitters`` migrates the database and creates fitters with a password, a write token and their
calendar, through the service layer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from caldav_bridge.runtime import Runtime
from caldav_bridge.services import users
from caldav_bridge.store.migrate import upgrade
from config import load_settings

__all__ = ["BenchError", "Fitter", "Server", "free_port", "provision_fitters", "serve_process"]

#: The checkout the benchmarks belong to.
ROOT = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    """The benchmark could not run (exit status 2)."""


@dataclass(frozen=True)
class Fitter:
    username: str
    password: str
    token: str
    calendar_id: str

    def dav_session(self) -> requests.Session:
        """CalDAV: Basic with the password."""
        s = requests.Session()
        s.trust_env = False
        s.auth = (self.username, self.password)
        return s

    def api_session(self) -> requests.Session:
        """REST: the bearer token."""
        s = requests.Session()
        s.trust_env = False
        s.headers["Authorization"] = f"Bearer {self.token}"
        return s

    def calendar(self, base: str) -> str:
        return f"{base}/dav/{self.username}/appointments/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def provision_fitters(url: str, data_dir: Path, names: tuple[str, ...]) -> list[Fitter]:
    """Migrate the database at ``url`` and add one fitter per name (Europe/Berlin)."""
    rt = Runtime.from_settings(load_settings(environ={}, database_url=url, data_dir=str(data_dir)))
    try:
        upgrade(rt.engine)
        made = []
        for name in names:
            _, password = users.add_user(rt.uow(), name, "fitter", timezone="Europe/Berlin")
            token = users.issue_token(rt.uow(), name, ("write",)).secret
            with rt.uow() as uow:
                user = uow.users.by_username(name)
                if user is None:
                    raise BenchError(f"{name} was not created")
                calendar_id = uow.calendars.ids_owned_by(user.id)[0]
            made.append(Fitter(name, password, token, calendar_id))
        return made
    finally:
        rt.close()


@dataclass(frozen=True)
class Server:
    """A running ``serve`` process: its base URL and PID."""

    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """utime + stime of the process so far (from /proc; the server's threads all count)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def serve_process(
    url: str,
    data_dir: Path,
    name: str = "server",
    migrate: bool = True,
    settings: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[Server]:
    """``appointment-service serve`` on 127.0.0.1 (``port``, or a free one) for the block, with ``settings`` as
    ``APPOINTMENTS_<NAME>`` variables. Its output goes to ``data_dir/<name>.log``."""
    exe = Path(sys.executable).with_name("appointment-service")
    if not exe.exists():
        raise BenchError(f"{exe} not found; install the project into this interpreter")
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_")}
    env.update(APPOINTMENTS_DATABASE_URL=url, APPOINTMENTS_DATA_DIR=str(data_dir), APPOINTMENTS_LOG_LEVEL="ERROR")
    env.update({f"APPOINTMENTS_{key.upper()}": value for key, value in (settings or {}).items()})
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    port = port or free_port()
    log_path = data_dir / f"{name}.log"
    command = [str(exe), "serve", *(() if migrate else ("--no-migrate",)), "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(base + "/readyz", timeout=2).status_code == 200:
                        break
                time.sleep(0.1)
            else:
                raise BenchError(f"{name} did not start: {log_path.read_text()[-2000:]}")
            yield Server(base, process.pid)
        finally:
            _stop(process)
