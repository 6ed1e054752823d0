"""A tiny Elasticsearch for tests: answers the bulk API the way the pinned server version
does (tools/stack/recordings/elasticsearch-<version>.json), including its check of the
client's compatible-version headers, and keeps what was indexed. It stands in for the compose
`elasticsearch` container in the stack test and in audit's indexing tests."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).resolve().parent / "recordings"
_COMPATIBLE = re.compile(r"compatible-with=(\d+)")


def recording(version: str = "8.17.0") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / f"elasticsearch-{version}.json").read_text())
    return data


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ElasticsearchStub:
    version: str = "8.17.0"
    host: str = "127.0.0.1"
    port: int = 0
    documents: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    # Failures to play before answering normally: "unavailable" (whole request 503) or
    # "rejected" (every bulk item 429), consumed one per request.
    failures: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ElasticsearchStub:
        stub = self
        rec = recording(self.version)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in rec["response_headers"].items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with stub._lock:
                    stub.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
                problem = stub.compatibility_problem(
                    self.headers.get("Accept"), self.headers.get("Content-Type")
                )
                if problem:
                    error = json.loads(json.dumps(rec["incompatible"]["body"]).replace("{reason}", problem))
                    self._answer(rec["incompatible"]["status"], error)
                    return
                path = self.path.split("?", 1)[0]
                single = re.fullmatch(r"/([^/_][^/]*)/_doc/([^/]+)", path)
                if single:
                    self._answer(201, stub.index_one(single.group(1), single.group(2), body))
                    return
                if not path.endswith("/_bulk"):
                    self._answer(404, {"error": f"no handler for {path}", "status": 404})
                    return
                failure = stub.failures.pop(0) if stub.failures else ""
                if failure == "unavailable":
                    self._answer(rec["unavailable"]["status"], rec["unavailable"]["body"])
                    return
                self._answer(200, stub.bulk(path, body, rejected=failure == "rejected"))

            # The 8.x client sends bulk as PUT; the API takes POST too.
            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, name="es-stub", daemon=True).start()
        return self

    def compatibility_problem(self, accept: str | None, content_type: str | None) -> str:
        """Elasticsearch 8's rule: a requested compatible version is 8 or 7, and a request with a
        body names the same one on Accept and Content-Type (or neither does)."""
        allowed = recording(self.version)["compatible_versions"]
        accept_version = _version(accept)
        content_version = _version(content_type)
        if accept_version is not None and accept_version not in allowed:
            return (
                f"Accept version must be either version {allowed[0]} or {allowed[1]}, but found "
                f"{accept_version}. Accept={accept}"
            )
        if content_version is not None and content_version not in allowed:
            return (
                f"Content-Type version must be either version {allowed[0]} or {allowed[1]}, but found "
                f"{content_version}. Content-Type={content_type}"
            )
        if accept_version != content_version:
            return (
                "A compatible version is required on both Content-Type and Accept headers if either one "
                "has requested a compatible version and the compatible versions must match. "
                f"Accept={accept}, Content-Type={content_type}"
            )
        return ""

    def bulk(self, path: str, body: bytes, *, rejected: bool) -> dict[str, Any]:
        rec = recording(self.version)
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        default_index = path.strip("/").split("/")[0] if path.count("/") > 1 else None
        items = []
        with self._lock:
            for action, source in zip(lines[::2], lines[1::2], strict=True):
                ((op, meta),) = action.items()
                index = meta.get("_index", default_index)
                if rejected:
                    items.append({op: {"_index": index, "_id": meta.get("_id"), **rec["bulk_item_rejected"]}})
                    continue
                docs = self.documents.setdefault(index, {})
                seq_no = len(docs)
                docs[meta["_id"]] = source
                items.append(
                    {op: {"_index": index, "_id": meta["_id"], "_seq_no": seq_no, **rec["bulk_item"]}}
                )
        return {"errors": rejected, "took": 1, "items": items}

    def index_one(self, index: str, doc_id: str, body: bytes) -> dict[str, Any]:
        """The single-document index API (PUT /<index>/_doc/<id>)."""
        item = {k: v for k, v in recording(self.version)["bulk_item"].items() if k != "status"}
        with self._lock:
            docs = self.documents.setdefault(index, {})
            seq_no = len(docs)
            docs[doc_id] = json.loads(body)
        return {"_index": index, "_id": doc_id, "_seq_no": seq_no, **item}

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _version(header: str | None) -> int | None:
    match = _COMPATIBLE.search(header or "")
    return int(match.group(1)) if match else None
