"""A command run as root against the service's data leaves nothing the service's user cannot open.

The service runs as its own user; an operator may well run ``appointment-service demo`` or ``appointments list``
from a root shell. Every file those make (the reads' audit spool, the write-turn lock files, the keys, the feed
change slots) is 0600: made root's, the service's fold, writers or start could not open it. So what root makes in
the data directory takes the owner of the directory it is made in, as SQLite does for its own side files
(``caldav_bridge/store/private_files.py``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from caldav_bridge.store.private_files import private_dir, private_file, private_once, write_private
from tests.support.cli import in_process

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a file another user owns")


@pytest.fixture
def service_user() -> pwd.struct_passwd:
    return pwd.getpwnam("nobody")


@pytest.fixture
def service_home(service_user: pwd.struct_passwd) -> Iterator[Path]:
    """A directory of the service's user that it can reach (``/tmp``; pytest's own is root's and 0700)."""
    home = Path(tempfile.mkdtemp(prefix="appointments-service-user-"))
    try:
        os.chown(home, service_user.pw_uid, service_user.pw_gid)
        yield home
    finally:
        shutil.rmtree(home)


def _as_user(user: pwd.struct_passwd, script: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", script, "sh", *map(str, paths)],
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@ROOT_ONLY
def test_what_root_commands_make_the_service_user_can_open(service_user: pwd.struct_passwd, service_home: Path) -> None:
    data = service_home / "var"
    env = {"APPOINTMENTS_DATA_DIR": str(data), "APPOINTMENTS_LOG_LEVEL": "WARNING"}
    assert in_process(["demo", "--json"], env).returncode == 0
    listed = in_process(["appointments", "list", "--limit", "2", "--json"], env)  # a read: its audit is spooled
    assert listed.returncode == 0, listed.stderr

    made = sorted(data.rglob("*"))
    names = {path.name for path in made}
    assert {"appointments.db", "appointments.db-writer.lock", "secret_key", "demo-secrets.seed"} <= names, names
    assert any(name.startswith("reads-") for name in names), names
    assert any(name.startswith("feed-changes-") for name in names), names
    for path in [data, *made]:
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (service_user.pw_uid, service_user.pw_gid), path
        assert stat.S_IMODE(info.st_mode) == (0o700 if path.is_dir() else 0o600), path
    files = [path for path in made if path.is_file()]
    opened = _as_user(service_user, 'for f; do test -r "$f" -a -w "$f" || { echo "$f"; exit 1; }; done', *files)
    assert opened.returncode == 0, f"the service's user cannot open {opened.stdout.strip()}"


@ROOT_ONLY
def test_the_helpers_as_root_give_new_files_their_directorys_owner(
    service_user: pwd.struct_passwd, service_home: Path
) -> None:
    owner = (service_user.pw_uid, service_user.pw_gid)
    made = [private_dir(service_home / "a" / "b"), private_file(service_home / "a" / "f")]
    write_private(service_home / "c" / "g", b"secret")
    private_once(service_home / "key", b"k")
    made += [service_home / "c", service_home / "c" / "g", service_home / "key", service_home / "a"]
    assert all((p.stat().st_uid, p.stat().st_gid) == owner for p in made), [(p, p.stat().st_uid) for p in made]
    # root's own directory: root's files, as before
    mine = service_home / "root-owned"
    mine.mkdir()
    os.chown(mine, 0, 0)
    assert private_file(mine / "f").stat().st_uid == 0


def test_private_once_writes_once_and_keeps_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret"
    assert private_once(path, b"first") == b"first"
    assert private_once(path, b"second") == b"first"
    assert path.read_bytes() == b"first" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret"]  # no draft left behind


def test_private_once_of_processes_starting_at_once_is_one_value(tmp_path: Path) -> None:
    path, start = tmp_path / "secret", threading.Barrier(8)
    got: list[bytes] = []

    def make(n: int) -> None:
        start.wait()
        got.append(private_once(path, f"value {n}".encode() * 1000))

    threads = [threading.Thread(target=make, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(got) == 8 and len(set(got)) == 1 and got[0] == path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]
