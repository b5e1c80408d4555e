"""The world a chaos run stands up and takes down: a data folder, the servers, the processes.

Embedded: ``omsorgshub serve`` (API, relay and delivery threads in one process) on SQLite in the
data folder. Scaled: ``serve --no-worker``, ``omsorgshub relay`` and a Celery worker (prefork,
two children) on a PostgreSQL database and a RabbitMQ virtual host made for the run and removed
after it. Both: the HTTP double in this process as every destination.

The data folder is a small tmpfs mounted for the run when this process may mount (root), so the
disk-full and read-only faults touch nothing else; where it may not, those faults are skipped
with the reason. Everything made here is undone on exit, whatever happened.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.processes import child_env, free_port
from bench.servers import rabbitmq_vhost
from bench.workload import prepare_hub
from hub.storage.engine import make_engine, reader
from proof.chaos.processes import Supervised
from proof.chaos.stepper import ClockStepper
from proof.chaos.tally import RecordingDouble

# Short leases and retries so a kill or an outage costs seconds, not minutes; attempts and age
# generous enough that a ten-minute outage leaves nothing dead.
HUB_SETTINGS = {
    "lease_seconds": "10",
    "relay_interval": "0.2",
    "relay_batch": "20",
    "retry_base_seconds": "0.5",
    "retry_cap_seconds": "5",
    "retry_max_attempts": "1000",
    "retry_max_age_seconds": "86400",
    "log_level": "WARNING",
}
CELERY_QUEUE = "omsorgshub.deliver"


@dataclass
class Rig:
    mode: str
    folder: Path
    home: Path
    double: RecordingDouble
    token: str
    engine: Engine  # read-only view of the hub's database, for the counts
    env: dict[str, str]  # of `omsorgshub` commands; the hub processes' adds the clock's
    url: str  # serve's base URL
    clock: ClockStepper
    processes: dict[str, Supervised] = field(default_factory=dict)
    mounted: bool = False
    mount_problem: str = ""
    database_name: str = ""  # scaled: the run's own PostgreSQL database
    admin_url: str = ""  # scaled: the URL the database was made through
    database_url: str = ""

    def hub_command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub", *args], env=self.env, capture_output=True, text=True,
            timeout=600, check=False, cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip


def _serve_ready(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _mount_tmpfs(path: Path, size_mb: int) -> str:
    """Mount a tmpfs of ``size_mb`` at ``path``; '' when done, else why not."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(path)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"mount could not run ({exc})"
    return "" if done.returncode == 0 else f"mount refused: {done.stderr.strip()[:200]}"


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=60, check=False)


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[tuple[str, str]]:
    """A database of the run's own (so making it read-only touches no one else's); dropped
    afterwards. Yields ``(url, name)``."""
    name = f"omsorgshub_chaos_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(admin_url).set(database=name)
            yield url.render_as_string(hide_password=False), name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def rig(
    mode: str,
    postgres_url: str,
    amqp_url: str,
    disk_mb: int,
    keep: Path | None,
    clock: str,
    overrides: dict[str, str] | None = None,
) -> Iterator[Rig]:
    hub_settings = {**HUB_SETTINGS, **(overrides or {})}
    with contextlib.ExitStack() as stack:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="chaos-", dir=keep))
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chaos-")))
        home, logs = folder / "home", folder / "logs"
        logs.mkdir()
        problem = _mount_tmpfs(home, disk_mb)
        if not problem:
            stack.callback(unmount, home)
            if keep is not None:  # the tmpfs goes; a copy of the data folder stays (scan it)
                stack.callback(shutil.copytree, home, folder / "home-kept", dirs_exist_ok=True)
        double = RecordingDouble()
        double.start()
        stack.callback(double.stop)
        database_url = broker_url = database_name = ""
        if mode == "scaled":
            database_url, database_name = stack.enter_context(postgres_database(postgres_url))
            broker_url, _how = stack.enter_context(rabbitmq_vhost(amqp_url))
        prepared = prepare_hub(
            home, double.url, database_url=database_url, broker_url=broker_url,
            overrides=hub_settings,
        )  # fmt: skip
        settings = prepared.hub.settings
        prepared.hub.close()
        engine = make_engine(settings.database_url)
        stack.callback(engine.dispose)
        port = free_port()
        the_rig = Rig(
            mode=mode, folder=folder, home=home, double=double, token=prepared.token,
            engine=reader(engine), url=f"http://127.0.0.1:{port}", mounted=not problem,
            mount_problem=problem, database_name=database_name, admin_url=postgres_url,
            database_url=database_url, env=_env(home, database_url, broker_url, hub_settings),
            clock=ClockStepper.choose(clock, folder),
        )  # fmt: skip
        stack.callback(_stop_all, the_rig)
        _start(the_rig, port, logs)
        yield the_rig


def _env(
    home: Path, database_url: str, broker_url: str, settings: dict[str, str]
) -> dict[str, str]:
    extra = {f"OMSORGSHUB_{k.upper()}": v for k, v in settings.items()}
    extra |= {"OMSORGSHUB_HOME": str(home)}
    if database_url:
        extra["OMSORGSHUB_DATABASE_URL"] = database_url
    if broker_url:
        extra["OMSORGSHUB_BROKER_URL"] = broker_url
    return child_env(extra)


def _start(r: Rig, port: int, logs: Path) -> None:
    serve = ["hub", "serve", "--port", str(port)]
    if r.mode == "scaled":
        serve.append("--no-worker")
    r.processes["serve"] = Supervised(
        "serve", serve, r.clock.env(r.env, "serve"), logs / "serve.log",
        ready=lambda: _serve_ready(r.url),
    )  # fmt: skip
    if r.mode == "scaled":
        r.processes["relay"] = Supervised(
            "relay", ["hub", "relay"], r.clock.env(r.env, "relay"), logs / "relay.log"
        )
        worker = [
            "celery", "-A", "worker", "worker", "--pool", "prefork", "--concurrency", "2",
            "-Q", CELERY_QUEUE, "-l", "WARNING", "-n", f"chaos-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        r.processes["worker"] = Supervised(
            "worker", worker, r.clock.env(r.env, "worker"), logs / "worker.log"
        )
    for process in r.processes.values():
        process.start()
    for process in r.processes.values():
        process.wait_ready()


def _stop_all(r: Rig) -> None:
    for process in r.processes.values():
        process.stop()
