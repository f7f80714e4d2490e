"""The Dockerfile and the lock file it installs from (the image itself cannot be built here: no Docker engine)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
LOCK = (ROOT / "requirements.lock").read_text(encoding="utf-8")


def _setup() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return parser


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_base_image_is_pinned_by_digest() -> None:
    (base,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, re.M)
    assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", base), base


def test_dependencies_come_from_the_lock_with_hashes() -> None:
    assert re.search(r"pip install [^\n]*--require-hashes[^\n]*-r requirements\.lock", DOCKERFILE)
    assert re.search(r"pip install [^\n]*--no-deps \.", DOCKERFILE)  # the service itself adds nothing unpinned
    pinned = {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)==\S+ \\$", LOCK, re.M)}
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", LOCK)) >= len(pinned) > 20
    options = _setup()["options"]
    wanted = [_name(r) for r in options["install_requires"].strip().splitlines()]
    wanted += [_name(r) for r in _setup()["options.extras_require"]["postgres"].strip().splitlines()]
    assert not [w for w in wanted if w not in pinned], "requirements.lock is stale: run `make lock`"


def test_the_data_directory_is_a_volume_and_every_package_is_copied() -> None:
    data_dir = re.search(r"APPOINTMENTS_DATA_DIR=(\S+)", DOCKERFILE)
    assert data_dir is not None
    assert re.search(rf'^VOLUME \["{re.escape(data_dir.group(1))}"\]', DOCKERFILE, re.M)
    packages = [p for p in _setup()["options.packages.find"]["include"].split() if "*" not in p]
    assert packages and all(re.search(rf"^COPY {p} \./{p}$", DOCKERFILE, re.M) for p in packages), packages
