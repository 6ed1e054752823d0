"""A local HTTPS server standing in for OFAC's download site: it serves the bundled list's files
under the same path as the official URL, with a certificate from its own CA (hand the CA to a
client through SSL_CERT_FILE). There is no route out of this machine, and a test should not
depend on the U.S. Treasury's uptime anyway."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CERT_DAYS = 2


class ListServer:
    def __init__(self, work_dir: Path, *, upstream: str, directory: Path, host: str) -> None:
        self.work_dir = work_dir
        self.upstream = urlsplit(upstream)
        self.directory = directory
        self.host = host
        self.requests: list[str] = []
        self.ca_file = work_dir / "ca.pem"
        self._server: ThreadingHTTPServer | None = None

    def stands_in_for(self, url: str) -> bool:
        return urlsplit(url).netloc == self.upstream.netloc

    def url_for(self, url: str) -> str:
        parts = urlsplit(url)
        assert self._server is not None
        return parts._replace(netloc=f"{self.host}:{self._server.server_port}").geturl()

    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        cert, key = self._certificate()
        files = {p.name.lower(): p for p in self.directory.iterdir() if p.is_file()}
        prefix = self.upstream.path.rstrip("/")
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                path = self.path.split("?", 1)[0]
                head, _, name = path.rpartition("/")
                found = files.get(name.lower()) if head == prefix else None
                if found is None:
                    self.send_error(404)
                    return
                body = found.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer((self.host, 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, name="list-server", daemon=True).start()

    def _certificate(self) -> tuple[Path, Path]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stack test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.host)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(self.host))]), critical=False
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = self.work_dir / "server.pem", self.work_dir / "server-key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        return cert_path, key_path

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
