"""python-caldav 3.x's functional suite and caldav-server-tester against a CalDAV server.

Both run from a virtualenv of their own (``tests/support/caldav_suite_requirements.txt`` says why it
is not ``.venv``), made by ``make caldav-suite-tools`` or ``bench/caldav_conformance.py install``:
the pinned packages from the registry plus caldav's sdist (its ``tests/`` are not in the wheel),
checked against a pinned SHA-256 and unpacked into the venv. Each run copies that source tree,
writes a ``tests/caldav_test_servers.yaml`` with one external server (a *profile*), and runs
``pytest tests/test_caldav.py`` in it with only that server enabled; the JUnit XML gives the counts.

Two profiles of our server (docs/caldav-conformance.md explains the mapping):

- ``appointments``: every test's calendar is the fitter's appointment calendar (the suite's own
  ``test-calendar`` setting); MKCALENDAR is declared unsupported *for this profile*, since a client
  cannot create an appointment calendar, so the suite's calendar-creating tests skip here;
- ``home``: the suite creates its calendars in the fitter's calendar home, as on stock Radicale;
  the calendar-creating tests run here.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.support.cli import CLI
from tests.support.processes import free_port, running

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("caldav_suite_requirements.txt")
CALDAV_VERSION = "3.6.0"
#: caldav-3.6.0.tar.gz on PyPI (dual-licensed GPL-3.0-or-later OR Apache-2.0; we only run it).
CALDAV_SDIST_SHA256 = "f74deecf1b7f1a56ffc20a739f28d2c02e7ddbc40bb59bf9f65a3af58e8aef1d"
DEFAULT_TOOLS_DIR = ROOT / ".venv-caldav-suite"
STAMP = ".installed"

#: Observed on stock Radicale 3.9.0 exactly as on ours (caldav-server-tester 1.7.0); caldav 3.6.0's
#: ``radicale`` profile still says "unsupported" for both (measured on Radicale 3.8).
RADICALE_39 = {
    "search.text.case-sensitive": {"support": "full"},
    "save-load.mutable.if-match-wildcard": {"support": "full"},
}

#: Tests the runs leave out, with the reason (docs/caldav-conformance.md).
DESELECTED = {
    "testCheckCompatibility": (
        "runs caldav-server-tester and compares it with the library's hand-written radicale profile, "
        "which predates Radicale 3.9.0; the tester runs on its own instead, on our appointment calendar "
        "and on stock Radicale 3.9.0, compared feature by feature"
    ),
}


def tools_dir() -> Path:
    return Path(os.environ.get("CALDAV_SUITE_VENV") or DEFAULT_TOOLS_DIR)


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes() + CALDAV_SDIST_SHA256.encode()).hexdigest()


@dataclass(frozen=True)
class Tools:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def source(self) -> Path:
        return self.root / "src" / f"caldav-{CALDAV_VERSION}"


def find_tools(root: Path | None = None) -> Tools | None:
    """The installed tools, or None if missing or installed from other pins."""
    tools = Tools(root or tools_dir())
    stamp = tools.root / STAMP
    if not stamp.is_file() or stamp.read_text().strip() != _requirements_digest():
        return None
    if not tools.python.exists() or not (tools.source / "tests" / "test_caldav.py").is_file():
        return None
    return tools


def install_tools(root: Path | None = None, python: str = sys.executable) -> Tools:
    """Make the venv from the registry: the pinned packages and caldav's verified sdist."""
    tools = Tools(root or tools_dir())
    if find_tools(tools.root):
        (tools.root / STAMP).touch()  # newer than what make compares it with
        return tools
    # uv, as the Makefile installs .venv (31 s with pip on the CI machine, on the path to the first test). Compiled
    # as installed (4 s, on every core): the suite's processes run without writing bytecode (``_clean_env``), and
    # each compiled what it imported again, 1.3 s of CPU a process.
    uv = Path(python).parent / "uv"
    if not uv.is_file():
        raise RuntimeError(f"{uv} is missing: `make install-test` installs it")
    subprocess.run([str(uv), "venv", "--quiet", "--clear", "--python", python, str(tools.root)], check=True)
    install = [str(uv), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(tools.python)]
    subprocess.run([*install, "-r", str(REQUIREMENTS)], check=True)
    with tempfile.TemporaryDirectory() as tmp:  # uv downloads no sdist on its own: pip (of ``python``) does
        pip = [python, "-m", "pip", "--disable-pip-version-check", "--quiet"]
        subprocess.run(
            [*pip, "download", "--no-deps", "--no-binary", ":all:", "-d", tmp, f"caldav=={CALDAV_VERSION}"],
            check=True,
        )
        sdist = Path(tmp) / f"caldav-{CALDAV_VERSION}.tar.gz"
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != CALDAV_SDIST_SHA256:
            raise RuntimeError(f"{sdist.name}: SHA-256 {digest}, expected {CALDAV_SDIST_SHA256}")
        shutil.rmtree(tools.source, ignore_errors=True)
        tools.source.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist) as tar:
            tar.extractall(tools.source.parent, filter="data")
    (tools.root / STAMP).write_text(_requirements_digest() + "\n")
    return tools


# ---------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Account:
    base_url: str  # the server's DAV root, with trailing slash
    username: str
    password: str


def appointment_features(calendar_url: str) -> dict[str, Any]:
    """Radicale's profile, every test in ``calendar_url`` (an appointment calendar of the account)."""
    return {
        "base": "radicale",
        **RADICALE_39,
        "get-current-user-principal.has-calendar": {"value": True},
        "create-calendar": {
            "support": "unsupported",
            "behaviour": "appointment calendars are provisioned by the service; "
            "calendars a client creates are plain calendars (the home profile)",
        },
        "test-calendar": {"cal_url": calendar_url},
    }


def home_features() -> dict[str, Any]:
    """Radicale's profile: the suite creates its calendars in the account's calendar home."""
    return {"base": "radicale", **RADICALE_39, "get-current-user-principal.has-calendar": {"value": True}}


def _server_yaml(name: str, account: Account, features: Mapping[str, Any]) -> str:
    # JSON is YAML: no need for a YAML writer in .venv.
    config = {
        "test-servers": {
            name: {
                "type": "external",
                "enabled": True,
                "url": account.base_url,
                "username": account.username,
                "password": account.password,
                "features": dict(features),
            }
        }
    }
    return json.dumps(config, indent=2)


# ---------------------------------------------------------------------------- the functional suite


@dataclass
class SuiteResult:
    profile: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # test -> message (failures and errors)
    skipped: dict[str, str] = field(default_factory=dict)  # test -> reason
    deselected: dict[str, str] = field(default_factory=dict)
    wall: float = 0.0
    output: str = ""

    def summary(self) -> str:
        return (
            f"{self.profile}: {len(self.passed)} passed, {len(self.failed)} failed, {len(self.skipped)} skipped, "
            f"{len(self.deselected)} deselected in {self.wall:.0f} s"
        )


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CALDAV_", "PYTEST", "VIRTUAL_ENV"))}
    env.update(
        HOME=str(home),
        TMPDIR=str(home),
        PYTHON_CALDAV_TEST_EMBEDDED="0",
        PYTHON_CALDAV_TEST_DOCKER="0",
        PYTHONDONTWRITEBYTECODE="1",
    )
    # the servers are on loopback: never through a proxy the environment may name for the registry
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, [env.get(name), "127.0.0.1", "localhost"]))
    return env


def parse_junit(path: Path, result: SuiteResult) -> None:
    for case in ET.parse(path).iter("testcase"):
        name = case.get("name", "?")
        outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            result.passed.append(name)
        elif outcome.tag == "skipped":
            result.skipped[name] = outcome.get("message", "")
        else:
            result.failed[name] = (outcome.get("message") or "") + "\n" + (outcome.text or "")[-3000:]


def run_functional_suite(
    tools: Tools,
    account: Account,
    features: Mapping[str, Any],
    workdir: Path,
    *,
    profile: str,
    deselect: Mapping[str, str] = DESELECTED,
    timeout: float = 1200,
) -> SuiteResult:
    """Run caldav's ``tests/test_caldav.py`` against ``account`` with ``features`` (one server)."""
    tree = workdir / f"caldav-{profile}"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(tools.source, tree, ignore=shutil.ignore_patterns("docs", "examples", "__pycache__"))
    (tree / "tests" / "caldav_test_servers.yaml").write_text(_server_yaml(profile, account, features))
    home = workdir / f"home-{profile}"
    home.mkdir(parents=True, exist_ok=True)
    junit = workdir / f"junit-{profile}.xml"
    keyword = f"TestForServer{profile}" + "".join(f" and not {name}" for name in deselect)
    cmd = [
        str(tools.python), "-m", "pytest", "tests/test_caldav.py", "-k", keyword, "-p", "no:cacheprovider",
        "-o", "asyncio_default_fixture_loop_scope=function", "-q", "-rfEs", f"--junitxml={junit}",
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=tree, env=_clean_env(home), capture_output=True, text=True, timeout=timeout, check=False
    )
    result = SuiteResult(profile, wall=time.monotonic() - started, output=proc.stdout + proc.stderr)
    if not junit.is_file():
        raise RuntimeError(f"the suite did not run (exit {proc.returncode}):\n{result.output[-4000:]}")
    parse_junit(junit, result)
    result.deselected = dict(deselect)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"pytest exit {proc.returncode}:\n{result.output[-4000:]}")
    return result


# ---------------------------------------------------------------------------- caldav-server-tester

#: Support levels from best to worst (caldav.compatibility_hints); "unknown" is no claim either way.
SUPPORT_RANK = {"full": 5, "quirk": 4, "fragile": 3, "ungraceful": 2, "unsupported": 1, "broken": 0}


def run_server_tester(tools: Tools, account: Account, calendar_name: str, workdir: Path, timeout: float = 900) -> dict:
    """caldav-server-tester's observations (every probed feature) on the calendar named ``calendar_name``."""
    home = workdir / f"home-tester-{abs(hash(account.base_url))}"
    home.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(tools.python), "-m", "caldav_server_tester.caldav_server_tester",
        "--caldav-url", account.base_url, "--caldav-username", account.username,
        "--caldav-password", account.password, "--caldav-calendar", calendar_name, "--format", "hints",
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=_clean_env(home), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not proc.stdout.lstrip().startswith("{"):
        raise RuntimeError(f"caldav-server-tester exit {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")
    observed = ast.literal_eval(proc.stdout.strip())
    assert isinstance(observed, dict)
    return observed


def _level(info: Mapping[str, Any] | None) -> str | None:
    if info is None:
        return None
    if "support" in info:
        return str(info["support"])
    if "value" in info or "enable" in info:
        return None
    return "full"  # a feature entry without a level is "full" (caldav.compatibility_hints)


def _is_worse(mine: Mapping[str, Any] | None, theirs: Mapping[str, Any]) -> bool:
    level_s, level_o = _level(theirs), _level(mine)
    if level_s is None:  # a boolean observation: worse only if stock has it and ours has not
        return theirs.get("value") is True and not (mine is not None and mine.get("value") is True)
    if level_s == "unknown":
        return False
    return level_o is None or level_o == "unknown" or SUPPORT_RANK.get(level_o, -1) < SUPPORT_RANK.get(level_s, -1)


def worse_features(ours: Mapping[str, Any], stock: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Features where ``ours`` is worse than ``stock``: a lower support level, unknown or missing where
    stock has a level, or a boolean observation stock has and ours lacks."""
    return {f: (ours.get(f), theirs) for f, theirs in stock.items() if _is_worse(ours.get(f), theirs)}


def better_features(ours: Mapping[str, Any], stock: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {f: (theirs, mine) for f, (mine, theirs) in worse_features(stock, ours).items()}


# ---------------------------------------------------------------------------- stock Radicale


@contextlib.contextmanager
def stock_radicale(folder: Path, username: str, password: str, calendar: str, display_name: str) -> Iterator[Account]:
    """Stock Radicale 3.9.0 (filesystem storage, htpasswd auth) on loopback with one calendar made by
    MKCALENDAR at ``/<username>/<calendar>/`` named ``display_name``; stopped by its PID."""
    folder.mkdir(parents=True, exist_ok=True)
    users = folder / "users"
    users.write_text(f"{username}:{password}\n")
    port = free_port()
    cmd = [
        sys.executable, "-m", "radicale", "--config", "", "--server-hosts", f"127.0.0.1:{port}",
        "--storage-filesystem-folder", str(folder / "collections"), "--auth-type", "htpasswd",
        "--auth-htpasswd-filename", str(users), "--auth-htpasswd-encryption", "plain",
        "--rights-type", "owner_only", "--logging-level", "warning",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}/"
    with running(cmd, base, method="PROPFIND", auth=(username, password)):
        body = (
            '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:set><D:prop><D:displayname>{display_name}</D:displayname></D:prop></D:set></C:mkcalendar>"
        )
        r = requests.request(
            "MKCALENDAR", f"{base}{username}/{calendar}/", data=body, auth=(username, password), timeout=30
        )
        r.raise_for_status()
        yield Account(base, username, password)


@contextlib.contextmanager
def service_process(database_url: str, data_dir: Path) -> Iterator[str]:
    """``appointment-service serve`` on loopback in a process of its own (a migrated database); its
    base URL. The suites run some 3x faster against it than against the app served inside pytest's
    own process (waitress in a thread of a busy interpreter). Stopped by its PID."""
    port = free_port()
    env = {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": database_url,
        "APPOINTMENTS_DATA_DIR": str(data_dir),
        "APPOINTMENTS_LOG_LEVEL": "WARNING",
    }
    cmd = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "8"]
    base = f"http://127.0.0.1:{port}"
    with running(cmd, base + "/healthz", env=env, cwd=ROOT):
        yield base


def display_name(url: str, auth: tuple[str, str]) -> str:
    body = '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><displayname/></prop></propfind>'
    r = requests.request("PROPFIND", url, data=body, auth=auth, headers={"Depth": "0"}, timeout=30)
    r.raise_for_status()
    node = ET.fromstring(r.content).find(".//{DAV:}displayname")
    if node is None or not node.text:
        raise RuntimeError(f"{url} has no display name")
    return node.text
