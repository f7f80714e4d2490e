#!/usr/bin/env python3
"""The service under load, with wrk, side by side with peers that return the same bytes, in one run.

For each database (SQLite; PostgreSQL with ``--postgres``) and each way of serving (``--setups``):

- ``waitress``: ``appointment-service serve`` (one process, ``--threads``, default 8); the peer is a minimal Flask
  app on waitress (as many threads);
- ``gunicorn``: ``appointment-service serve --workers N`` (gunicorn, N processes of as many threads); the peer is the
  minimal app under gunicorn with the same workers and threads;
- ``granian``: the service's app under granian (N processes, 8 blocking threads each), the peer likewise.

Each serving process is bound to one CPU, as ``serve`` binds itself by default (``feeds/cli/cpu_affinity.py``), and
the peers alike (waitress under ``taskset``, gunicorn's workers through the same hooks): a fair peer gets what the
service gets. ``--no-cpu-affinity`` runs both unbound.

The peer (``bench/wsgi_apps.py:minimal``) answers the same paths with the bytes the service answered
(a list of 50 appointments, one appointment, a feed of 200 events, its 304), read from files. nginx
(Debian's package) serves the same feed file with its own ETag, for the feeds' ratio to a static server.

Each point runs wrk (``--seconds`` each, 8 clients for the API, 32 for feeds) against a server on 127.0.0.1: the
service, then its peers, ``--rounds`` times in turn (a figure is the median of its rounds), then the next point.
It records requests per second, p99 latency, and the server's CPU per request: utime + stime of the server's
processes (the master and every worker, from /proc) over the run, divided by the requests wrk completed. Every wrk
run must see no error and no non-2xx/3xx answer.

``--baseline REV`` (issue 15's "today" is a74ed5f, the parent of its first commit) also measures that revision
on the same machine in the same run: a detached ``git worktree`` of it in the temporary directory (removed at the
end), a database of its own seeded by its own code (``bench/baseline_seed.py`` run in the worktree), served by its
own ``serve`` (one waitress process, ``--threads``, bound to one CPU with ``taskset`` like the waitress peer), and
run in setup ``waitress``'s rounds of the list of 50 and the single read beside ours and the peer. It prints ours
vs the baseline (throughput ours/baseline, CPU per request baseline/ours, p99 of each) and two more verdicts: the
list at least 10x the baseline's throughput, at most 1/5 of its CPU per request (the issue's 15 -> 3 ms). Where
the baseline cannot be seeded or served on PostgreSQL it says so and is skipped there.

Targets (issue 15): API list of 50 at most 3 ms CPU, >= 450 req/s on SQLite at 8 clients, p99 <= 100 ms,
>= 10% of the peer's throughput; single read >= 30% of the peer's; on PostgreSQL, with both ``gunicorn:1`` and
``gunicorn:2`` run, the API's throughput from one worker to two at least 1.2x (``SCALING``); feed 304 CPU <= 1.3x
the peer's 304, feed 200 CPU <= 2x the peer's 200. The figures are printed as a table (and as JSON with ``--json``);
exit status 0 when every target is met, 1 when one is missed, 2 when the benchmark could not run.

    .venv/bin/python bench/load_bench.py --seconds 10
    .venv/bin/python bench/load_bench.py --postgres --setups waitress gunicorn:1 gunicorn:2 granian:2
    .venv/bin/python bench/load_bench.py --postgres --setups waitress --scenarios 'list 50' 'single read' \\
        --baseline a74ed5f
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.baseline_seed import seed as baseline_seed  # noqa: E402
from bench.servers import free_port  # noqa: E402
from caldav_bridge.model.feeds import FeedTokenDraft  # noqa: E402
from caldav_bridge.runtime import Runtime  # noqa: E402
from caldav_bridge.services import feed_tokens  # noqa: E402
from caldav_bridge.services.actor import system_actor  # noqa: E402
from config import load_settings  # noqa: E402
from feeds.cli import cpu_affinity  # noqa: E402

WRK = shutil.which("wrk") or "/usr/bin/wrk"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
API_CLIENTS, FEED_CLIENTS = 8, 32


class BenchError(Exception):
    pass


@dataclass
class Point:
    database: str
    setup: str
    scenario: str
    server: str  # ours, peer, nginx, baseline (--baseline)
    rps: float
    p99_ms: float
    cpu_ms: float | None  # server CPU per request
    requests: int
    db_cpu_ms: float | None = None  # the database server's CPU per request (ours on PostgreSQL)


# --------------------------------------------------------------------------------------------------- data


def seed(database_url: str, data_dir: Path, appointments_count: int) -> dict[str, str]:
    """A dispatcher's token, a fitter with ``appointments_count`` appointments (1-2 guests each): the baseline's
    data (``bench/baseline_seed.py``, with today's code), and a feed token on the fitter's calendar."""
    seeded = baseline_seed(database_url, data_dir, appointments_count)
    rt = Runtime.from_settings(load_settings(environ={}, database_url=database_url, data_dir=str(data_dir)))
    try:
        draft = FeedTokenDraft(name="bench")
        issued = feed_tokens.issue(rt.uow(), system_actor(), seeded["calendar"], draft, "http://x")
        if issued.secret is None:
            raise BenchError("the feed token was issued without its secret")
        return {"token": seeded["token"], "appointment": seeded["appointment"], "feed": issued.secret}
    finally:
        rt.close()


# ------------------------------------------------------------------------------------------------ processes


@dataclass(eq=False)
class Proc:
    popen: subprocess.Popen[bytes]
    base: str
    log: Path

    def cpu(self) -> float:
        """CPU seconds (user + system) of this process and every descendant now running."""
        return tree_cpu(self.popen.pid)

    def stop(self) -> None:
        """SIGTERM to this process (its own session), SIGKILL to it after 15 s; always reaped."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=15)


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of process ``root`` and every descendant now running, and of the children
    ``root`` has reaped (PostgreSQL's backends end with their connections: their CPU is then the postmaster's)."""
    total = 0.0
    for pid in _tree(root):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += sum(int(f) for f in fields[11 : 15 if pid == root else 13]) / CLK_TCK
    return total


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


@contextlib.contextmanager
def started(command: list[str], env: dict[str, str], ready: str, log: Path, cwd: Path = ROOT) -> Iterator[Proc]:
    port = free_port()
    command = [c.replace("{port}", str(port)) for c in command]
    with log.open("ab") as out:
        popen = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc = Proc(popen, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if popen.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{command[:4]} did not start:\n" + log.read_text(errors="replace")[-3000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(proc.base + ready, timeout=2).status_code < 500:
                    break
            time.sleep(0.2)
        yield proc
    finally:
        proc.stop()


def ours_command(setup: str, bind_cpus: bool = True, threads: int = 8) -> list[str]:
    """``serve`` as ``setup`` says (``threads`` a process); with ``bind_cpus`` (serve's default) each process bound
    to one CPU."""
    kind, _, workers = setup.partition(":")
    python = [sys.executable, "-m", "feeds.cli", "serve", "--no-migrate", "--host", "127.0.0.1", "--port", "{port}"]
    if not bind_cpus:
        python.append("--no-cpu-affinity")
    if kind == "waitress":
        return [*python, "--threads", str(threads)]
    if kind == "gunicorn":  # serve's own multi-process mode (gunicorn), also with one worker
        if workers == "1":
            return [
                str(BIN / "gunicorn"),
                "-b",
                "127.0.0.1:{port}",
                "-w",
                "1",
                "-k",
                "gthread",
                "--threads",
                str(threads),
                "--reuse-port",
                *_gunicorn_binding(bind_cpus),
                "bench.wsgi_apps:ours()",
            ]
        return [*python, "--workers", workers, "--threads", str(threads)]
    return _granian(workers, "bench.wsgi_apps:ours", threads)


def peer_command(setup: str, bind_cpus: bool = True, threads: int = 8) -> list[str]:
    """The minimal app served as ``setup`` says (``threads`` a process), bound to CPUs as ``serve`` binds itself
    with ``bind_cpus``."""
    kind, _, workers = setup.partition(":")
    if kind == "waitress":
        return [
            *_taskset(bind_cpus),
            str(BIN / "waitress-serve"),
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--threads",
            str(threads),
            "--call",
            "bench.wsgi_apps:minimal",
        ]
    if kind == "gunicorn":
        return [
            str(BIN / "gunicorn"),
            "-b",
            "127.0.0.1:{port}",
            "-w",
            workers,
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "--reuse-port",  # as serve --workers listens (feeds/cli/workers.py)
            *_gunicorn_binding(bind_cpus),
            "bench.wsgi_apps:minimal()",
        ]
    return _granian(workers, "bench.wsgi_apps:minimal", threads)


def baseline_command(bind_cpus: bool = True, threads: int = 8) -> list[str]:
    """``--baseline``'s ``serve`` (run in the revision's worktree): one waitress process of ``threads`` threads,
    bound to one CPU as the waitress peer is (that ``serve`` may not bind itself: a74ed5f has no affinity, nor
    ``--no-cpu-affinity``)."""
    python = [sys.executable, "-m", "feeds.cli", "serve", "--no-migrate", "--host", "127.0.0.1", "--port", "{port}"]
    return [*_taskset(bind_cpus), *python, "--threads", str(threads)]


def _taskset(bind_cpus: bool) -> list[str]:
    """``taskset`` binding a process to the first allowed CPU, with ``bind_cpus`` on a machine of several."""
    cpus = cpu_affinity.allowed_cpus()
    return ["taskset", "--cpu-list", str(cpus[0])] if bind_cpus and len(cpus) > 1 else []


def _gunicorn_binding(bind_cpus: bool) -> list[str]:
    """gunicorn's options binding each worker to a CPU of its own, as ``serve --workers N`` does."""
    return ["--config", "python:feeds.cli.cpu_affinity"] if bind_cpus else []


def _granian(workers: str, target: str, threads: int) -> list[str]:
    return [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        workers,
        "--blocking-threads",
        str(threads),
        "--no-log",
        "--factory",
        target,
    ]


@contextlib.contextmanager
def nginx(folder: Path, log: Path) -> Iterator[Proc]:
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(
        f"daemon off; worker_processes 2; pid {folder}/nginx.pid; error_log {folder}/nginx-error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy;\n"
        f"  fastcgi_temp_path {folder}/fcgi; uwsgi_temp_path {folder}/uwsgi; scgi_temp_path {folder}/scgi;\n"
        f"  server {{ listen 127.0.0.1:{port}; root {folder}/static; etag on;\n"
        "    location / { default_type text/calendar; } } }\n"
    )
    with log.open("ab") as out:
        popen = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(folder)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    proc = Proc(popen, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 20
        while True:
            if popen.poll() is not None or time.monotonic() > deadline:
                errors = (folder / "nginx-error.log").read_text(errors="replace")
                raise BenchError("nginx did not start: " + errors[-2000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(proc.base + "/feed.ics", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield proc
    finally:
        proc.stop()


# ------------------------------------------------------------------------------------------------------ wrk


def wrk(
    proc: Proc, path: str, clients: int, seconds: float, headers: dict[str, str], database_pid: int | None = None
) -> tuple[float, float, float, int, float | None]:
    """(requests/s, p99 ms, server CPU ms per request, requests, the database server's CPU ms per request: None
    without ``database_pid``) of one wrk run."""
    command = [WRK, "-t", "2", "-c", str(clients), "-d", f"{seconds:g}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    before, database_before = proc.cpu(), tree_cpu(database_pid) if database_pid else 0.0
    out = subprocess.run([*command, proc.base + path], capture_output=True, text=True, timeout=seconds + 60).stdout
    cpu = proc.cpu() - before
    database_cpu = tree_cpu(database_pid) - database_before if database_pid else None
    if "Non-2xx or 3xx" in out or "Socket errors" in out:
        raise BenchError(f"wrk saw errors on {proc.base}{path}:\n{out}")
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    per_request = 1000 / max(done, 1)
    return rps, p99, cpu * per_request, done, None if database_cpu is None else database_cpu * per_request


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


# ------------------------------------------------------------------------------------------------- baseline


@dataclass(frozen=True)
class Baseline:
    """``--baseline REV`` on one database: the revision (short hash), its worktree, its own database and what its
    own code seeded there (a read token, an appointment's id)."""

    label: str
    tree: Path
    url: str
    data_dir: Path
    seeded: dict[str, str]


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"git {' '.join(args)} took more than 300 s") from exc
    if done.returncode:
        raise BenchError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


@contextlib.contextmanager
def baseline_tree(rev: str, folder: Path) -> Iterator[tuple[str, Path]]:
    """(short hash, path) of a detached worktree of ``rev`` in ``folder``; removed and pruned on the way out, also
    on an error or Ctrl-C."""
    try:
        commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    except BenchError as exc:
        raise BenchError(f"--baseline {rev}: not a commit of {ROOT}'s repository ({exc})") from exc
    tree = folder / "baseline-tree"
    try:
        _git("worktree", "add", "--detach", str(tree), commit)
        yield _git("rev-parse", "--short", commit), tree
    finally:
        with contextlib.suppress(BenchError):
            _git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(tree, ignore_errors=True)
        with contextlib.suppress(BenchError):
            _git("worktree", "prune")


def _baseline_env(tree: Path) -> dict[str, str]:
    """The environment of the baseline's processes: its worktree first on the path (they run in it, too)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_")}
    env["PYTHONPATH"] = str(tree)
    return env


def seed_baseline(label: str, tree: Path, database: str, url: str, data_dir: Path, count: int) -> Baseline | None:
    """``url`` seeded with the baseline's own code (``bench/baseline_seed.py`` run in its worktree, which must be
    what it imports). A failure skips the baseline on PostgreSQL (None, said) and stops the benchmark on SQLite."""
    command = [sys.executable, str(ROOT / "bench" / "baseline_seed.py"), url, str(data_dir), str(count)]
    try:
        done = subprocess.run(command, cwd=tree, env=_baseline_env(tree), capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        _baseline_failed(database, label, "its seeding took more than 900 s")
        return None
    if done.returncode:
        _baseline_failed(database, label, f"its seeding failed:\n{done.stderr[-3000:]}")
        return None
    seeded = json.loads(done.stdout.strip().splitlines()[-1])
    for module in ("caldav_bridge", "feeds"):
        if not Path(seeded[module]).resolve().is_relative_to(tree.resolve()):
            raise BenchError(f"the baseline's seeding imported {module} from {seeded[module]}, not from {tree}")
    return Baseline(label, tree, url, data_dir, {"token": seeded["token"], "appointment": seeded["appointment"]})


def _baseline_failed(database: str, label: str, reason: str) -> None:
    """Stops the benchmark on SQLite; on PostgreSQL says the baseline is skipped there (ours and the peers run)."""
    if database != "postgresql":
        raise BenchError(f"the baseline {label} could not be served on {database}: {reason}")
    lines = [line for line in reason.splitlines() if line.strip()] or ["?"]
    errors = [line for line in lines if re.match(r"[\w.-]+: ", line)]  # "psycopg.OperationalError: ..."
    summary = (errors or lines)[-1]
    print(f"baseline {label} cannot be served on postgresql, SKIPPED there (ours and the peers still run): {summary}")
    print("".join(f"    {line}\n" for line in lines[-12:]), end="", flush=True)


def _start_baseline(
    stack: contextlib.ExitStack, baseline: Baseline, database: str, tmp: Path, options: RunOptions
) -> Proc | None:
    """The baseline's ``serve`` (in its worktree, on its database) in ``stack``, its list of 50 and single read
    checked; None where it cannot be served on PostgreSQL (said)."""
    env = _baseline_env(baseline.tree)
    env.update(
        APPOINTMENTS_DATABASE_URL=baseline.url,
        APPOINTMENTS_DATA_DIR=str(baseline.data_dir),
        APPOINTMENTS_FEED_RATE_LIMIT_PER_MINUTE="1000000",
        APPOINTMENTS_LOG_LEVEL="WARNING",
        APPOINTMENTS_JOBS_IN_SERVE="true" if options.jobs else "false",
    )
    command, log = baseline_command(options.bind_cpus, options.threads), tmp / f"baseline-{database}.log"
    with contextlib.ExitStack() as own:
        try:
            proc = own.enter_context(started(command, env, "/healthz", log, cwd=baseline.tree))
            _check_api(proc, baseline.seeded)
        except BenchError as exc:
            _baseline_failed(database, baseline.label, str(exc))
            return None
        stack.enter_context(own.pop_all())
    return proc


def _check_api(proc: Proc, seeded: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {seeded['token']}"}
    listed = requests.get(proc.base + "/api/v1/appointments?limit=50", headers=auth, timeout=30)
    one = requests.get(f"{proc.base}/api/v1/appointments/{seeded['appointment']}", headers=auth, timeout=30)
    for answer in (listed, one):
        if answer.status_code != 200:
            raise BenchError(f"{answer.url}: {answer.status_code} {answer.text[:300]}")
    if len(listed.json()["items"]) != 50:
        raise BenchError("the list did not hold 50 appointments")


def _add_baseline(
    scenarios: dict[str, tuple[int, Targets]], names: dict[Proc, str], proc: Proc, seeded: dict[str, str]
) -> None:
    """The baseline's turn in the API scenarios' rounds, after ours and the peer."""
    auth = {"Authorization": f"Bearer {seeded['token']}"}
    scenarios["list 50"][1][proc] = ("/api/v1/appointments?limit=50", auth)
    scenarios["single read"][1][proc] = (f"/api/v1/appointments/{seeded['appointment']}", auth)
    names[proc] = "baseline"


# ------------------------------------------------------------------------------------------------------ run


SCENARIOS = ("list 50", "single read", "feed 200", "feed 304")


@dataclass(frozen=True)
class RunOptions:
    """How each point runs: wrk's seconds and rounds, threads a serving process, CPU binding, whether the
    service runs its background jobs, which scenarios, and the database server's PID (its CPU is measured)."""

    seconds: float = 10
    rounds: int = 1
    threads: int = 8
    bind_cpus: bool = True
    jobs: bool = True
    scenarios: tuple[str, ...] = SCENARIOS
    database_pid: int | None = None
    baseline: Baseline | None = None  # --baseline on this database (with setup waitress)


#: The servers of one scenario and what each is asked: path and headers.
Targets = dict[Proc, tuple[str, dict[str, str]]]


def run_setup(
    database: str, url: str, data_dir: Path, seeded: dict[str, str], setup: str, tmp: Path, options: RunOptions
) -> list[Point]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_")}
    env.update(
        APPOINTMENTS_DATABASE_URL=url,
        APPOINTMENTS_DATA_DIR=str(data_dir),
        APPOINTMENTS_FEED_RATE_LIMIT_PER_MINUTE="1000000",
        APPOINTMENTS_LOG_LEVEL="WARNING",
        APPOINTMENTS_JOBS_IN_SERVE="true" if options.jobs else "false",
        PYTHONPATH=str(ROOT),
    )
    auth = {"Authorization": f"Bearer {seeded['token']}"}
    one_path, feed_path = f"/api/v1/appointments/{seeded['appointment']}", f"/feeds/{seeded['feed']}.ics"
    bind_cpus, threads = options.bind_cpus, options.threads
    with started(ours_command(setup, bind_cpus, threads), env, "/healthz", tmp / f"ours-{setup}.log") as ours:
        folder = tmp / "bytes"
        (folder / "static").mkdir(parents=True, exist_ok=True)
        listed = requests.get(ours.base + "/api/v1/appointments?limit=50", headers=auth, timeout=30)
        one = requests.get(ours.base + one_path, headers=auth, timeout=30)
        feed = requests.get(ours.base + feed_path, headers={"Accept-Encoding": "identity"}, timeout=60)
        for answer in (listed, one, feed):
            if answer.status_code != 200:
                raise BenchError(f"{answer.url}: {answer.status_code} {answer.text[:300]}")
        if len(listed.json()["items"]) != 50:
            raise BenchError("the list did not hold 50 appointments")
        (folder / "list.json").write_bytes(listed.content)
        (folder / "one.json").write_bytes(one.content)
        (folder / "feed.ics").write_bytes(feed.content)
        (folder / "static" / "feed.ics").write_bytes(feed.content)
        (folder / "feed.etag").write_text(feed.headers["ETag"])
        for path in (folder, folder / "static", *folder.iterdir(), *(folder / "static").iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)  # nginx's workers run as another user
        peer_env = {**env, "LOAD_BENCH_BYTES": str(folder)}
        with (
            started(
                peer_command(setup, bind_cpus, threads), peer_env, "/feeds/feed.ics", tmp / f"peer-{setup}.log"
            ) as peer,
            nginx(folder, tmp / "nginx.log") as static,
            contextlib.ExitStack() as stack,
        ):
            static_etag = requests.get(static.base + "/feed.ics", timeout=10).headers["ETag"]
            scenarios: dict[str, tuple[int, Targets]] = {
                "list 50": (
                    API_CLIENTS,
                    {ours: ("/api/v1/appointments?limit=50", auth), peer: ("/api/v1/appointments", {})},
                ),
                "single read": (API_CLIENTS, {ours: (one_path, auth), peer: ("/api/v1/appointments/one", {})}),
                "feed 200": (
                    FEED_CLIENTS,
                    {
                        ours: (feed_path, {"Accept-Encoding": "identity"}),
                        peer: ("/feeds/feed.ics", {}),
                        static: ("/feed.ics", {}),
                    },
                ),
                "feed 304": (
                    FEED_CLIENTS,
                    {
                        ours: (feed_path, {"If-None-Match": feed.headers["ETag"]}),
                        peer: ("/feeds/feed.ics", {"If-None-Match": feed.headers["ETag"]}),
                        static: ("/feed.ics", {"If-None-Match": static_etag}),
                    },
                ),
            }
            names = {ours: "ours", peer: "peer", static: "nginx"}
            if options.baseline is not None and setup == "waitress":
                base = _start_baseline(stack, options.baseline, database, tmp, options)
                if base is not None:
                    _add_baseline(scenarios, names, base, options.baseline.seeded)
            return [
                point
                for scenario in options.scenarios
                for point in _run_scenario(database, setup, scenario, *scenarios[scenario], names, options)
            ]


def _run_scenario(
    database: str,
    setup: str,
    scenario: str,
    clients: int,
    targets: Targets,
    names: dict[Proc, str],
    options: RunOptions,
) -> list[Point]:
    """One scenario's points: each server in ``targets`` runs wrk ``options.rounds`` times, taking turns, so a
    noisy moment does not land on one alone; a figure is the median of its rounds. The database's CPU is ours (and
    the baseline's)."""
    runs: dict[Proc, list[tuple[float, float, float, int, float | None]]] = {proc: [] for proc in targets}
    for _ in range(options.rounds):
        for proc, (url_path, headers) in targets.items():
            database_pid = options.database_pid if names[proc] in ("ours", "baseline") else None
            runs[proc].append(wrk(proc, url_path, clients, options.seconds, headers, database_pid))
            rps, p99, cpu, _done, database_cpu = runs[proc][-1]
            shown_cpu = cpu if names[proc] != "nginx" else float("nan")
            line = f"  {database:10} {setup:11} {scenario:11} {names[proc]:5} {rps:9.0f} req/s  p99 {p99:7.1f} ms"
            line += f"  cpu {shown_cpu:6.3f} ms/req"
            print(line + (f"  database {database_cpu:6.3f} ms/req" if database_cpu is not None else ""), flush=True)
    points = []
    for proc, measured in runs.items():
        rps = statistics.median(run[0] for run in measured)
        p99 = statistics.median(run[1] for run in measured)
        cpu = statistics.median(run[2] for run in measured)
        database_cpus = [run[4] for run in measured if run[4] is not None]
        points.append(
            Point(
                database,
                setup,
                scenario,
                names[proc],
                rps,
                p99,
                None if names[proc] == "nginx" else cpu,
                sum(run[3] for run in measured),
                statistics.median(database_cpus) if database_cpus else None,
            )
        )
    return points


def verdicts(points: list[Point]) -> list[tuple[str, bool]]:
    found: list[tuple[str, bool]] = []
    by = {(p.database, p.setup, p.scenario, p.server): p for p in points}
    for (database, setup, scenario, server), p in by.items():
        if server != "ours":
            continue
        peer = by[(database, setup, scenario, "peer")]
        label = f"{database} {setup} {scenario}"
        if scenario == "list 50":
            found.append((f"{label}: CPU {p.cpu_ms:.2f} ms <= 3 ms", (p.cpu_ms or 0) <= 3))
            found.append((f"{label}: p99 {p.p99_ms:.0f} ms <= 100 ms", p.p99_ms <= 100))
            found.append((f"{label}: {p.rps / peer.rps:.1%} of the peer >= 10%", p.rps >= 0.1 * peer.rps))
            if database == "sqlite":
                found.append((f"{label}: {p.rps:.0f} req/s >= 450", p.rps >= 450))
        elif scenario == "single read":
            found.append((f"{label}: {p.rps / peer.rps:.1%} of the peer >= 30%", p.rps >= 0.3 * peer.rps))
        elif scenario == "feed 304":
            ratio = (p.cpu_ms or 0) / (peer.cpu_ms or 1)
            found.append((f"{label}: CPU {ratio:.2f}x the peer's <= 1.3x", ratio <= 1.3))
        elif scenario == "feed 200":
            ratio = (p.cpu_ms or 0) / (peer.cpu_ms or 1)
            found.append((f"{label}: CPU {ratio:.2f}x the peer's <= 2x", ratio <= 2))
    return found + _scaling(by)


#: "Scales from 1 to 2 workers" (issue 15, PostgreSQL): the second worker adds at least this share of the first's
#: throughput. Not 2x: on a 2-core machine the database and wrk share the cores with the workers.
SCALING = 1.2


def _scaling(by: dict[tuple[str, str, str, str], Point]) -> list[tuple[str, bool]]:
    """From one worker to two (``gunicorn:1`` and ``gunicorn:2`` both run) on PostgreSQL, for the API scenarios."""
    found = []
    for scenario in ("list 50", "single read"):
        one, two = (
            by.get(("postgresql", "gunicorn:1", scenario, "ours")),
            by.get(("postgresql", "gunicorn:2", scenario, "ours")),
        )
        if one is not None and two is not None:
            gain = two.rps / one.rps
            text = f"postgresql {scenario}: 1 -> 2 workers {one.rps:.0f} -> {two.rps:.0f} req/s"
            found.append((f"{text} ({gain:.2f}x >= {SCALING}x)", gain >= SCALING))
    return found


def table(points: list[Point]) -> str:
    by = {(p.database, p.setup, p.scenario, p.server): p for p in points}
    lines = [
        "| database | setup | scenario | ours req/s | p99 ms | CPU ms/req | database CPU ms/req | peer req/s "
        "| peer CPU ms/req | ours/peer req/s | nginx req/s | ours/nginx |",
        "|" + "---|" * 12,
    ]
    for (database, setup, scenario, server), p in by.items():
        if server != "ours":
            continue
        peer = by[(database, setup, scenario, "peer")]
        static = by.get((database, setup, scenario, "nginx"))
        lines.append(
            f"| {database} | {setup} | {scenario} | {p.rps:.0f} | {p.p99_ms:.1f} | {p.cpu_ms:.2f} "
            f"| {p.db_cpu_ms if p.db_cpu_ms is not None else float('nan'):.2f} | {peer.rps:.0f} "
            f"| {peer.cpu_ms:.2f} | {p.rps / peer.rps:.2f} | {static.rps if static else float('nan'):.0f} "
            f"| {p.rps / static.rps if static else float('nan'):.2f} |"
        )
    return "\n".join(lines)


def baseline_table(points: list[Point], label: str) -> str:
    """Ours next to the baseline (setup waitress): throughput ours/baseline, CPU per request baseline/ours."""
    by = {(p.database, p.scenario, p.server): p for p in points if p.setup == "waitress"}
    lines = [
        f"ours vs the baseline {label} (setup waitress, same machine, same rounds):",
        "",
        "| database | scenario | ours req/s | baseline req/s | ours/baseline req/s | ours CPU ms/req "
        "| baseline CPU ms/req | baseline/ours CPU | ours p99 ms | baseline p99 ms |",
        "|" + "---|" * 10,
    ]
    for (database, scenario, server), ours in by.items():
        if server != "ours" or scenario not in ("list 50", "single read"):
            continue
        base = by.get((database, scenario, "baseline"))
        if base is None:
            lines.append(
                f"| {database} | {scenario} | {ours.rps:.0f} | not measured (see above) | | "
                f"{_cpu(ours):.2f} | | | {ours.p99_ms:.1f} | |"
            )
            continue
        lines.append(
            f"| {database} | {scenario} | {ours.rps:.0f} | {base.rps:.0f} | {ours.rps / base.rps:.2f} "
            f"| {_cpu(ours):.2f} | {_cpu(base):.2f} | {_cpu(base) / _cpu(ours):.2f} | {ours.p99_ms:.1f} "
            f"| {base.p99_ms:.1f} |"
        )
    return "\n".join(lines)


#: Issue 15 against the code before it (its "today", a74ed5f), on the same machine in the same run: the list of 50
#: at least this many times the baseline's throughput ...
BASELINE_THROUGHPUT = 10
#: ... and at most the baseline's CPU per request divided by this (the issue's 15 -> 3 ms).
BASELINE_CPU_CUT = 5


def baseline_verdicts(points: list[Point], label: str) -> list[tuple[str, bool]]:
    """Setup waitress's list of 50, ours vs the baseline, on each database the baseline was measured on."""
    found: list[tuple[str, bool]] = []
    by = {(p.database, p.server): p for p in points if p.setup == "waitress" and p.scenario == "list 50"}
    for (database, server), ours in by.items():
        base = by.get((database, "baseline"))
        if server != "ours" or base is None:
            continue
        text = f"vs baseline {label}: {database} waitress list 50:"
        gain = ours.rps / base.rps
        found.append(
            (
                f"{text} {ours.rps:.0f} vs {base.rps:.0f} req/s, {gain:.1f}x the baseline's >= {BASELINE_THROUGHPUT}x",
                gain >= BASELINE_THROUGHPUT,
            )
        )
        cpu = f"CPU {_cpu(ours):.2f} vs {_cpu(base):.2f} ms/req, 1/{_cpu(base) / _cpu(ours):.1f} of the baseline's"
        found.append((f"{text} {cpu} <= 1/{BASELINE_CPU_CUT}", _cpu(ours) <= _cpu(base) / BASELINE_CPU_CUT))
    return found


def _cpu(point: Point) -> float:
    return point.cpu_ms if point.cpu_ms is not None else float("nan")


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True, help="on SQLite (default)")
    parser.add_argument(
        "--setups",
        nargs="+",
        default=["waitress", "gunicorn:2", "granian:2"],
        help="waitress | gunicorn:N | granian:N (default: waitress gunicorn:2 granian:2)",
    )
    parser.add_argument(
        "--rounds",
        type=_positive,
        default=1,
        help="wrk runs per server and point, taking turns with the other servers; each figure is the median of "
        "the rounds (default 1)",
    )
    parser.add_argument(
        "--threads", type=_positive, default=8, help="threads per serving process, the service's and the peers' (8)"
    )
    parser.add_argument("--appointments", type=int, default=200, help="appointments seeded (default 200)")
    parser.add_argument(
        "--no-cpu-affinity",
        dest="cpu_affinity",
        action="store_false",
        help="run the service (serve --no-cpu-affinity) and the peers free to use any CPU (default: each serving "
        "process bound to one CPU, as serve does, the peers alike; granian is never bound)",
    )
    parser.add_argument(
        "--jobs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the service runs its background jobs while measured, the reads' audit fold among them, as in "
        "production (default); --no-jobs shows what they cost (the staged reads then wait for a later fold)",
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=SCENARIOS,
        default=list(SCENARIOS),
        metavar="SCENARIO",
        help="which to run (default all): " + ", ".join(repr(s) for s in SCENARIOS),
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also serve git revision REV (a detached worktree, seeded and served by its own code: waitress, one "
        "process bound to one CPU) on each database and run it in the same rounds as setup waitress's list 50 and "
        "single read; prints ours vs it as ratios (issue 15's 'today' is a74ed5f). Default: none",
    )
    parser.add_argument("--json", type=Path, help="also write the points as JSON here")
    return parser


def _databases(args: argparse.Namespace, stack: contextlib.ExitStack, tmp: Path) -> list[DatabaseRun]:
    """The databases to run on (a throwaway PostgreSQL server in ``stack`` with ``--postgres``)."""
    databases: list[DatabaseRun] = []
    if args.sqlite:
        baseline_url = f"sqlite:///{tmp / 'baseline.db'}" if args.baseline else None
        databases.append(DatabaseRun("sqlite", f"sqlite:///{tmp / 'bench.db'}", None, baseline_url))
    if args.postgres:
        from tests.support.postgres import PostgresServer

        server = stack.enter_context(PostgresServer())
        url = server.create_database("load_bench")
        baseline_url = server.create_database("load_bench_baseline") if args.baseline else None
        databases.append(DatabaseRun("postgresql", url, server.pid, baseline_url))
    return databases


@dataclass(frozen=True)
class DatabaseRun:
    """A database run on: its name, our URL, its server's PID (PostgreSQL), the baseline's URL (--baseline)."""

    database: str
    url: str
    pid: int | None
    baseline_url: str | None


def _measure(args: argparse.Namespace) -> tuple[list[Point], str | None]:
    """Every point, and the baseline's short hash (None without ``--baseline``). Raises BenchError."""
    points: list[Point] = []
    label: str | None = None
    with tempfile.TemporaryDirectory(prefix="load-bench-") as name, contextlib.ExitStack() as stack:
        tmp = Path(name)
        tmp.chmod(0o711)  # nginx's workers (another user) reach the feed file below it
        tree = tmp / "baseline-tree"
        if args.baseline:
            label, tree = stack.enter_context(baseline_tree(args.baseline, tmp))
            named = args.baseline if label == args.baseline else f"{args.baseline} ({label})"
            print(f"baseline {named} checked out in {tree}", flush=True)
        for run in _databases(args, stack, tmp):
            data_dir = tmp / f"data-{run.database}"
            print(f"seeding {args.appointments} appointments on {run.database} ...", flush=True)
            seeded = seed(run.url, data_dir, args.appointments)
            baseline = None
            if label is not None and run.baseline_url is not None:
                print(f"seeding them on {run.database} for the baseline {label}, with its code ...", flush=True)
                baseline_data = tmp / f"baseline-data-{run.database}"
                baseline = seed_baseline(label, tree, run.database, run.baseline_url, baseline_data, args.appointments)
            options = RunOptions(
                seconds=args.seconds,
                rounds=args.rounds,
                threads=args.threads,
                bind_cpus=args.cpu_affinity,
                jobs=args.jobs,
                scenarios=tuple(args.scenarios),
                database_pid=run.pid,
                baseline=baseline,
            )
            for setup in args.setups:
                points += run_setup(run.database, run.url, data_dir, seeded, setup, tmp, options)
    return points, label


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.baseline and ("waitress" not in args.setups or not {"list 50", "single read"} & set(args.scenarios)):
        parser.error("--baseline needs setup waitress and 'list 50' or 'single read' among the scenarios")
    signal.signal(signal.SIGTERM, _interrupted)  # stop the servers (own sessions) on SIGTERM as on Ctrl-C
    for tool in (WRK, NGINX):
        if not Path(tool).exists():
            print(f"{tool} is missing (Debian: apt-get install wrk nginx-light)", file=sys.stderr)
            return 2
    try:
        points, label = _measure(args)
    except BenchError as exc:
        print(f"benchmark could not run: {exc}", file=sys.stderr)
        return 2
    print()
    print(table(points))
    print()
    if label is not None:
        print(baseline_table(points, label))
        print()
    results = verdicts(points) + (baseline_verdicts(points, label) if label is not None else [])
    for text, ok in results:
        print(f"{'met   ' if ok else 'MISSED'} {text}")
    if args.json:
        args.json.write_text(json.dumps([asdict(p) for p in points], indent=1))
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
