"""Tests for the throwaway PostgreSQL server in :mod:`tests.support.postgres` (they start real servers)."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support import postgres
from tests.support.postgres import PostgresServer, postgres_available

_UNAVAILABLE = postgres_available()
pytestmark = [
    pytest.mark.postgres,
    # Skip where PostgreSQL is missing -- except in CI (``CI`` set), where start() then fails with the reason.
    pytest.mark.skipif(
        _UNAVAILABLE is not None and not os.environ.get("CI"), reason=f"PostgreSQL unavailable: {_UNAVAILABLE}"
    ),
]

_TCP_LISTEN = "0A"


def _process_gone(pid: int) -> bool:
    """True if no process (not even a zombie) has ``pid``: the postmaster is our child and must be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _listening_addresses(port: int) -> list[str]:
    """Local addresses of TCP sockets (IPv4 and IPv6) in LISTEN state on ``port``, from /proc/net."""
    found: list[str] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            address_hex, port_hex = fields[1].split(":")
            if int(port_hex, 16) != port or fields[3] != _TCP_LISTEN:
                continue
            if len(address_hex) == 8:  # IPv4, little-endian
                found.append(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address_hex)[::-1]))
            else:  # IPv6: four little-endian 32-bit words
                raw = b"".join(bytes.fromhex(address_hex[i : i + 8])[::-1] for i in range(0, 32, 8))
                found.append(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def _owner_uid(pid: int) -> int:
    match = re.search(r"^Uid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    assert match
    return int(match.group(1))


def test_server_lifecycle() -> None:
    server = PostgresServer()
    with server:
        pid = server.pid
        base_dir = server.base_dir
        assert pid is not None
        assert server.running
        assert base_dir.is_dir()
        assert server.url() == f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"

        url = server.create_database("appointments_test")
        assert url == server.url("appointments_test")
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                version = conn.execute(sa.text("select version()")).scalar_one()
                assert conn.execute(sa.text("select current_database()")).scalar_one() == "appointments_test"
                assert conn.execute(sa.text("show listen_addresses")).scalar_one() == "127.0.0.1"
                assert conn.execute(sa.text("select host(inet_server_addr())")).scalar_one() == "127.0.0.1"
                assert conn.execute(sa.text("show fsync")).scalar_one() == "off"
        finally:
            engine.dispose()
        match = re.match(r"PostgreSQL (\d+)", version)
        assert match, version
        assert int(match.group(1)) >= postgres.MIN_VERSION, version

        # The only TCP listener on the port is 127.0.0.1 -- nothing on 0.0.0.0, ::, or another interface.
        if Path("/proc/net/tcp").exists():
            assert _listening_addresses(server.port) == ["127.0.0.1"]
        # ... plus a unix socket inside the private temp dir.
        sock = server.socket_dir / f".s.PGSQL.{server.port}"
        assert stat.S_ISSOCK(sock.lstat().st_mode)

        if os.geteuid() == 0:
            assert _owner_uid(pid) != 0, "postgres must run unprivileged when the tests run as root"

        server.drop_database("appointments_test")
        engine = sa.create_engine(server.url())
        try:
            with engine.connect() as conn:
                names = conn.execute(sa.text("select datname from pg_database")).scalars().all()
        finally:
            engine.dispose()
        assert "appointments_test" not in names

    assert not server.running
    assert _process_gone(pid)
    assert not base_dir.exists()
    server.stop()  # idempotent


def test_stop_kills_postmaster_by_pid_when_pg_ctl_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres._Instance, "_pg_ctl_stop", lambda self, timeout: False)
    server = PostgresServer().start()
    pid = server.pid
    base_dir = server.base_dir
    assert pid is not None
    assert server.running

    server.stop()

    assert _process_gone(pid)
    assert not base_dir.exists()


def test_the_cluster_lives_in_memory_when_dev_shm_has_room() -> None:
    """CREATE and DROP DATABASE on this machine's ext4 cost ~0.25 s of system CPU a pair, on tmpfs ~0.02 s."""
    mounts = Path("/proc/mounts").read_text().splitlines()
    shm_is_tmpfs = any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in mounts)
    roomy = shm_is_tmpfs and os.statvfs("/dev/shm").f_bavail * os.statvfs("/dev/shm").f_frsize >= 2 << 30
    with PostgresServer() as server:
        in_memory = server.base_dir.parent == Path("/dev/shm")
        assert in_memory == roomy, (server.base_dir, shm_is_tmpfs)
        server.create_database("on_its_disk")


def test_a_cluster_whose_test_process_was_killed_is_stopped_and_removed_by_the_next_start() -> None:
    """A worker killed by SIGKILL runs no finalizer: its postmaster went on (and its files stayed in memory)."""
    code = (
        "from tests.support.postgres import PostgresServer\n"
        "server = PostgresServer().start()\n"
        "print(server.base_dir, server.pid, flush=True)\n"
        "import time; time.sleep(120)\n"
    )
    root = Path(__file__).resolve().parents[1]
    child = subprocess.Popen([sys.executable, "-c", code], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        base, pid = child.stdout.readline().split()
    finally:
        child.kill()
        child.wait(30)
    base_dir, postmaster = Path(base), int(pid)
    assert base_dir.is_dir() and not _process_gone(postmaster)  # orphaned, still running
    with PostgresServer() as server:
        assert server.base_dir != base_dir
        assert not base_dir.exists()
        deadline = time.monotonic() + 10
        while not _process_gone(postmaster) and _state(postmaster) != "Z" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _process_gone(postmaster) or _state(postmaster) == "Z"  # ended (a zombie until PID 1 reaps it)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return ""
