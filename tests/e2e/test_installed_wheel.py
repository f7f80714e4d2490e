"""The package as it ships: a wheel built from the source tree, installed in a fresh virtualenv outside
it, serves (``/healthz``, the root page) with no file of the checkout on its path.

Slow (it builds a wheel and installs the locked dependencies: 12-30 s); ``make test`` runs it. The dependencies
come from ``requirements.lock`` (hash-checked, as the Docker image installs them), through uv's usual index and
cache; the wheel is built and installed by pip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
import requests

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(*command: str, cwd: Path) -> None:
    """An installer's command (pip of this interpreter, or uv beside it), which must succeed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _pip(*args: str, cwd: Path) -> None:
    _run(sys.executable, "-m", "pip", "--disable-pip-version-check", *args, cwd=cwd)


def test_the_wheel_installed_outside_the_source_tree_serves(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(ROOT), cwd=tmp_path)
    (wheel,) = wheels.glob("appointment_service-*.whl")
    env_dir = tmp_path / "venv"
    # A virtualenv without pip of its own, installed into by this interpreter's pip (``--python``), and no
    # byte-compiling of every installed file: the server compiles what it imports. Without ensurepip and that
    # compiling the test costs 20 s of CPU instead of 34.
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # The locked dependencies, hash-checked, by uv (as make installs .venv: pip took 15 s of CPU more); the wheel
    # by pip, as the image installs it.
    uv = str(Path(sys.executable).parent / "uv")
    locked = ("--no-deps", "--require-hashes", "-r", str(ROOT / "requirements.lock"))
    _run(uv, "pip", "install", "--quiet", "--python", str(python), *locked, cwd=tmp_path)
    _pip("--python", str(python), "install", "--quiet", "--no-deps", "--no-compile", str(wheel), cwd=tmp_path)

    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_") and k != "PYTHONPATH"}
    env["APPOINTMENTS_DATA_DIR"] = str(run_dir / "data")
    where = subprocess.run(
        [str(python), "-c", "import feeds, caldav_bridge; print(feeds.__file__); print(caldav_bridge.__file__)"],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(env_dir)) for line in where.stdout.split()), where.stdout  # not the checkout

    port = free_port()
    server = subprocess.Popen(
        [str(env_dir / "bin" / "appointment-service"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=run_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert health is not None and health.status_code == 200, server.stdout.read() if server.stdout else ""
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200  # migrations shipped
        root = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert root.status_code == 200 and "text/html" in root.headers["Content-Type"]  # templates shipped
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
