"""The audit service's Elasticsearch client speaks what the compose stack's server accepts.

A 9.x client sends `compatible-with=9`, which an 8.x server refuses on every request; the
audit service swallowed that and dropped every entry. The server side here is the wire format
of the pinned server version (tools/stack/recordings), so a client bump to another major fails
this test instead of silently emptying the index."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from elastic_transport import HttpxAsyncHttpNode
from elasticsearch import AsyncElasticsearch

from tools.stack import compose
from tools.stack.elastic import ElasticsearchStub

SERVER_IMAGE = compose.load()["services"]["elasticsearch"]["image"].split("@")[0]
SERVER_VERSION = SERVER_IMAGE.rsplit(":", 1)[1]


@pytest.fixture
def server() -> Iterator[ElasticsearchStub]:
    stub = ElasticsearchStub(version=SERVER_VERSION).start()
    try:
        yield stub
    finally:
        stub.stop()


def test_the_recording_is_of_the_server_compose_runs() -> None:
    from tools.stack.elastic import recording

    assert recording(SERVER_VERSION)["server"] == SERVER_IMAGE


async def test_the_pinned_client_bulk_request_is_accepted_by_the_pinned_server(
    server: ElasticsearchStub,
) -> None:
    client = AsyncElasticsearch(server.url, node_class=HttpxAsyncHttpNode, request_timeout=5)
    try:
        answer = await client.bulk(
            operations=[{"index": {"_index": "audit-events", "_id": "evt-1"}}, {"audit_id": 1}]
        )
    finally:
        await client.close()
    assert answer["errors"] is False
    assert answer["items"][0]["index"]["status"] == 201
    sent = server.received[-1]
    headers = {k.lower(): v for k, v in sent.headers.items()}
    major = SERVER_VERSION.split(".")[0]
    assert f"compatible-with={major}" in headers["accept"]
    assert f"compatible-with={major}" in headers["content-type"]
    assert server.documents["audit-events"]["evt-1"] == {"audit_id": 1}


def test_the_server_refuses_a_client_of_the_next_major() -> None:
    """What a 9.x client sent to the 8.17 server (issue 12): 400 media_type_header_exception."""
    stub = ElasticsearchStub(version=SERVER_VERSION).start()
    try:
        response = httpx.post(
            f"{stub.url}/_bulk",
            content=b'{"index":{"_index":"a","_id":"1"}}\n{}\n',
            headers={
                "Accept": "application/vnd.elasticsearch+json; compatible-with=9",
                "Content-Type": "application/vnd.elasticsearch+x-ndjson; compatible-with=9",
            },
        )
    finally:
        stub.stop()
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "media_type_header_exception"
    assert "must be either version 8 or 7, but found 9" in error["caused_by"]["reason"]
