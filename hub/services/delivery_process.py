"""The embedded hub's deliveries in a process of their own (setting ``delivery_process``).

One Python process computes on one core at a time (the GIL). Embedded, ``omsorgshub serve`` runs
the API, ingest, the relay and the delivery threads in one process, so a two-core machine
delivers with one core while the other idles (issue 16). With ``delivery_process = true`` the
serving process keeps the API and ingest, and starts a child process that runs the relay, the
delivery threads and the upkeep timers (``hub.start()``, ``schedule_upkeep``) on the same
database. On SQLite the two take turns on its writer lock file (``hub.storage.engine``).

The two talk through one socket pair. The serving process sends a byte for each commit of new
messages (``Relay.forward_wakes``) and the child's relay claims them at once instead of at its
next ``relay_interval``; a byte that cannot be sent (the buffer is full of wake-ups already, or
the child is restarting) is dropped, since the relay also polls. The socket is also the child's
lifeline: when the serving process ends, however it ends (even ``kill -9``), the child reads
end-of-file, stops its relay and delivery threads and exits. What it was delivering keeps its
lease and is offered again when the lease expires: nothing is lost, as with any worker that
stops. A child that dies is started again (after 1 s, then up to 30 s between tries) and says
so in the log.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.settings import Settings

if TYPE_CHECKING:
    from hub.bootstrap import Hub

log = logging.getLogger(__name__)

RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
HEALTHY_SECONDS = 60.0  # a child that lived this long died of something new: restart quickly
STOP_SECONDS = 30.0  # for the child to finish its deliveries in flight before it is killed

# What the child runs: builds and starts a hub that delivers (relay and delivery threads
# running, upkeep scheduled, outcomes logged). A module-level function, which the child imports.
StartDelivering = Callable[[Settings, str | None], "Hub"]


class DeliveryProcess:
    """The child process that delivers, supervised by the serving process."""

    def __init__(self, settings: Settings, start: StartDelivering, log_format: str | None):
        self._settings = settings
        self._start = start
        self._log_format = log_format
        self._socket: socket.socket | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None
        self._launched = 0.0  # time.monotonic() of the last start

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        self._launch()
        self._supervisor = threading.Thread(
            target=self._supervise, name="delivery-process", daemon=True
        )
        self._supervisor.start()

    def wake(self) -> None:
        """New messages are stored: the child's relay claims them now. Never blocks."""
        sock = self._socket
        if sock is None:
            return
        # Full of wake-ups already, or the child is being restarted: it polls too.
        with contextlib.suppress(OSError):
            sock.send(b"w")

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Close the lifeline and wait for the child to finish its deliveries in flight."""
        self._stopping.set()
        with self._lock:
            sock, self._socket = self._socket, None
            process = self._process
        if sock is not None:
            sock.close()
        if process is not None:
            process.join(timeout)
            if process.is_alive():
                log.warning("the delivery process did not stop within %.0f s; killing it", timeout)
                process.kill()
                process.join(5)
        if self._supervisor is not None:
            self._supervisor.join(5)

    def _launch(self) -> None:
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        process = multiprocessing.get_context("spawn").Process(
            target=run_child,
            args=(self._settings, self._start, self._log_format, theirs),
            name="omsorgshub-deliveries",
        )
        process.start()
        theirs.close()
        with self._lock:
            if self._stopping.is_set():  # stop() came meanwhile: this child ends at once
                ours.close()
            else:
                self._socket = ours
            self._process = process
        self._launched = time.monotonic()
        log.info("delivery process %s started", process.pid)

    def _supervise(self) -> None:
        pause = RESTART_FIRST_SECONDS
        while not self._stopping.is_set():
            process = self._process
            if process is None or process.is_alive():
                self._stopping.wait(0.5)
                continue
            if self._stopping.is_set():
                return
            log.error(
                "the delivery process %s ended (exit code %s); starting it again in %.0f s",
                process.pid,
                process.exitcode,
                pause,
            )
            with self._lock:
                old, self._socket = self._socket, None
            if old is not None:
                old.close()
            if time.monotonic() - self._launched >= HEALTHY_SECONDS:
                pause = RESTART_FIRST_SECONDS
            if self._stopping.wait(pause):
                return
            pause = min(2 * pause, RESTART_MAX_SECONDS)
            self._launch()


def run_child(
    settings: Settings, start: StartDelivering, log_format: str | None, lifeline: socket.socket
) -> None:
    """The child: deliver until the lifeline closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent; it stops us
    hub = start(settings, log_format)
    try:
        while True:
            if not lifeline.recv(4096):
                break  # the serving process closed it or ended
            hub.relay.wake()
    finally:
        hub.close()
        lifeline.close()
