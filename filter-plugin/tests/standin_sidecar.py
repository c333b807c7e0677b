"""A minimal stand-in for the sidecar's ingest and limit endpoints (DESIGN §3), used only
when MAI_USAGE_TEST_SIDECAR=standin — for working on the filter before the sidecar builds.
The default test run uses the real sidecar process."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class StandinSidecar:
    def __init__(self, ingest_token: str, port: int = 0):
        self.ingest_token = ingest_token
        self.port = port
        self.server = None
        self.events: dict = {}
        self.limit_answers: dict = {}
        self.limit_calls = 0
        self.clients: dict = {}
        self.mappings: dict = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self):
                return self.headers.get("authorization") == f"Bearer {owner.ingest_token}"

            def do_GET(self):
                url = urlparse(self.path)
                if url.path == "/api/v1/client-organizations/usage/export":
                    client_id = parse_qs(url.query).get("client_id", [""])[0]
                    events = [
                        {
                            "event_id": e["event_id"], "user_id": e["user"]["id"], "model": e["model"],
                            "kind": e["kind"], "input_tokens": e["usage"]["input_tokens"],
                            "output_tokens": e["usage"]["output_tokens"],
                            "raw_cost_nano_usd": str(round(e["usage"].get("cost_usd", 0) * 1e9)),
                            "channel": e["channel"], "generation_id": e.get("generation_id"),
                            "chat_id": e.get("chat_id"), "message_id": e.get("message_id"),
                        }
                        for e in owner.events.values()
                        if e["kind"] == "completion" and owner.mappings.get(e["user"]["id"]) == client_id
                    ]
                    return self._json(200, {"events": events})
                if url.path == "/healthz":
                    return self._json(200, {"status": "ok"})
                if url.path != "/api/v1/limits/check":
                    return self._json(404, {"error": {"code": "not_found", "message": "no route"}})
                if not self._authorized():
                    return self._json(401, {"error": {"code": "unauthorized", "message": "bad token"}})
                owner.limit_calls += 1
                user_id = parse_qs(url.query).get("user_id", [""])[0]
                answer = owner.limit_answers.get(user_id) or owner.computed_limit(user_id)
                return self._json(200, answer)

            def do_POST(self):
                path = urlparse(self.path).path
                if path.startswith("/api/v1/client-organizations/"):
                    body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                    if path.endswith("/clients"):
                        client_id = f"org-{len(owner.clients) + 1}"
                        owner.clients[client_id] = {"id": client_id, **body}
                        return self._json(201, owner.clients[client_id])
                    owner.mappings[body["user_id"]] = body["client_org_id"]
                    return self._json(201, body)
                if path != "/api/v1/ingest/events":
                    return self._json(404, {"error": {"code": "not_found", "message": "no route"}})
                if not self._authorized():
                    return self._json(401, {"error": {"code": "unauthorized", "message": "bad token"}})
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                events = body.get("events")
                if not isinstance(events, list) or not 1 <= len(events) <= 500:
                    return self._json(400, {"error": {"code": "validation", "message": "events: 1..500"}})
                for index, event in enumerate(events):
                    if not isinstance(event.get("event_id"), str) or event.get("kind") not in ("completion", "generation_started"):
                        return self._json(400, {"error": {"code": "validation", "message": f"events.{index}.event_id"}})
                results = []
                for event in events:
                    duplicate = event["event_id"] in owner.events
                    owner.events.setdefault(event["event_id"], event)
                    results.append({"event_id": event["event_id"], "status": "duplicate" if duplicate else "recorded"})
                recorded = sum(1 for r in results if r["status"] == "recorded")
                return self._json(200, {"results": results, "recorded": recorded, "duplicates": len(results) - recorded})

        self.handler = Handler
        self.start()

    def start(self):
        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def computed_limit(self, user_id: str) -> dict:
        client_id = self.mappings.get(user_id)
        client = self.clients.get(client_id) or {}
        limit = client.get("monthly_limit_usd")
        used = sum(
            e["usage"].get("cost_usd", 0) * client.get("markup_rate", 1.3)
            for e in self.events.values()
            if e["kind"] == "completion" and self.mappings.get(e["user"]["id"]) == client_id
        )
        if limit is not None and used >= limit:
            return {"allowed": False, "scope": "org", "message": f"Monthly limit of ${limit:.2f} reached.",
                    "limit_usd": limit, "used_usd": used, "resets_at": "2099-01-01T00:00:00.000Z"}
        return {"allowed": True, "scope": None, "message": None, "limit_usd": limit,
                "used_usd": used, "resets_at": None}

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
