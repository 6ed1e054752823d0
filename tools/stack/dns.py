"""A DNS server answering for compose service names and network aliases, as Docker's embedded
DNS (127.0.0.11) does inside the compose network: A records only, short TTL, NXDOMAIN else."""

from __future__ import annotations

import socket
from typing import Any

from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

TTL_S = 1


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = {name.lower().rstrip("."): addrs for name, addrs in names.items()}

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        qname = str(request.q.qname).lower().rstrip(".")
        addresses = self.names.get(qname)
        if addresses is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.A, QTYPE.ANY):
            for address in addresses:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=TTL_S))
        return reply


class ComposeDns:
    def __init__(self, names: dict[str, list[str]], *, host: str) -> None:
        self.host = host
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
            self.port = probe.getsockname()[1]
        self._server = DNSServer(
            _Resolver(names),
            address=host,
            port=self.port,
            logger=DNSLogger("-recv,-send,-request,-reply,-truncated,-error,-data"),
        )

    def replace_address(self, old: str, new: str) -> None:
        resolver: _Resolver = self._server.server.resolver
        for name, addresses in resolver.names.items():
            resolver.names[name] = [new if a == old else a for a in addresses]

    def start(self) -> None:
        self._server.start_thread()

    def stop(self) -> None:
        self._server.stop()
        self._server.server.server_close()
