"""The filter against a sidecar process, running and stopped: delivery, spool and replay,
limit check, its cache and failing open."""

import asyncio
import json
import socket
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import http_json

USAGE = {
    "prompt_tokens": 40,
    "completion_tokens": 12,
    "total_tokens": 52,
    "cost": 0.000064,
    "is_byok": False,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}


def new_user(sidecar, org_name=None, limit=None):
    user = {"id": f"user-{uuid.uuid4().hex[:10]}", "email": "a@example.com", "name": "A", "role": "user"}
    client_id = sidecar.create_client(org_name or f"org-{uuid.uuid4().hex[:6]}", limit)
    sidecar.map_user(user["id"], client_id)
    return user, client_id


def run_completion(instance, user, usage=USAGE, cancelled=False):
    """Feeds one streamed completion through stream and outlet as Open WebUI does."""
    generation_id = f"gen-{int(time.time())}-{uuid.uuid4().hex[:12]}"
    message_id = f"msg-{uuid.uuid4().hex[:8]}"
    metadata = {"chat_id": "chat-1", "message_id": message_id, "session_id": "sess", "model": {"id": "fake/alpha"}}
    started = time.perf_counter()
    instance.stream(b": OPENROUTER PROCESSING\n\n", __user__=user, __metadata__=metadata)
    instance.stream({"id": generation_id, "choices": [{"delta": {"content": "hi"}}]}, __user__=user, __metadata__=metadata)
    if cancelled:
        return generation_id, time.perf_counter() - started
    instance.stream({"id": generation_id, "choices": [], "usage": usage}, __user__=user, __metadata__=metadata)
    body = {"model": "fake/alpha", "chat_id": "chat-1", "id": message_id, "session_id": "sess",
            "messages": [{"role": "user", "content": "q"}, {"id": message_id, "role": "assistant", "usage": usage}]}
    instance.outlet(body, __user__=user, __metadata__=metadata)
    return generation_id, time.perf_counter() - started


def wait_for(predicate, timeout=15.0, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def spool_lines(directory):
    path = Path(directory)
    if not path.exists():
        return 0
    return sum(len(f.read_text().splitlines()) for f in path.iterdir() if f.name == "spool.jsonl" or f.name.startswith("replaying-"))


def test_completion_recorded_once_with_exact_usage(sidecar, make_filter):
    instance = make_filter()
    user, client_id = new_user(sidecar)
    generation_id, _ = run_completion(instance, user)
    assert instance._sender.flush()
    events = wait_for(lambda: sidecar.completions(client_id), message="export")
    assert len(events) == 1
    event = events[0]
    assert event["event_id"] == generation_id and event["generation_id"] == generation_id
    assert (event["input_tokens"], event["output_tokens"]) == (40, 12)
    assert str(event["raw_cost_nano_usd"]) == "64000"
    assert event["user_id"] == user["id"] and event["channel"] == "ui"


def test_generation_started_recorded_for_cancelled_stream(sidecar, make_filter):
    instance = make_filter()
    user, client_id = new_user(sidecar)
    generation_id, _ = run_completion(instance, user, cancelled=True)
    assert instance._sender.flush()
    # Sending the same start event again must be a duplicate: the first one was stored.
    status, answer = http_json("POST", f"{sidecar.url}/api/v1/ingest/events", sidecar.ingest_token, {"events": [{
        "event_id": f"start:{generation_id}", "kind": "generation_started", "occurred_at": "2026-01-01T00:00:00Z",
        "user": user, "model": "fake/alpha", "generation_id": generation_id, "channel": "ui",
        "usage": {"input_tokens": 0, "output_tokens": 0}}]})
    assert status == 200 and answer["results"][0]["status"] == "duplicate", answer
    assert sidecar.completions(client_id) == []  # never billed as usage by ingest


def test_sidecar_down_spools_then_replays_exactly_once(sidecar, make_filter, tmp_path):
    instance = make_filter()
    user, client_id = new_user(sidecar)
    sidecar.stop()
    try:
        timings = [run_completion(instance, user)[1] for _ in range(3)]
        assert max(timings) < 0.05, f"hooks must not wait for a down sidecar: {timings}"
        assert instance._sender.flush()
        # 3 generation_started + 3 completions wait on disk.
        assert spool_lines(tmp_path / "spool") == 6
    finally:
        sidecar.start()
    wait_for(lambda: spool_lines(tmp_path / "spool") == 0, message="spool replay")
    events = sidecar.completions(client_id)
    assert len(events) == 3 and len({e["event_id"] for e in events}) == 3
    total = sum(int(e["raw_cost_nano_usd"]) for e in events)
    assert total == 3 * 64000
    # The replayed events were marked as such, and the sidecar's /metrics counted them.
    assert replayed_events_metric(sidecar) == 6

    # A replay of events already recorded (a crash after sending, before deleting) adds nothing.
    spool = tmp_path / "spool" / "spool.jsonl"
    spool.write_text("".join(json.dumps({**e_in, "user": user}) + "\n" for e_in in _as_ingest(events)))
    wait_for(lambda: spool_lines(tmp_path / "spool") == 0, message="second replay")
    again = sidecar.completions(client_id)
    assert sorted(e["event_id"] for e in again) == sorted(e["event_id"] for e in events)
    assert sum(int(e["raw_cost_nano_usd"]) for e in again) == total


def metric(sidecar, name: str) -> float:
    """The sum of a metric's samples in the sidecar's /metrics."""
    req = urllib.request.Request(f"{sidecar.url}/metrics", headers={"authorization": f"Bearer {sidecar.admin_token}"})
    with urllib.request.urlopen(req, timeout=5) as response:
        text = response.read().decode()
    lines = [line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")]
    assert lines, f"the sidecar exports {name}"
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def replayed_events_metric(sidecar) -> float:
    return metric(sidecar, "mai_usage_ingest_replayed_events_total")


def ingest_requests_metric(sidecar) -> float:
    return metric(sidecar, "mai_usage_ingest_request_duration_seconds_count")


def test_events_within_the_batch_delay_share_one_request(sidecar, make_filter):
    instance = make_filter(batch_delay_seconds=0.5)
    user, client_id = new_user(sidecar)
    requests_before = ingest_requests_metric(sidecar)
    # Three completions (each a generation_started and a completion event) within the delay.
    generation_ids = {run_completion(instance, user)[0] for _ in range(3)}
    time.sleep(0.1)
    assert sidecar.completions(client_id) == [], "nothing is sent before the delay is over"
    events = wait_for(lambda: len(sidecar.completions(client_id)) == 3 and sidecar.completions(client_id),
                      timeout=5, message="the batch")
    assert {e["event_id"] for e in events} == generation_ids
    assert instance._sender.flush()
    assert ingest_requests_metric(sidecar) - requests_before == 1, "six events, one request"


def test_flush_sends_at_once_despite_a_long_batch_delay(sidecar, make_filter):
    instance = make_filter(batch_delay_seconds=60)
    user, client_id = new_user(sidecar)
    generation_id, _ = run_completion(instance, user)
    started = time.monotonic()
    assert instance._sender.flush(timeout=5)
    assert time.monotonic() - started < 5
    assert [e["event_id"] for e in sidecar.completions(client_id)] == [generation_id]


def test_events_still_queued_at_exit_go_to_the_spool(sidecar, make_filter, tmp_path):
    instance = make_filter(batch_delay_seconds=60)
    user, _ = new_user(sidecar)
    run_completion(instance, user)
    time.sleep(0.1)  # the sender holds both events, waiting out its delay
    instance._sender.spool_queued()  # what the interpreter's exit hook runs
    assert spool_lines(tmp_path / "spool") == 2


def _as_ingest(exported):
    return [{"event_id": e["event_id"], "kind": "completion", "occurred_at": "2026-01-01T00:00:00Z",
             "model": e["model"], "generation_id": e["generation_id"], "channel": "ui",
             "usage": {"input_tokens": e["input_tokens"], "output_tokens": e["output_tokens"], "cost_usd": 0.000064}}
            for e in exported]


def test_spool_survives_a_restart_of_open_webui(sidecar, plugin, tmp_path, make_filter):
    user, client_id = new_user(sidecar)
    sidecar.stop()
    try:
        first = make_filter(replay_interval_seconds=3600)
        run_completion(first, user)
        assert first._sender.flush()
        del first  # Open WebUI restarts: the old instance and its thread go away
    finally:
        sidecar.start()
    assert spool_lines(tmp_path / "spool") == 2
    from conftest import load_filter_module

    second_module = load_filter_module("mai_usage_filter_after_restart")
    second = second_module.Filter()
    second.valves = second.Valves(sidecar_url=sidecar.url, ingest_token=sidecar.ingest_token,
                                  spool_dir=str(tmp_path / "spool"), replay_interval_seconds=1)
    wait_for(lambda: spool_lines(tmp_path / "spool") == 0, message="replay after restart")
    assert len(sidecar.completions(client_id)) == 1


def test_inlet_sets_openrouter_user_field(sidecar, make_filter):
    instance = make_filter(enforce_limits=False)
    body = asyncio.run(instance.inlet({"model": "fake/alpha", "messages": []}, __user__={"id": "u-42"}))
    assert body["user"] == "u-42"
    off = make_filter(enforce_limits=False, send_user_field=False)
    assert "user" not in asyncio.run(off.inlet({"messages": []}, __user__={"id": "u-42"}))


def test_limit_blocks_with_message_and_answers_are_cached(sidecar, make_filter):
    user, client_id = new_user(sidecar, limit=0.001)
    other, _ = new_user(sidecar, limit=100)
    instance = make_filter(limit_cache_seconds=1.0)

    async def scenario():
        assert (await instance.inlet({"messages": []}, __user__=user))["user"] == user["id"]
        # Spend past the limit ($0.01 raw > $0.001).
        run_completion(instance, user, usage={**USAGE, "cost": 0.01})
        assert instance._sender.flush()
        wait_for(lambda: sidecar.completions(client_id), message="usage recorded")
        # Within the cache window the cached "allowed" answer stands.
        await instance.inlet({"messages": []}, __user__=user)
        await asyncio.sleep(1.1)
        # Once the answer expires the next chat asks again and is blocked.
        with pytest.raises(Exception) as blocked:
            await instance.inlet({"messages": []}, __user__=user)
        await instance.inlet({"messages": []}, __user__=other)
        return str(blocked.value)

    message = asyncio.run(scenario())
    assert message.startswith("Usage limit reached")
    assert "reset" in message.lower()


def test_inlet_fails_open_when_sidecar_is_down(sidecar, make_filter):
    instance = make_filter()
    sidecar.stop()
    try:
        started = time.perf_counter()
        body = asyncio.run(instance.inlet({"messages": []}, __user__={"id": "u-down"}))
        assert body["user"] == "u-down"
        assert time.perf_counter() - started < 0.6
    finally:
        sidecar.start()


def test_inlet_fails_open_when_sidecar_hangs(make_filter):
    # A server that accepts connections and never answers.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        instance = make_filter(sidecar_url=f"http://127.0.0.1:{listener.getsockname()[1]}", limit_check_timeout_seconds=0.3)
        started = time.perf_counter()
        asyncio.run(instance.inlet({"messages": []}, __user__={"id": "u-hang"}))
        elapsed = time.perf_counter() - started
        assert elapsed < 0.6, elapsed
        # The unknown answer is cached: the next chat does not wait again.
        started = time.perf_counter()
        asyncio.run(instance.inlet({"messages": []}, __user__={"id": "u-hang"}))
        assert time.perf_counter() - started < 0.05
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_wrong_token_spools_instead_of_losing(sidecar, make_filter, tmp_path):
    instance = make_filter(ingest_token="wrong-token-wrong-token")
    user, _ = new_user(sidecar)
    run_completion(instance, user)
    assert instance._sender.flush()
    assert spool_lines(tmp_path / "spool") == 2
