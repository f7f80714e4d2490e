"""Throwaway PostgreSQL (15+) servers for the test suite.

:class:`PostgresServer` runs ``initdb`` into a fresh temporary directory, starts ``postgres`` on it as a child
process listening on ``127.0.0.1`` (on a free port) plus a unix socket inside that directory, waits until it
accepts connections, and on :meth:`PostgresServer.stop` shuts it down with ``pg_ctl stop -m fast`` -- falling back
to signalling the postmaster by the PID from ``postmaster.pid`` -- reaps it and removes the directory.

The cluster is disposable: ``trust`` authentication, superuser ``postgres``, ``fsync``/``synchronous_commit``/
``full_page_writes`` off and a small ``shared_buffers``.  Never point anything that matters at it.

Where the cluster lives
    In memory (``/dev/shm``) when that is a tmpfs with room to spare, else the temporary directory.  The suite
    creates and drops a database per test (some 640 a run); on this machine's ext4 root (mounted ``discard``)
    each CREATE DATABASE and DROP DATABASE pair cost the server ~0.25 s of system CPU creating and unlinking the
    database's files, on tmpfs ~0.02 s.  A container whose ``/dev/shm`` is Docker's 64 MB falls back to disk.

Clusters left behind
    A test process killed by SIGTERM or SIGKILL runs no finalizer, and its postmaster (a session of its own) goes
    on, holding memory when the cluster is on ``/dev/shm``.  Each cluster's directory names the process that
    started it (``owner``: its PID and start time); starting a server first stops and removes every cluster whose
    owner is gone.

Running as root
    ``initdb``, ``pg_ctl`` and ``postgres`` refuse to run as root, and tests/CI run as root.  When the effective
    UID is 0, every PostgreSQL binary is run as the pre-existing ``nobody`` user (its primary group, no
    supplementary groups) via ``subprocess.run(user=..., group=..., extra_groups=[])``, and the temporary directory
    is ``chown``-ed to that user.  ``nobody`` was chosen over creating a dedicated system user so that the test
    suite never modifies ``/etc/passwd`` on the machine it runs on (and needs no ``useradd``).  Set the
    environment variable ``APPTEST_PG_USER`` to use a different existing account.  When not root, the binaries
    run as the current user.

Typical use::

    with PostgresServer() as pg:
        engine = sqlalchemy.create_engine(pg.create_database("appointments"))
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from tests.support.processes import free_port

__all__ = ["MIN_VERSION", "PostgresServer", "PostgresServerError", "postgres_available"]

log = logging.getLogger(__name__)

MIN_VERSION = 15
"""Lowest PostgreSQL major version accepted."""

SUPERUSER = "postgres"
HOST = "127.0.0.1"

_BINARIES = ("initdb", "pg_ctl", "postgres")
_FALLBACK_ROOT = Path("/usr/lib/postgresql")  # Debian/Ubuntu layout: /usr/lib/postgresql/<major>/bin
_FALLBACK_BINDIR_GLOB = f"{_FALLBACK_ROOT}/*/bin"
_RUN_AS_ENV = "APPTEST_PG_USER"
_DEFAULT_RUN_AS = "nobody"
_PORT_ATTEMPTS = 3
_OWNER = "owner"  # in a cluster's base directory: "PID START" of the process that started it
_IN_MEMORY = Path("/dev/shm")
_IN_MEMORY_ROOM = 2 << 30  # bytes free on /dev/shm before the cluster goes there: a few hundred MB at most in use
_BIND_ERROR = re.compile(r"could not bind|could not create listen socket|Address already in use", re.IGNORECASE)


class PostgresServerError(RuntimeError):
    """Raised when the throwaway PostgreSQL server cannot be set up, started or reached."""


# --------------------------------------------------------------------------------------------------------------
# Binary discovery
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Binaries:
    """Absolute paths of the PostgreSQL programs used, all from one installation."""

    bindir: Path
    version: int

    def __getitem__(self, name: str) -> str:
        return str(self.bindir / name)


def _major_version(initdb: Path) -> int | None:
    """Return the major version reported by ``initdb --version``, or None if it cannot be determined."""
    try:
        out = subprocess.run(
            [str(initdb), "--version"],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return int(match.group(1)) if match else None


def _candidate_bindirs() -> list[Path]:
    """Directories that may hold the binaries: the one of ``initdb`` on PATH first, then newest versions first."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)

    def version_key(bindir: Path) -> tuple[int, str]:
        major = bindir.parent.name
        return (int(major) if major.isdigit() else -1, major)

    for bindir in sorted(_FALLBACK_ROOT.glob("*/bin"), key=version_key, reverse=True):
        if bindir not in candidates:
            candidates.append(bindir)
    return candidates


@functools.cache
def _discover() -> _Binaries | str:
    """Locate a PostgreSQL >= MIN_VERSION installation; return its binaries or a reason why there is none."""
    rejected: list[str] = []
    for bindir in _candidate_bindirs():
        missing = [name for name in _BINARIES if not os.access(bindir / name, os.X_OK)]
        if missing:
            rejected.append(f"{bindir}: missing {', '.join(missing)}")
            continue
        version = _major_version(bindir / "initdb")
        if version is None:
            rejected.append(f"{bindir}: cannot determine version")
        elif version < MIN_VERSION:
            rejected.append(f"{bindir}: version {version} < {MIN_VERSION}")
        else:
            return _Binaries(bindir=bindir, version=version)
    detail = "; ".join(rejected) if rejected else f"not on PATH and nothing matches {_FALLBACK_BINDIR_GLOB}"
    return f"no PostgreSQL >= {MIN_VERSION} installation with {', '.join(_BINARIES)} found ({detail})"


# --------------------------------------------------------------------------------------------------------------
# Who runs the server
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunAs:
    """Unprivileged identity to run the PostgreSQL binaries as (only used when we are root)."""

    name: str
    uid: int
    gid: int


def _run_as() -> _RunAs | None:
    """Return the identity to drop to when running as root, or None when no privilege drop is needed.

    Raises:
        PostgresServerError: running as root and the configured user does not exist or is root.
    """
    if os.geteuid() != 0:
        return None
    name = os.environ.get(_RUN_AS_ENV) or _DEFAULT_RUN_AS
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise PostgresServerError(
            f"running as root, but user {name!r} to run PostgreSQL as does not exist (set {_RUN_AS_ENV})"
        ) from None
    if entry.pw_uid == 0:
        raise PostgresServerError(f"user {name!r} has UID 0; PostgreSQL refuses to run as root")
    return _RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def postgres_available() -> str | None:
    """Return None if a throwaway server can be started here, otherwise a human-readable reason why not.

    Suitable for ``pytest.mark.skipif``.  Checks for the binaries (PostgreSQL >= 15) and, when running as root,
    for the unprivileged user; it does not start anything.
    """
    found = _discover()
    if isinstance(found, str):
        return found
    try:
        _run_as()
    except PostgresServerError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------------------------------------------
# Process helpers
# --------------------------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a live process (zombies count as gone: they no longer run, only await reaping)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (or it vanished in between); trust kill(0)
    # Format: "pid (comm) state ...", comm may contain spaces/parentheses, so split at the last ')'.
    state = stat_line.rpartition(")")[2].split()[0] if ")" in stat_line else ""
    return state not in ("Z", "X")


def _wait_pid_gone(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` is gone; return whether it is."""
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _looks_like_postgres(pid: int) -> bool:
    """Guard against PID reuse before signalling: the process must still look like a postgres server."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no procfs: cannot check, assume it is ours
    return b"postgres" in cmdline


def _read_postmaster_pid(data_dir: Path) -> int | None:
    """PID from the first line of ``postmaster.pid``, or None if the file is absent or unreadable."""
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
        return int(first.strip())
    except (OSError, IndexError, ValueError):
        return None


def _cluster_parent(run_as: _RunAs | None) -> Path:
    """The directory the cluster's temporary directory goes in: ``/dev/shm`` when it is a tmpfs with room (see the
    module's docstring), else the temporary directory (``/tmp`` if that is private to root and the cluster runs as
    another user)."""
    try:
        in_memory = shutil.disk_usage(_IN_MEMORY).free >= _IN_MEMORY_ROOM and _is_tmpfs(_IN_MEMORY)
    except OSError:
        in_memory = False
    if in_memory and os.access(_IN_MEMORY, os.W_OK) and _searchable_by_others(_IN_MEMORY):
        return _IN_MEMORY
    parent = Path(tempfile.gettempdir())
    if run_as is not None and not _searchable_by_others(parent):
        parent = Path("/tmp")  # TMPDIR is private to root; the unprivileged user could not reach the cluster
    return parent


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc): with the PID, names one process even after
    the PID is reused. ``None`` if there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def _owner_gone(base_dir: Path) -> bool:
    """Whether the process that started the cluster in ``base_dir`` has ended (False when it is unknown)."""
    try:
        pid, start = (base_dir / _OWNER).read_text().split()
    except (OSError, ValueError):
        return False
    return _process_start(int(pid)) != start


def _is_tmpfs(path: Path) -> bool:
    """Whether ``path`` is the mount point of a tmpfs (from /proc/mounts)."""
    with contextlib.suppress(OSError), open("/proc/mounts") as mounts:
        return any(f.split()[1:3] == [str(path), "tmpfs"] for f in mounts)
    return False


def _searchable_by_others(path: Path) -> bool:
    """Whether every directory from ``/`` down to ``path`` has the world execute bit (so ``nobody`` can enter)."""
    resolved = path.resolve()
    for directory in [resolved, *resolved.parents]:
        try:
            if not directory.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = 40, offset: int = 0) -> str:
    """Last ``lines`` lines of a text file (from byte ``offset`` on), or a note that it cannot be read."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty>"


# --------------------------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------------------------


@dataclass
class _Instance:
    """Everything needed to tear a started cluster down; kept apart from the server so a finalizer can use it."""

    bins: _Binaries
    run_as: _RunAs | None
    base_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    pid: int | None = None
    stopped: bool = field(default=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "sock"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    def _env(self) -> dict[str, str]:
        """Environment for PostgreSQL programs: no ``PG*`` variables leaking in, C locale (English messages)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", HOME=str(self.base_dir))
        return env

    def run(self, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program (dropping to the unprivileged user when root), capturing its output."""
        drop = self.run_as
        return subprocess.run(
            list(args),
            user=drop.uid if drop else None,
            group=drop.gid if drop else None,
            extra_groups=[] if drop else None,  # [] = setgroups(0): shed root's supplementary groups
            cwd=self.base_dir,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def launch(self, port: int) -> None:
        """Start the postmaster as our own child process, logging to :attr:`log_file`.

        ``postgres`` is run directly rather than through ``pg_ctl start``: pg_ctl daemonizes it, orphaning it to
        PID 1, and in containers PID 1 often never reaps children, leaving a zombie behind after every stop.  As
        our child it is reaped by :meth:`shutdown`.  It gets its own session so a Ctrl-C aimed at the test run
        does not kill it before the orderly shutdown.
        """
        drop = self.run_as
        with self.log_file.open("ab") as log_fh:
            self.proc = subprocess.Popen(
                [self.bins["postgres"], "-D", str(self.data_dir), "-p", str(port)],
                user=drop.uid if drop else None,
                group=drop.gid if drop else None,
                extra_groups=[] if drop else None,
                cwd=self.base_dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.proc.pid

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the postmaster (``pg_ctl stop -m fast``, else signals by PID) and delete the base directory.

        Idempotent.  Never raises for an already-dead server; logs when the fallback is needed.
        """
        if self.stopped:
            return
        self.stopped = True
        try:
            pid = _read_postmaster_pid(self.data_dir) or self.pid
            if pid is not None and _pid_alive(pid) and not (self._pg_ctl_stop(timeout) and _wait_pid_gone(pid, 10.0)):
                log.warning("pg_ctl stop did not end postmaster %d; signalling it directly", pid)
                self._kill(pid)
        finally:
            if self.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)  # reap our child so its PID really disappears
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def _pg_ctl_stop(self, timeout: float) -> bool:
        """``pg_ctl stop -m fast -w``; return whether it reported success."""
        args = [self.bins["pg_ctl"], "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(int(timeout))]
        try:
            result = self.run(args, timeout=timeout + 10)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("pg_ctl stop could not run: %s", exc)
            return False
        if result.returncode != 0:
            log.warning("pg_ctl stop exited %d: %s", result.returncode, (result.stderr or result.stdout).strip())
        return result.returncode == 0

    @staticmethod
    def _kill(pid: int) -> None:
        """SIGQUIT (immediate shutdown, children exit too), then SIGKILL if the postmaster lingers."""
        for sig, grace in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 10.0)):
            if not _pid_alive(pid) or not _looks_like_postgres(pid):
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if _wait_pid_gone(pid, grace):
                return
        log.error("postmaster %d survived SIGKILL", pid)


class PostgresServer:
    """A throwaway PostgreSQL server in a temporary directory, listening on 127.0.0.1 and a unix socket.

    Use as a context manager, or call :meth:`start` and :meth:`stop` yourself.  If neither happens, the server is
    stopped when the object is garbage-collected or at interpreter exit (best effort).

    Args:
        startup_timeout: seconds to wait for the server to accept connections before giving up.
        shared_buffers: value of the ``shared_buffers`` setting.
        max_connections: value of the ``max_connections`` setting.
    """

    def __init__(
        self, *, startup_timeout: float = 30.0, shared_buffers: str = "16MB", max_connections: int = 100
    ) -> None:
        self.startup_timeout = startup_timeout
        self.shared_buffers = shared_buffers
        self.max_connections = max_connections
        self._instance: _Instance | None = None
        self._port: int | None = None
        self._finalizer: weakref.finalize[[], PostgresServer] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Create a cluster with ``initdb``, start it and wait until it accepts connections; return ``self``.

        Raises:
            PostgresServerError: binaries missing, already started, initdb failed, or the server did not accept
                connections within ``startup_timeout`` (the message includes the server log tail).
        """
        if self._instance is not None and not self._instance.stopped:
            raise PostgresServerError("server already started")
        found = _discover()
        if isinstance(found, str):
            raise PostgresServerError(found)
        run_as = _run_as()

        parent = _cluster_parent(run_as)
        for orphan in (d for d in parent.glob("apptest-pg-*") if _owner_gone(d)):
            log.warning("stopping the test cluster %s: the process that started it is gone", orphan)
            _Instance(bins=found, run_as=run_as, base_dir=orphan).shutdown()
        base_dir = Path(tempfile.mkdtemp(prefix="apptest-pg-", dir=parent))
        (base_dir / _OWNER).write_text(f"{os.getpid()} {_process_start(os.getpid())}")
        instance = _Instance(bins=found, run_as=run_as, base_dir=base_dir)
        self._instance = instance
        self._finalizer = weakref.finalize(self, instance.shutdown)
        try:
            instance.socket_dir.mkdir()
            if run_as is not None:
                for path in (base_dir, instance.socket_dir):
                    os.chown(path, run_as.uid, run_as.gid)
            self._initdb(instance)
            self._start_postmaster(instance)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``, else kill the postmaster by PID) and remove the temp dir.

        Safe to call more than once and on a server that never started.
        """
        if self._finalizer is not None:
            self._finalizer()  # runs instance.shutdown() exactly once

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- properties --------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the postmaster process is alive."""
        pid = self.pid
        return pid is not None and _pid_alive(pid)

    @property
    def host(self) -> str:
        """The TCP address the server listens on (always ``127.0.0.1``)."""
        return HOST

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise PostgresServerError("server not started")
        return self._port

    @property
    def pid(self) -> int | None:
        """The postmaster PID (None before start)."""
        return self._instance.pid if self._instance else None

    @property
    def base_dir(self) -> Path:
        """The temporary directory holding ``data/``, ``sock/`` and ``postgres.log``; removed by :meth:`stop`."""
        return self._require_instance().base_dir

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self._require_instance().data_dir

    @property
    def socket_dir(self) -> Path:
        """The directory holding the server's unix socket (``.s.PGSQL.<port>``)."""
        return self._require_instance().socket_dir

    @property
    def log_file(self) -> Path:
        """The server log file."""
        return self._require_instance().log_file

    # -- connecting --------------------------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL ``postgresql+psycopg://postgres@127.0.0.1:PORT/DBNAME`` (as a string)."""
        return URL.create(
            "postgresql+psycopg", username=SUPERUSER, host=HOST, port=self.port, database=dbname
        ).render_as_string(hide_password=False)

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string (for psycopg) for ``dbname`` over TCP."""
        return psycopg.conninfo.make_conninfo(host=HOST, port=self.port, user=SUPERUSER, dbname=dbname)

    def create_database(self, name: str, template: str = "template1") -> str:
        """Create database ``name`` (owned by ``postgres``) as a copy of ``template``; return its SQLAlchemy URL.

        ``STRATEGY FILE_COPY`` copies the template's files (and checkpoints, cheap with ``fsync`` off) where
        PostgreSQL 15's default ``WAL_LOG`` writes every block of it through the WAL: 17-18 ms of the server's CPU
        against 45-51 ms for a migrated template (2026-12-05, a slow 2-core machine), and the suite makes a database
        for each of its ~1,000 PostgreSQL tests."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            create = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY")
            conn.execute(create.format(sql.Identifier(name), sql.Identifier(template)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, terminating any sessions still connected to it."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    # -- internals ---------------------------------------------------------------------------------------------

    def _require_instance(self) -> _Instance:
        if self._instance is None:
            raise PostgresServerError("server not started")
        return self._instance

    def _initdb(self, instance: _Instance) -> None:
        args = [
            instance.bins["initdb"],
            "-D", str(instance.data_dir),
            "-U", SUPERUSER,
            "--auth=trust",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]  # fmt: skip
        result = instance.run(args, timeout=max(self.startup_timeout, 60.0))
        if result.returncode != 0:
            raise PostgresServerError(f"initdb failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
        settings = {
            "listen_addresses": HOST,
            "unix_socket_directories": str(instance.socket_dir),
            "max_connections": str(self.max_connections),
            "shared_buffers": self.shared_buffers,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        lines = ["", "# throwaway test cluster (tests/support/postgres.py)"]
        lines += [f"{key} = '{value}'" for key, value in settings.items()]
        with (instance.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(lines) + "\n")

    def _start_postmaster(self, instance: _Instance) -> None:
        """Launch ``postgres`` on a free port and wait until it accepts connections.

        Retries with another port if the probed one was taken by someone else before the postmaster bound it.
        """
        deadline = time.monotonic() + self.startup_timeout
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._port = free_port()
            log_offset = instance.log_file.stat().st_size if instance.log_file.exists() else 0
            instance.launch(self._port)
            try:
                self._wait_ready(instance, deadline)
                return
            except PostgresServerError:
                exited = instance.proc is not None and instance.proc.poll() is not None
                new_log = _tail(instance.log_file, offset=log_offset)
                if attempt < _PORT_ATTEMPTS and exited and _BIND_ERROR.search(new_log):
                    log.info("port %d was taken before postgres could bind it; retrying with another", self._port)
                    continue
                raise

    def _wait_ready(self, instance: _Instance, deadline: float) -> None:
        """Poll with psycopg over TCP until a query succeeds, the postmaster dies, or the deadline passes."""
        last_error: Exception | None = None
        while True:
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=2, autocommit=True) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error as exc:
                last_error = exc
            code = instance.proc.poll() if instance.proc is not None else None
            if code is not None:
                reason = f"postmaster (PID {instance.pid}) exited with code {code} during startup"
                break
            if time.monotonic() >= deadline:
                reason = f"server did not accept connections within {self.startup_timeout:g}s"
                break
            time.sleep(0.1)
        raise PostgresServerError(
            f"{reason} on {HOST}:{self._port}; last error: {last_error}\n"
            f"--- {instance.log_file} (tail) ---\n{_tail(instance.log_file)}"
        )
