"""The load of a chaos run: fictional referrals posted over HTTP, each until it is accepted.

A sender does what a careful source system does: it keeps its message id and sends the same
bytes again after a connection error or a 5xx (the hub answers a repeat with the original
message's deliveries), so every message ends accepted, however often ``serve`` dies under it. A
4xx other than those is a refusal: the run records it and fails.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from proof.chaos.tally import Accepted

RETRY_PAUSE = 0.2
GIVE_UP_SECONDS = 900.0  # one message refused by a down hub this long ends the run


@dataclass
class Load:
    url: str  # serve's base URL
    token: str
    documents: Sequence[bytes]
    clients: int
    rate: float = 0.0  # messages per second over all clients; 0: as fast as they go
    accepted: Accepted = field(default_factory=Accepted)
    refused: list[str] = field(default_factory=list)
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _began: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Send every document from ``clients`` threads; returns when all are answered."""
        counter = itertools.count()
        self._began = time.monotonic()
        threads = [
            threading.Thread(target=self._sender, args=(counter,), name=f"chaos-load-{n}")
            for n in range(self.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _sender(self, counter: itertools.count[int]) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/xml"}
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as client:
            while not self.stop.is_set() and (i := next(counter)) < len(self.documents):
                if self.rate > 0:  # message i is due i/rate seconds after the start
                    time.sleep(max(0.0, self._began + i / self.rate - time.monotonic()))
                self._send(client, self.documents[i], headers)

    def _send(self, client: httpx.Client, body: bytes, headers: dict[str, str]) -> None:
        sent_at = time.monotonic()
        while True:
            try:
                response = client.post("/api/v1/messages", content=body, headers=headers)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 202:
                ids = [d["id"] for d in response.json()["deliveries"]]
                self.accepted.add(ids, sent_at)
                return
            if response is not None and response.status_code < 500:
                with self._lock:
                    self.refused.append(f"{response.status_code} {response.text[:200]}")
                return
            with self._lock:
                self.retries += 1
            if self.stop.is_set():
                return
            if time.monotonic() - sent_at > GIVE_UP_SECONDS:
                with self._lock:
                    self.refused.append(f"no answer after {GIVE_UP_SECONDS:.0f} s")
                return
            time.sleep(RETRY_PAUSE)
