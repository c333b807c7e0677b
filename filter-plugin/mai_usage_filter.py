"""
title: mai-usage
author: mai-usage
version: 0.2.0
required_open_webui_version: 0.10.0
tested_open_webui_versions: 0.12.4
licence: MIT
description: Sends every completion's token usage and OpenRouter cost to the mai-usage sidecar,
  and stops a chat when the user's organisation (or the user) is over its monthly limit.
  It captures usage; it never computes money. It fails open: a slow, down or wrong sidecar
  never breaks or slows a chat. Events the sidecar cannot take are spooled to disk and replayed
  with the same event id, so nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Optional
from urllib import error as urlerror
from urllib import request as urlrequest

from pydantic import BaseModel, Field

log = logging.getLogger("mai_usage_filter")

MAX_BATCH = 500
# Requests whose stream began but whose outlet never ran (cancelled, failed) are forgotten
# after this many newer requests or this many seconds.
MAX_TRACKED_REQUESTS = 2048
TRACKED_REQUEST_TTL_SECONDS = 3600.0
MAX_CACHED_USERS = 10000
SPOOL_FILE = "spool.jsonl"
REJECTED_FILE = "rejected.jsonl"


def _utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _default_spool_dir() -> str:
    data_dir = os.environ.get("DATA_DIR")
    if not data_dir:
        try:
            from open_webui.env import DATA_DIR  # type: ignore

            data_dir = str(DATA_DIR)
        except Exception:
            data_dir = os.path.join(os.path.expanduser("~"), ".mai-usage")
    return os.path.join(data_dir, "mai-usage-spool")


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _int(value: Any) -> Optional[int]:
    number = _number(value)
    return None if number is None else int(number)


def extract_usage(raw: Any) -> Optional[dict]:
    """Maps a provider usage object (OpenRouter/OpenAI keys, or Open WebUI's normalised copy)
    to the sidecar's `usage` shape. None when there is nothing usable."""
    if not isinstance(raw, dict) or not raw:
        return None
    input_tokens = _int(raw.get("prompt_tokens"))
    if input_tokens is None:
        input_tokens = _int(raw.get("input_tokens"))
    output_tokens = _int(raw.get("completion_tokens"))
    if output_tokens is None:
        output_tokens = _int(raw.get("output_tokens"))
    if input_tokens is None and output_tokens is None:
        return None
    usage: dict = {"input_tokens": input_tokens or 0, "output_tokens": output_tokens or 0}

    prompt_details = raw.get("prompt_tokens_details") or raw.get("input_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or raw.get("output_tokens_details") or {}
    cost_details = raw.get("cost_details") or {}
    cached = _int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else None
    reasoning = _int(completion_details.get("reasoning_tokens")) if isinstance(completion_details, dict) else None
    cost = _number(raw.get("cost"))
    upstream = _number(cost_details.get("upstream_inference_cost")) if isinstance(cost_details, dict) else None
    if cached is not None:
        usage["cached_tokens"] = cached
    if reasoning is not None:
        usage["reasoning_tokens"] = reasoning
    if cost is not None:
        usage["cost_usd"] = cost
    if isinstance(raw.get("is_byok"), bool):
        usage["is_byok"] = raw["is_byok"]
    if upstream is not None:
        usage["upstream_cost_usd"] = upstream
    return usage


def parse_stream_event(event: Any) -> list:
    """Returns the JSON chunks in one stream-hook event: a dict (Open WebUI ≥ 0.11, both paths)
    or raw SSE bytes/str lines (the API path of older versions)."""
    if isinstance(event, dict):
        return [event]
    if isinstance(event, (bytes, bytearray)):
        event = event.decode("utf-8", "replace")
    if not isinstance(event, str):
        return []
    chunks = []
    for line in event.splitlines():
        line = line.strip()
        if not line.startswith("data:"):
            continue  # comments such as ": OPENROUTER PROCESSING", blank keep-alives
        payload = line[5:].strip()
        if not payload or payload == "[DONE]":
            continue
        try:
            chunk = json.loads(payload)
        except ValueError:
            continue
        if isinstance(chunk, dict):
            chunks.append(chunk)
    return chunks


def _model_id(metadata: dict) -> str:
    model = metadata.get("model")
    if isinstance(model, dict):
        model = model.get("id")
    return str(model or "unknown")


def _generation_id(chunk: dict) -> Optional[str]:
    value = chunk.get("id")
    if isinstance(value, str) and value.startswith("gen-"):
        return value
    return None


class _Spool:
    """Append-only JSON-lines file of events the sidecar has not acknowledged. Replay renames
    the file first, so concurrent appends (other workers of the same Open WebUI) go to a fresh
    file and no line is read twice by two processes."""

    def __init__(self, directory: str):
        self.directory = directory
        self.lock = threading.Lock()

    @property
    def path(self) -> str:
        return os.path.join(self.directory, SPOOL_FILE)

    def append(self, events: list, file_name: str = SPOOL_FILE) -> None:
        if not events:
            return
        os.makedirs(self.directory, exist_ok=True)
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
        with self.lock:
            with open(os.path.join(self.directory, file_name), "a", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())

    def has_pending(self) -> bool:
        try:
            return any(
                name == SPOOL_FILE or name.startswith("replaying-") for name in os.listdir(self.directory)
            )
        except OSError:
            return False

    def take(self) -> list:
        """Claims every pending file: returns [(path, events)]. Caller deletes a path once its
        events are sent or re-spooled."""
        claimed = []
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return claimed
        with self.lock:
            if SPOOL_FILE in names:
                target = os.path.join(self.directory, f"replaying-{time.time_ns()}-{uuid.uuid4().hex[:8]}.jsonl")
                try:
                    os.rename(self.path, target)
                    names.append(os.path.basename(target))
                except OSError:
                    pass
        for name in sorted(set(names)):
            if not name.startswith("replaying-"):
                continue
            path = os.path.join(self.directory, name)
            events = []
            try:
                with open(path, encoding="utf-8") as handle:
                    for line in handle:
                        line = line.strip()
                        if not line:
                            continue
                        try:
                            events.append(json.loads(line))
                        except ValueError:
                            continue  # a torn last line from a crash mid-write
            except OSError:
                continue
            claimed.append((path, events))
        return claimed


_SENDERS: "weakref.WeakSet[_Sender]" = weakref.WeakSet()


@atexit.register
def _spool_queued_events() -> None:
    for sender in list(_SENDERS):
        try:
            sender.spool_queued()
        except Exception:
            log.exception("mai-usage: could not spool queued events at exit")


class _Sender:
    """One background thread per filter instance: sends queued events in batches, spools what
    the sidecar cannot take and replays the spool. Stops when its filter is garbage-collected
    (Open WebUI re-creates the filter when its code is updated)."""

    def __init__(self, owner: "Filter"):
        self.owner = weakref.ref(owner)
        self.queue: list = []
        self.condition = threading.Condition()
        self.last_replay = 0.0
        # After a failed send, new events go straight to the spool until the next replay
        # probes the sidecar: a down sidecar costs one refused connection per interval, not per event.
        self.down_until = 0.0
        self.flush_requested = False
        self.busy = False
        self.thread = threading.Thread(target=self._run, name="mai-usage-sender", daemon=True)
        self.thread.start()
        _SENDERS.add(self)

    def submit(self, events: list) -> None:
        with self.condition:
            self.queue.extend(events)
            self.condition.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Sends what is queued now, without the batching delay, and waits until it is sent or
        spooled (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.condition:
                if not self.queue and not self.busy:
                    self.flush_requested = False
                    return True
                self.flush_requested = True
                self.condition.notify()
            time.sleep(0.01)
        return False

    def spool_queued(self) -> None:
        """At interpreter exit: what is still queued goes to the spool, so the next start replays it."""
        with self.condition:
            batch, self.queue = self.queue, []
        valves = self._valves()
        if batch:
            _Spool((valves.spool_dir if valves else "") or _default_spool_dir()).append(batch)

    def _take_batch(self, interval: float) -> list:
        """Waits for events, then lingers up to the batching delay so that a completion's start
        and end, and concurrent chats, share one request: the sidecar and Open WebUI's own
        thread then spend one send per delay instead of one per event."""
        valves = self._valves()
        delay = max(0.0, float(getattr(valves, "batch_delay_seconds", 0.0) or 0.0))
        with self.condition:
            if not self.queue:
                self.condition.wait(timeout=min(interval, 1.0))
            if self.queue and delay > 0:
                deadline = time.monotonic() + delay
                while len(self.queue) < MAX_BATCH and not self.flush_requested:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self.condition.wait(timeout=remaining)
            batch = self.queue[:MAX_BATCH]
            del self.queue[:MAX_BATCH]
            self.busy = bool(batch)
            return batch

    def _valves(self):
        owner = self.owner()
        return None if owner is None else owner.valves

    def _run(self) -> None:
        while True:
            valves = self._valves()
            interval = max(1.0, float(getattr(valves, "replay_interval_seconds", 30.0) or 30.0))
            batch = self._take_batch(interval)
            valves = self._valves()
            if valves is None:  # the filter was replaced: keep what it left, then stop
                if batch:
                    _Spool(_default_spool_dir()).append(batch)
                self.spool_queued()
                return
            try:
                spool = _Spool(valves.spool_dir or _default_spool_dir())
                if batch and time.monotonic() < self.down_until:
                    spool.append(batch)
                elif batch:
                    if self._deliver(valves, spool, batch) and spool.has_pending():
                        self._replay(valves, spool)
                elif time.monotonic() - self.last_replay >= interval and valves.ingest_token:
                    self.last_replay = time.monotonic()
                    if spool.has_pending():
                        self._replay(valves, spool)
            except Exception:
                log.exception("mai-usage: sender loop error")
            finally:
                with self.condition:
                    self.busy = False

    def _deliver(self, valves, spool: _Spool, events: list) -> bool:
        """Sends events; whatever is not acknowledged is spooled. True when the sidecar took them."""
        outcome = post_events(valves, events)
        if outcome == "ok":
            return True
        if outcome == "rejected" and len(events) > 1:
            # One bad event must not hold back the others: retry singly to find it.
            for event in events:
                self._deliver(valves, spool, [event])
            return True
        if outcome == "rejected":
            spool.append(events, REJECTED_FILE)
            log.error("mai-usage: sidecar rejected event %s; kept in %s", events[0].get("event_id"), REJECTED_FILE)
            return True
        spool.append(events)
        interval = max(1.0, float(getattr(valves, "replay_interval_seconds", 30.0) or 30.0))
        self.down_until = time.monotonic() + interval
        return False

    def _replay(self, valves, spool: _Spool) -> None:
        self.last_replay = time.monotonic()
        self.down_until = 0.0
        for path, events in spool.take():
            # Marked so the sidecar's /metrics can count replays; it ignores the field otherwise.
            events = [dict(event, replayed=True) for event in events]
            failed = False
            for start in range(0, len(events), MAX_BATCH):
                chunk = events[start : start + MAX_BATCH]
                if failed:
                    spool.append(chunk)
                elif not self._deliver(valves, spool, chunk):
                    failed = True
            try:
                os.remove(path)
            except OSError:
                pass
            if failed:
                return


def post_events(valves, events: list) -> str:
    """'ok' (recorded or duplicate), 'rejected' (400: will never be accepted), 'retry'."""
    body = json.dumps({"events": events}, separators=(",", ":")).encode("utf-8")
    req = urlrequest.Request(
        valves.sidecar_url.rstrip("/") + "/api/v1/ingest/events",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {valves.ingest_token}"},
    )
    try:
        with urlrequest.urlopen(req, timeout=valves.send_timeout_seconds) as response:
            response.read()
            return "ok" if 200 <= response.status < 300 else "retry"
    except urlerror.HTTPError as exc:
        if exc.code in (400, 413, 422):
            return "rejected"
        log.warning("mai-usage: sidecar answered %s to ingest; events spooled", exc.code)
        return "retry"
    except Exception as exc:  # connection refused, timeout, DNS
        log.warning("mai-usage: sidecar unreachable (%s); events spooled", type(exc).__name__)
        return "retry"


def check_limit(valves, user_id: str) -> Optional[dict]:
    """The sidecar's limit answer, or None when it cannot tell (fail open)."""
    from urllib.parse import quote

    req = urlrequest.Request(
        valves.sidecar_url.rstrip("/") + "/api/v1/limits/check?user_id=" + quote(user_id, safe=""),
        headers={"Authorization": f"Bearer {valves.ingest_token}"},
    )
    try:
        with urlrequest.urlopen(req, timeout=valves.limit_check_timeout_seconds) as response:
            answer = json.loads(response.read().decode("utf-8"))
            return answer if isinstance(answer, dict) else None
    except Exception as exc:
        log.warning("mai-usage: limit check failed (%s); allowing the chat", type(exc).__name__)
        return None


class _SafeFormat(dict):
    def __missing__(self, key):
        return ""


class Filter:
    class Valves(BaseModel):
        priority: int = Field(
            default=0,
            description="Filter order; lower runs first. Keep it low so the limit check runs before costly filters.",
        )
        sidecar_url: str = Field(
            default="http://mai-usage:3100",
            description="Base URL of the mai-usage sidecar as Open WebUI's server reaches it.",
        )
        ingest_token: str = Field(
            default="",
            description="The sidecar's INGEST_TOKEN. Usage is spooled (not sent) while this is empty.",
        )
        enforce_limits: bool = Field(
            default=True, description="Ask the sidecar before each chat and block users over their monthly limit."
        )
        limit_check_timeout_seconds: float = Field(
            default=0.5, description="Longest the limit check may delay a chat; after it the chat goes on."
        )
        limit_cache_seconds: float = Field(
            default=5.0, description="How long a user's limit answer is reused before asking the sidecar again."
        )
        block_message: str = Field(
            default="Usage limit reached: {detail}",
            description=(
                "Shown to a blocked user. Placeholders: {detail} (the sidecar's message: which limit, when it resets), "
                "{scope} (org or user), "
                "{limit_usd}, {used_usd}, {resets_at}."
            ),
        )
        batch_delay_seconds: float = Field(
            default=1.0,
            description=(
                "How long the background sender gathers events before one request to the sidecar "
                "(a completion's start and end, concurrent chats). 0 sends each at once."
            ),
        )
        send_timeout_seconds: float = Field(
            default=3.0, description="Timeout of one send to the sidecar (in the background, never on the chat's path)."
        )
        replay_interval_seconds: float = Field(
            default=30.0, description="How often spooled events are retried when no new event triggers a replay."
        )
        spool_dir: str = Field(
            default="",
            description="Folder for the spool of unsent events. Empty: 'mai-usage-spool' in Open WebUI's DATA_DIR.",
        )
        send_user_field: bool = Field(
            default=True,
            description="Set OpenRouter's `user` field to the Open WebUI user id (shown as external_user by OpenRouter).",
        )

    def __init__(self):
        self.valves = self.Valves()
        # Bounded per-request capture between stream and outlet, keyed by message id.
        self._requests: "OrderedDict[str, dict]" = OrderedDict()
        self._requests_lock = threading.Lock()
        self._limits: "OrderedDict[str, tuple]" = OrderedDict()
        self._sender = _Sender(self)

    # ---- inlet -------------------------------------------------------------------------------

    async def inlet(self, body: dict, __user__: Optional[dict] = None) -> dict:
        user = __user__ or {}
        user_id = user.get("id")
        if self.valves.send_user_field and user_id and isinstance(body, dict):
            body["user"] = str(user_id)
        if not (self.valves.enforce_limits and user_id and self.valves.ingest_token):
            return body
        answer = await self._limit_answer(str(user_id))
        if answer and answer.get("allowed") is False:
            raise Exception(self._block_text(answer))
        return body

    async def _limit_answer(self, user_id: str) -> Optional[dict]:
        cached = self._limits.get(user_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        # Expired answers are not served stale: a user who just crossed the limit is stopped
        # at the next chat, at the cost of one local request per user per cache period.
        return await self._refresh_limit(user_id)

    async def _refresh_limit(self, user_id: str) -> Optional[dict]:
        valves = self.valves
        try:
            answer = await asyncio.wait_for(
                asyncio.to_thread(check_limit, valves, user_id), timeout=valves.limit_check_timeout_seconds + 0.05
            )
        except Exception:
            answer = None
        # An unknown answer is cached too, so a down sidecar costs one attempt per period.
        self._limits[user_id] = (time.monotonic() + valves.limit_cache_seconds, answer)
        self._limits.move_to_end(user_id)
        while len(self._limits) > MAX_CACHED_USERS:
            self._limits.popitem(last=False)
        return answer

    def _block_text(self, answer: dict) -> str:
        def money(value):
            number = _number(value)
            return "" if number is None else f"{number:.2f}"

        scope = answer.get("scope") or "org"
        resets_at = answer.get("resets_at") or "at the start of next month"
        detail = answer.get("message") or (
            f"your {'organisation' if scope == 'org' else 'personal'} monthly limit of ${money(answer.get('limit_usd'))} "
            f"is used up (${money(answer.get('used_usd'))}). It resets {resets_at}."
        )
        try:
            return self.valves.block_message.format_map(
                _SafeFormat(
                    detail=detail,
                    scope=scope,
                    limit_usd=money(answer.get("limit_usd")),
                    used_usd=money(answer.get("used_usd")),
                    resets_at=resets_at,
                )
            )
        except Exception:
            return f"Usage limit reached: {detail}"

    # ---- stream ------------------------------------------------------------------------------

    def stream(self, event: Any, __user__: Optional[dict] = None, __metadata__: Optional[dict] = None) -> Any:
        try:
            for chunk in parse_stream_event(event):
                generation_id = _generation_id(chunk)
                usage = chunk.get("usage")
                if generation_id is None and not usage:
                    continue
                state = self._request_state(__metadata__, create=True)
                if generation_id and generation_id not in state["generations"]:
                    state["generations"][generation_id] = None
                    self._sender.submit([self._started_event(generation_id, state, __user__, __metadata__)])
                if usage and isinstance(usage, dict):
                    key = generation_id or state.get("last_generation") or ""
                    state["generations"][key] = usage  # the last chunk with usage wins
                if generation_id:
                    state["last_generation"] = generation_id
        except Exception:
            log.exception("mai-usage: stream hook error (ignored)")
        return event

    def _request_key(self, metadata: Optional[dict]) -> Optional[str]:
        if not isinstance(metadata, dict):
            return None
        if metadata.get("message_id"):
            return str(metadata["message_id"])
        # API calls carry no message id; the same metadata dict reaches stream and outlet.
        key = metadata.get("mai_usage_request_id")
        if not key:
            key = metadata["mai_usage_request_id"] = f"req-{uuid.uuid4().hex}"
        return key

    def _request_state(self, metadata: Optional[dict], create: bool) -> Optional[dict]:
        key = self._request_key(metadata)
        if key is None:
            return {"generations": {}} if create else None
        now = time.monotonic()
        with self._requests_lock:
            state = self._requests.get(key)
            if state is None and create:
                state = self._requests[key] = {"generations": {}, "created": now}
            while self._requests:
                oldest_key, oldest = next(iter(self._requests.items()))
                if len(self._requests) > MAX_TRACKED_REQUESTS or now - oldest["created"] > TRACKED_REQUEST_TTL_SECONDS:
                    self._requests.pop(oldest_key)
                else:
                    break
            return state

    def _forget(self, metadata: Optional[dict], body: dict) -> Optional[dict]:
        keys = [self._request_key(metadata) if isinstance(metadata, dict) else None, body.get("id")]
        with self._requests_lock:
            for key in keys:
                if key and key in self._requests:
                    return self._requests.pop(key)
        return None

    # ---- outlet ------------------------------------------------------------------------------

    def outlet(self, body: dict, __user__: Optional[dict] = None, __metadata__: Optional[dict] = None) -> dict:
        try:
            events = self._completion_events(body, __user__ or {}, __metadata__ or {})
            if events:
                self._sender.submit(events)
        except Exception:
            log.exception("mai-usage: outlet hook error (ignored)")
        return body

    def _completion_events(self, body: dict, user: dict, metadata: dict) -> list:
        state = self._forget(metadata, body) or {"generations": {}}
        messages = body.get("messages") or []
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        if last.get("role") not in (None, "assistant"):
            return []
        chat_id = body.get("chat_id") or metadata.get("chat_id") or None
        message_id = body.get("id") or metadata.get("message_id") or None
        base = {
            "kind": "completion",
            "occurred_at": _utc_now_iso(),
            "user": self._user(user),
            "model": str(body.get("model") or _model_id(metadata)),
            "channel": self._channel(body, metadata),
            **({"chat_id": str(chat_id)} if chat_id else {}),
            **({"message_id": str(message_id)} if message_id else {}),
        }

        # One event per OpenRouter generation seen in the stream (tool-call turns make several).
        streamed = [(gid, usage) for gid, usage in state["generations"].items() if gid and usage]
        if streamed:
            return [
                {**base, "event_id": gid, "generation_id": gid, "usage": extract_usage(usage) or self._zero()}
                for gid, usage in streamed
            ]

        known = [gid for gid in state["generations"] if gid]
        generation_id = known[-1] if known else None
        usage = extract_usage(last.get("usage")) or extract_usage(state["generations"].get("")) or self._zero()
        if generation_id:
            event_id = generation_id
        elif chat_id and message_id:
            event_id = f"owui:{chat_id}:{message_id}"
        else:
            # Open WebUI gives API calls a fresh random message id; the spool keeps this id on replay.
            event_id = f"owui:api:{message_id or uuid.uuid4()}"
        event = {**base, "event_id": event_id, "usage": usage}
        if generation_id:
            event["generation_id"] = generation_id
        return [event]

    # ---- helpers -----------------------------------------------------------------------------

    def _started_event(self, generation_id: str, state: dict, user: Optional[dict], metadata: Optional[dict]) -> dict:
        metadata = metadata or {}
        event = {
            "event_id": f"start:{generation_id}",
            "kind": "generation_started",
            "occurred_at": _utc_now_iso(),
            "user": self._user(user or {}),
            "model": _model_id(metadata),
            "generation_id": generation_id,
            "channel": self._channel({}, metadata),
            "usage": self._zero(),
        }
        if metadata.get("chat_id"):
            event["chat_id"] = str(metadata["chat_id"])
        if metadata.get("message_id"):
            event["message_id"] = str(metadata["message_id"])
        return event

    @staticmethod
    def _zero() -> dict:
        return {"input_tokens": 0, "output_tokens": 0}

    @staticmethod
    def _user(user: dict) -> dict:
        fields = {"id": str(user.get("id") or "unknown")}
        for key in ("email", "name", "role"):
            if user.get(key) is not None:
                fields[key] = str(user[key])
        return fields

    @staticmethod
    def _channel(body: dict, metadata: dict) -> str:
        # The web UI always sends a socket session id with a chat id; API callers do not.
        if (body.get("session_id") or metadata.get("session_id")) and (body.get("chat_id") or metadata.get("chat_id")):
            return "ui"
        return "api"
