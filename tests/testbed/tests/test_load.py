"""QueryLoad.kept_pace: what the real-pod load tests ask of the load itself."""

from tests.testbed.load import Answer, QueryLoad


def load_with(latencies_ms: list[float], rate: float = 5.0) -> QueryLoad:
    """A load (never started) whose answers were sent one after the other at `rate`, each waited for."""
    load = QueryLoad("http://127.0.0.1:9", [], rate=rate)
    at = 0.0
    for latency in latencies_ms:
        load.answers.append(Answer(at, "t", "ok", latency))
        at += max(1.0 / rate, latency / 1000.0)
    return load


def test_a_load_that_kept_its_rate_kept_pace():
    sent, asked = load_with([20.0] * 100).kept_pace(0.0, 20.0)
    assert (sent, asked) == (100, 80)


def test_a_load_that_died_half_way_did_not():
    sent, asked = load_with([20.0] * 50).kept_pace(0.0, 20.0)
    assert sent < asked


def test_time_spent_waiting_for_slow_answers_is_not_asked_for():
    # Two queries waited for their 15 s timeout (a node powered off): the thread could not send meanwhile.
    latencies = [20.0] * 20 + [15000.0, 15000.0] + [20.0] * 20
    load = load_with(latencies)
    sent, asked = load.kept_pace(0.0, 38.4)
    assert sent == 42 and asked <= sent
    # Without that allowance the same healthy load would look stalled.
    assert sent < int(38.4 * 5.0 * 0.8)
