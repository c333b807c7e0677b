"""Usage and generation-id capture from every chunk shape the stream hook and outlet receive."""

import json

import pytest

USAGE = {
    "prompt_tokens": 42,
    "completion_tokens": 17,
    "total_tokens": 59,
    "cost": 0.000123,
    "is_byok": False,
    "prompt_tokens_details": {"cached_tokens": 10},
    "completion_tokens_details": {"reasoning_tokens": 5},
    "cost_details": {"upstream_inference_cost": None},
}
EXPECTED = {
    "input_tokens": 42,
    "output_tokens": 17,
    "cached_tokens": 10,
    "reasoning_tokens": 5,
    "cost_usd": 0.000123,
    "is_byok": False,
}


def chunk(gen="gen-1-abc", **extra):
    return {"id": gen, "object": "chat.completion.chunk", "model": "fake/alpha", **extra}


def sse(obj):
    return f"data: {json.dumps(obj)}\n\n"


def test_openrouter_usage_maps_to_event_usage(plugin):
    assert plugin.extract_usage(USAGE) == EXPECTED


def test_byok_usage_keeps_upstream_cost(plugin):
    usage = {**USAGE, "is_byok": True, "cost": 0.0000027, "cost_details": {"upstream_inference_cost": 0.000054}}
    assert plugin.extract_usage(usage) == {
        **EXPECTED, "is_byok": True, "cost_usd": 0.0000027, "upstream_cost_usd": 0.000054,
    }


def test_open_webui_normalised_usage_prefers_provider_keys(plugin):
    # Open WebUI adds input_tokens/output_tokens/total_tokens beside the provider's keys.
    normalised = {**USAGE, "input_tokens": 42, "output_tokens": 17}
    assert plugin.extract_usage(normalised) == EXPECTED


def test_responses_style_usage(plugin):
    usage = {"input_tokens": 3, "output_tokens": 4, "input_tokens_details": {"cached_tokens": 1},
             "output_tokens_details": {"reasoning_tokens": 2}}
    assert plugin.extract_usage(usage) == {"input_tokens": 3, "output_tokens": 4, "cached_tokens": 1, "reasoning_tokens": 2}


@pytest.mark.parametrize("usage", [None, {}, {"cost": 0.1}, "usage", 7])
def test_unusable_usage_is_none(plugin, usage):
    assert plugin.extract_usage(usage) is None


def test_null_cost_is_left_out(plugin):
    assert "cost_usd" not in plugin.extract_usage({**USAGE, "cost": None})


def test_dict_chunk_ui_path(plugin):
    event = chunk(choices=[{"index": 0, "delta": {"content": "hi"}}])
    assert plugin.parse_stream_event(event) == [event]


def test_raw_bytes_api_path_skips_comments_and_done(plugin):
    final = chunk(choices=[], usage=USAGE)
    raw = (": OPENROUTER PROCESSING\n\n" + sse(chunk(choices=[])) + sse(final) + "data: [DONE]\n\n").encode()
    chunks = plugin.parse_stream_event(raw)
    assert [c.get("usage") for c in chunks] == [None, USAGE]


def test_str_line_and_garbage(plugin):
    assert plugin.parse_stream_event(sse(chunk())) == [chunk()]
    assert plugin.parse_stream_event("data: {not json") == []
    assert plugin.parse_stream_event(b"\xff\xfe") == []
    assert plugin.parse_stream_event(None) == []


def drive_stream(instance, events, metadata):
    for event in events:
        assert instance.stream(event, __user__={"id": "u1"}, __metadata__=metadata) is event


@pytest.mark.parametrize(
    "shape",
    ["dict", "bytes", "str", "usage-in-finish-chunk"],
)
def test_stream_then_outlet_builds_one_event_per_generation(plugin, shape):
    instance = plugin.Filter()
    instance._sender.submit = lambda events: sent.extend(events)
    sent = []
    metadata = {"chat_id": "c1", "message_id": "m1", "session_id": "s1", "model": {"id": "fake/alpha"}}
    pieces = [
        chunk(choices=[{"index": 0, "delta": {"content": "a"}}]),
        chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        chunk(choices=[], usage=USAGE),
    ]
    if shape == "usage-in-finish-chunk":
        pieces = [pieces[0], chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}], usage=USAGE)]
    if shape == "bytes":
        pieces = [b": OPENROUTER PROCESSING\n\n"] + [sse(p).encode() for p in pieces] + [b"data: [DONE]\n\n"]
    if shape == "str":
        pieces = [sse(p) for p in pieces]
    drive_stream(instance, pieces, metadata)

    assert [e["kind"] for e in sent] == ["generation_started"]
    assert sent[0]["event_id"] == "start:gen-1-abc" and sent[0]["generation_id"] == "gen-1-abc"

    body = {"model": "fake/alpha", "chat_id": "c1", "id": "m1", "session_id": "s1",
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "usage": {**USAGE, "cost": 9}}]}
    assert instance.outlet(body, __user__={"id": "u1", "email": "u@x", "name": "U", "role": "user"}, __metadata__=metadata) is body
    completion = sent[1]
    assert completion["event_id"] == "gen-1-abc"
    assert completion["usage"] == EXPECTED  # the provider's own chunk wins over the stored copy
    assert completion["channel"] == "ui" and completion["chat_id"] == "c1" and completion["message_id"] == "m1"
    assert completion["user"] == {"id": "u1", "email": "u@x", "name": "U", "role": "user"}
    assert instance._requests == {}


def test_two_generations_in_one_turn_make_two_events(plugin):
    instance = plugin.Filter()
    sent = []
    instance._sender.submit = lambda events: sent.extend(events)
    metadata = {"message_id": "m9", "model": {"id": "fake/alpha"}}
    drive_stream(instance, [chunk("gen-a", choices=[]), chunk("gen-a", choices=[], usage=USAGE),
                            chunk("gen-b", choices=[]), chunk("gen-b", choices=[], usage={**USAGE, "cost": 0.5})], metadata)
    instance.outlet({"model": "fake/alpha", "id": "m9", "messages": [{"role": "assistant", "usage": USAGE}]},
                    __user__={"id": "u1"}, __metadata__=metadata)
    completions = [e for e in sent if e["kind"] == "completion"]
    assert [(e["event_id"], e["usage"]["cost_usd"]) for e in completions] == [("gen-a", 0.000123), ("gen-b", 0.5)]


def test_non_streamed_api_call_uses_outlet_usage_and_stable_id(plugin):
    instance = plugin.Filter()
    sent = []
    instance._sender.submit = lambda events: sent.extend(events)
    body = {"model": "fake/alpha", "id": "msg_1", "chat_id": "",
            "messages": [{"role": "user", "content": "q"}, {"id": "msg_1", "role": "assistant", "usage": {**USAGE, "input_tokens": 42, "output_tokens": 17}}]}
    instance.outlet(body, __user__={"id": "u1"}, __metadata__={"chat_id": "", "message_id": None})
    assert sent[0]["event_id"] == "owui:api:msg_1" and sent[0]["channel"] == "api"
    assert sent[0]["usage"] == EXPECTED and "generation_id" not in sent[0]


def test_saved_chat_without_generation_id_uses_chat_and_message(plugin):
    instance = plugin.Filter()
    sent = []
    instance._sender.submit = lambda events: sent.extend(events)
    body = {"model": "m", "id": "m1", "chat_id": "c1", "session_id": "s", "messages": [{"role": "assistant", "usage": USAGE}]}
    instance.outlet(body, __user__={"id": "u1"}, __metadata__={})
    assert sent[0]["event_id"] == "owui:c1:m1" and sent[0]["channel"] == "ui"


def test_hooks_never_raise(plugin):
    instance = plugin.Filter()
    instance._sender.submit = lambda events: (_ for _ in ()).throw(RuntimeError("boom"))
    assert instance.stream(chunk(choices=[]), __metadata__={"message_id": "x"}) is not None
    assert instance.outlet({"messages": "nonsense"}, __user__=None, __metadata__=None) == {"messages": "nonsense"}
    assert instance.outlet({}, __user__=None, __metadata__=None) == {}


def test_request_state_is_bounded(plugin):
    instance = plugin.Filter()
    instance._sender.submit = lambda events: None
    for index in range(plugin.MAX_TRACKED_REQUESTS + 100):
        instance.stream(chunk(f"gen-{index}", choices=[]), __metadata__={"message_id": f"m{index}"})
    assert len(instance._requests) == plugin.MAX_TRACKED_REQUESTS
    assert "m0" not in instance._requests
