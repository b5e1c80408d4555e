"""A run made to be scanned: a hub in a folder of its own receives messages over HTTP naming
distinctive fictional people, delivers them to the HTTP double, and stops.

Everything the run's processes could write is confined to the run folder, so the scan can read
all of it: ``home/`` (the data folder), ``logs/`` (each process's output, JSON lines at DEBUG),
``tmp/`` (their ``TMPDIR``), ``work/`` (their working folder: nothing should appear there) and
``user/`` (their ``HOME``: nor there). The people file lies beside them, outside the scan.

The people get names no real person has and no other run uses ("Spårvikelo Läckmunorsson"):
a hit is then never a coincidence. Identity numbers come from ``hub.demo.fictional`` (valid
check digits). The double runs in this process, so its documents — the control — can be read.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from proof.scan.needles import Person, write_people
from proof.scan.places import Place, queue_contents

DISTRICT = "sdn-sodermalm"
QUEUE = "omsorgshub.deliver"  # worker.QUEUE; importing worker builds its Celery app
_SYLLABLES = (
    "vik", "elo", "mun", "ora", "tis", "kel", "dra", "syn", "upp", "ärn", "öla", "bry",
    "fje", "nak", "ström", "gul", "pil", "hav", "rök", "sen",
)  # fmt: skip
SETTINGS = {
    "log_format": "json",
    "log_level": "DEBUG",  # every chance to leak
    "relay_interval": "0.2",
    "retry_base_seconds": "0.2",
    "retry_cap_seconds": "1",
}


@dataclass
class NamedRun:
    folder: Path
    people: list[Person]
    database_url: str = ""
    broker_url: str = ""
    sent: int = 0
    seconds: float = 0.0
    documents: dict[str, bytes] = field(default_factory=dict)  # the double's, by key
    queued: list[Place] = field(default_factory=list)  # the broker's queue before any worker

    @property
    def home(self) -> Path:
        return self.folder / "home"

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    @property
    def temp(self) -> Path:
        return self.folder / "tmp"

    @property
    def work(self) -> Path:
        return self.folder / "work"

    @property
    def user(self) -> Path:
        return self.folder / "user"

    @property
    def people_file(self) -> Path:
        return self.folder / "people.jsonl"


def distinctive_people(count: int, seed: int) -> list[Person]:
    """``count`` people with invented names and valid, distinct identity numbers."""
    from hub.demo.fictional import FictionalPeople

    rng = random.Random(f"proof-scan-{seed}")
    people: list[Person] = []
    names: set[str] = set()
    numbers: set[str] = set()
    for fictional in FictionalPeople(seed):
        if len(people) == count:
            break
        given = "Spår" + "".join(rng.choice(_SYLLABLES) for _ in range(2))
        family = "Läck" + "".join(rng.choice(_SYLLABLES) for _ in range(2)) + "sson"
        number = fictional.identity.canonical
        if f"{given} {family}" in names or number in numbers:
            continue
        names.add(f"{given} {family}")
        numbers.add(number)
        people.append(Person(given, family, fictional.identity.scheme, number))
    return people


def envelope(person: Person, index: int, rng: random.Random) -> bytes:
    from hub.demo.fictional import FictionalPerson, referral_envelope
    from hub.ingest.identity import parse_identity

    fictional = FictionalPerson(
        person.given_name, person.family_name, parse_identity(person.canonical, person.scheme)
    )
    return referral_envelope(fictional, DISTRICT, rng, message_id=f"SCAN-{index:06d}")


@dataclass
class _Child:
    name: str
    popen: subprocess.Popen[bytes]

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (a clean stop flushes logs), then SIGKILL of its process group."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)


@contextmanager
def _child(
    run: NamedRun, name: str, args: Sequence[str], env: Mapping[str, str]
) -> Iterator[_Child]:
    with (run.logs / f"{name}.log").open("wb") as out:
        popen = subprocess.Popen(
            list(args), cwd=run.work, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    child = _Child(name, popen)
    try:
        yield child
    finally:
        child.stop()


def _log_tail(run: NamedRun) -> str:
    parts = []
    for log in sorted(run.logs.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-8:]
        parts.append(f"--- {log.name}\n" + "\n".join(lines))
    return "\n".join(parts)


def _wait(
    run: NamedRun, what: str, ready: Callable[[], bool], children: Sequence[_Child], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        for child in children:
            if child.popen.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited while waiting for {what}:\n{_log_tail(run)}"
                )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"gave up after {timeout:.0f} s waiting for {what}:\n{_log_tail(run)}"
            )
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _send(run: NamedRun, base: str, token: str, messages: int, seed: int) -> None:
    """POST the messages from 4 threads; every one must be accepted (202)."""
    rng = random.Random(seed)
    bodies = [envelope(run.people[i % len(run.people)], i, rng) for i in range(messages)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:

        def send(body: bytes) -> int:
            return client.post("/api/v1/messages", content=body, headers=headers).status_code

        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(send, bodies))
    refused = [s for s in statuses if s != 202]
    if refused:
        raise RuntimeError(
            f"{len(refused)} of {messages} not accepted (first: {refused[0]}):\n{_log_tail(run)}"
        )
    run.sent = messages


def _ready(amqp_url: str) -> int:
    """Ready messages in the delivery queue now (a passive declare; 0 while undeclared)."""
    import kombu

    with kombu.Connection(amqp_url, connect_timeout=10) as conn:
        try:
            ok: Any = kombu.Queue(QUEUE)(conn.default_channel).queue_declare(passive=True)
        except conn.channel_errors:
            return 0
        return int(ok.message_count)


def make_run(
    folder: Path,
    *,
    messages: int,
    people: int,
    database_url: str = "",
    broker_url: str = "",
    seed: int = 17,
    say: Callable[[str], None] = lambda _text: None,
) -> NamedRun:
    """Send ``messages`` referrals naming ``people`` people through ``omsorgshub serve`` (and,
    with ``broker_url``, a relay and a Celery worker), wait until the double has every one,
    stop the processes. ``folder`` must be empty or absent."""
    from adapters.doubles.http_double import HttpDouble
    from bench.processes import child_env, free_port
    from bench.workload import prepare_hub

    run = NamedRun(folder, distinctive_people(people, seed), database_url, broker_url)
    for path in (run.home, run.logs, run.temp, run.work, run.user):
        path.mkdir(parents=True, exist_ok=False)
    write_people(run.people_file, run.people)
    settings = SETTINGS | {"metrics_dir": str(run.home / "metrics")}
    with HttpDouble() as double, ExitStack() as stack:
        prepared = prepare_hub(
            run.home, double.url, database_url=database_url, broker_url=broker_url,
            overrides=settings,
        )  # fmt: skip
        prepared.hub.close()
        values = {"HOME": str(run.user), "TMPDIR": str(run.temp), "OMSORGSHUB_HOME": str(run.home)}
        if database_url:
            values["OMSORGSHUB_DATABASE_URL"] = database_url
        if broker_url:
            values["OMSORGSHUB_BROKER_URL"] = broker_url
        values |= {f"OMSORGSHUB_{k.upper()}": v for k, v in settings.items()}
        env = child_env(values)
        port = free_port()
        hub = [sys.executable, "-m", "hub"]
        serve = [*hub, "serve", "--port", str(port)] + (["--no-worker"] if broker_url else [])
        children = [stack.enter_context(_child(run, "serve", serve, env))]
        if broker_url:
            children.append(stack.enter_context(_child(run, "relay", [*hub, "relay"], env)))
        base = f"http://127.0.0.1:{port}"
        _wait(run, "the API to be ready", lambda: _answers(base + "/readyz"), children, 60)
        say(f"run: sending {messages} messages naming {people} people to {base}")
        began = time.monotonic()
        _send(run, base, prepared.token, messages, seed)
        if broker_url:
            # No worker yet: the relay's batches wait in the queue, where the scan reads them
            # (and leaves them: the worker started next must still deliver every one).
            _wait(run, "the relay to publish", lambda: _ready(broker_url) > 0, children, 60)
            time.sleep(1.0)
            run.queued = list(queue_contents(broker_url, [QUEUE], "before any worker"))
            celery = [
                sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool", "prefork",
                "--concurrency", "2", "-Q", QUEUE, "-l", "DEBUG",
                "--without-gossip", "--without-mingle", "-n", f"proof-scan-{port}@%h",
            ]  # fmt: skip
            children.append(stack.enter_context(_child(run, "celery-worker", celery, env)))
        _wait(
            run,
            f"the double to have all {messages}",
            lambda: double.unique >= messages,
            children,
            max(120.0, messages / 5),
        )
        run.seconds = time.monotonic() - began
        say(f"run: {messages} delivered in {run.seconds:.1f} s; stopping the hub")
        stack.close()  # the processes stop before the double does, and before the scan
        run.documents = double.documents()
    return run
