"""Live load on a Pinot cluster while it is upgraded: a Kafka feed and checked queries through the broker Service.

`StreamFeed` writes one message every 1/rate s to a topic and remembers when it wrote each. `QueryLoad` queries
at a fixed rate, alternating between the tables it is given, and judges every answer: an error, an exception in
the body or a server that did not answer is *failed*; a row count outside what the table must hold at that moment
is *wrong*. Both are threads; stop them with `stop()`.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import dataclass

import requests

from tests.testbed.pinot import PinotCluster


class StreamFeed(threading.Thread):
    """Messages `{"user": "<prefix>-<n>", "ts": <ms>}` at `rate` per second through one console producer."""

    def __init__(self, kafka: PinotCluster, topic: str, prefix: str, rate: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.prefix, self.interval = prefix, 1.0 / rate
        self.written: list[float] = []  # monotonic time of each message
        self._process = kafka.producer(topic)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            line = json.dumps({"user": f"{self.prefix}-{len(self.written)}", "ts": int(time.time() * 1000)})
            self._process.stdin.write(line + "\n")
            self._process.stdin.flush()
            self.written.append(time.monotonic())

    def written_by(self, moment: float) -> int:
        return sum(1 for t in self.written if t <= moment)

    def stop(self) -> int:
        """Stop writing, flush, wait for the producer; the number of messages sent."""
        self._halt.set()
        self.join()
        self._process.stdin.close()
        if self._process.wait(timeout=60) != 0:
            raise RuntimeError(f"the console producer failed: {self._process.stderr.read()[-2000:]}")
        return len(self.written)


@dataclass
class Expected:
    """What `SELECT COUNT(*) FROM table` may answer: exactly `rows`, or, fed, between what was written `lag`
    seconds ago and what is written now (plus the rows there before)."""

    table: str
    rows: int
    feed: StreamFeed | None = None
    lag: float = 30.0

    def bounds(self, sent_at: float, answered_at: float) -> tuple[int, int]:
        if self.feed is None:
            return self.rows, self.rows
        return self.rows + self.feed.written_by(sent_at - self.lag), self.rows + self.feed.written_by(answered_at)


@dataclass
class Answer:
    at: float
    table: str
    outcome: str  # ok | failed | wrong
    latency_ms: float
    detail: str = ""
    behind: int = 0  # fed tables: messages written but not yet in the answer


class QueryLoad(threading.Thread):
    """`rate` queries per second through `broker_url`, one table after the other."""

    def __init__(self, broker_url: str, expected: list[Expected], rate: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.broker_url, self.expected, self.rate = broker_url, expected, rate
        self.answers: list[Answer] = []
        self._halt = threading.Event()

    def run(self) -> None:
        turn = 0
        next_at = time.monotonic()
        while not self._halt.is_set():
            self.answers.append(self.ask(self.expected[turn % len(self.expected)]))
            turn += 1
            next_at += 1.0 / self.rate
            self._halt.wait(max(0.0, next_at - time.monotonic()))

    def ask(self, expected: Expected) -> Answer:
        """One checked query; any exception (not only the HTTP ones) is a failed answer, never a dead thread."""
        sent = time.monotonic()
        try:
            return self._judge(expected, sent)
        except Exception as exc:  # noqa: BLE001 - every way a query can go wrong counts as a failed query
            return Answer(sent, expected.table, "failed", _ms(sent), f"{type(exc).__name__}: {exc}"[:300])

    def _judge(self, expected: Expected, sent: float) -> Answer:
        response = requests.post(f"{self.broker_url}/query/sql", json={"sql": f"SELECT COUNT(*) FROM "
                                                                              f"{expected.table}"}, timeout=15)
        body = response.json()
        done = time.monotonic()
        if not response.ok or body.get("exceptions") or \
                body.get("numServersQueried") != body.get("numServersResponded"):
            detail = f"HTTP {response.status_code} {body.get('exceptions')} servers {body.get('numServersResponded')}" \
                     f"/{body.get('numServersQueried')}"
            return Answer(sent, expected.table, "failed", _ms(sent), detail[:300])
        count = body["resultTable"]["rows"][0][0]
        low, high = expected.bounds(sent, done)
        outcome = "ok" if low <= count <= high else "wrong"
        stats = ("numSegmentsQueried", "numSegmentsProcessed", "numServersResponded")
        counts = "/".join(str(body.get(k)) for k in stats)
        return Answer(sent, expected.table, outcome, _ms(sent),
                      f"{count} rows, expected {low}..{high} (segments queried/processed/servers {counts})",
                      behind=max(0, high - count) if expected.feed else 0)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def summary(self, since: float | None = None, until: float | None = None) -> dict[str, float | int]:
        chosen = [a for a in self.answers if (since is None or a.at >= since) and (until is None or a.at < until)]
        latencies = sorted(a.latency_ms for a in chosen if a.outcome == "ok")
        return {"sent": len(chosen), "failed": sum(a.outcome == "failed" for a in chosen),
                "wrong": sum(a.outcome == "wrong" for a in chosen),
                "p50_ms": round(statistics.median(latencies), 1) if latencies else 0.0,
                "p99_ms": round(_percentile(latencies, 0.99), 1) if latencies else 0.0,
                "max_behind": max((a.behind for a in chosen), default=0)}

    def bad(self) -> list[Answer]:
        return [a for a in self.answers if a.outcome != "ok"]

    def kept_pace(self, since: float, until: float) -> tuple[int, int]:
        """(queries sent in the window, queries the rate asks for in it): a load that stalled or died sent fewer,
        and then its lack of failed queries proves nothing. One thread asks, so the time it spent waiting for
        slow answers (a query in flight to a lost node waits up to its timeout; a loaded machine answers late) is
        time it could not send in: the rate asks nothing for it."""
        chosen = [a for a in self.answers if since <= a.at < until]
        waited = sum(max(0.0, a.latency_ms / 1000.0 - 1.0 / self.rate) for a in chosen)
        return len(chosen), int(max(0.0, until - since - waited) * self.rate * 0.8)


def _ms(since: float) -> float:
    return (time.monotonic() - since) * 1000


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
