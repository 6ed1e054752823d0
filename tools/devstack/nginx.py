"""nginx for the local fleet: two gateways behind one upstream, a request id on every
request, TLS with a self-signed certificate made at first start, a body-size limit. Like the
compose edge (nginx/nginx.conf) it sends nosniff, Referrer-Policy, HSTS (over HTTPS),
`Cache-Control: no-store` on token and payment answers, and keeps the services' internal
routes inside; unlike it, plain HTTP on localhost is served, for the README's curl."""

from __future__ import annotations

import datetime
import json
import os
import shutil
from pathlib import Path

CERT_DAYS = 365
# Each gateway's `in_flight_max` (services/gateway: GatewaySettings); the edge admits their sum.
GATEWAY_IN_FLIGHT_MAX = 16
OVERLOADED_BODY = json.dumps(
    {
        "title": "Service Unavailable",
        "status": 503,
        "code": "OVERLOADED",
        "detail": "The fleet is at capacity; retry shortly with the same Idempotency-Key",
    },
    separators=(",", ":"),
)
# Debian and Fedora install nginx in /usr/sbin: on root's PATH, not on a user's.
NGINX_OFF_PATH = (Path("/usr/sbin/nginx"),)

TEMPLATE = """\
{user_line}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}

http {{
    # The compose edge's JSON line (nginx/nginx.conf): `edge_refusal` names an answer nginx
    # made itself (OVERLOADED here), which no service's /metrics counts.
    log_format json escape=json
        '{{"time":"$time_iso8601","request_id":"$request_id","remote_addr":"$remote_addr",'
        '"method":"$request_method","path":"$uri","status":$status,"bytes":$body_bytes_sent,'
        '"request_time":$request_time,"upstream":"$upstream_addr",'
        '"upstream_time":"$upstream_response_time","scheme":"$scheme",'
        '"edge_refusal":"$edge_refusal"}}';
    access_log {prefix}/access.log json;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;

    client_max_body_size 64k;
    proxy_connect_timeout 2s;
    proxy_send_timeout 35s;
    proxy_read_timeout 35s;

    map $uri $edge_cache_control {{
        ~^/(auth|payment|payments|accounts|operator|dev)(/|$) "no-store";
        default "";
    }}
    map $https $edge_hsts {{
        on "max-age=63072000; includeSubDomains";
        default "";
    }}
    map "$status:$upstream_http_retry_after" $edge_retry_after {{
        "503:" 1;
        "429:" 1;
        default "";
    }}

    # Admission at the edge, as in nginx/nginx.conf: the gateways' in-flight limits together;
    # past them a 503 OVERLOADED from nginx itself (529 only tells it apart below).
    map $request_method $edge_fleet {{
        default fleet;
    }}
    limit_conn_zone $edge_fleet zone=edge_in_flight:1m;
    limit_conn_status 529;
    limit_conn_log_level warn;

    upstream api_gateway {{
        # The gateway with the fewest requests in progress: each admits only its own share.
        least_conn;
{upstreams}
        keepalive 16;
    }}

    server {{
{listens}
        set $edge_refusal "";
        ssl_certificate {prefix}/tls/cert.pem;
        ssl_certificate_key {prefix}/tls/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;

        add_header X-Request-ID $request_id always;
        add_header Strict-Transport-Security $edge_hsts always;
        add_header X-Content-Type-Options nosniff always;
        add_header Referrer-Policy no-referrer always;
        add_header Cache-Control $edge_cache_control always;
        add_header Retry-After $edge_retry_after always;

        error_page 529 =503 @overloaded;
        location @overloaded {{
            set $edge_refusal OVERLOADED;
            default_type application/problem+json;
            return 503 '{overloaded_body}';
        }}

        location ~ ^/(docs|redoc|openapi\\.json|metrics|ready)(/|$) {{
            default_type application/problem+json;
            return 404 '{{"title":"Not Found","status":404,"code":"NOT_FOUND","detail":"Not found"}}';
        }}

        location / {{
            limit_conn edge_in_flight {edge_in_flight_max};
            proxy_pass http://api_gateway;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def _self_signed(tls_dir: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    if cert_path.exists() and key_path.exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_config(
    prefix: Path, gateway_ports: tuple[int, ...], http_ports: list[int], https_ports: list[int]
) -> Path:
    for sub in ("tls", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    _self_signed(prefix / "tls")
    upstreams = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in gateway_ports
    )
    # Workers drop to an unprivileged user when the master runs as root; ours write temp
    # files under the prefix, so they keep the runner's user.
    user_line = "user root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        TEMPLATE.format(
            user_line=user_line,
            prefix=prefix.resolve(),
            upstreams=upstreams,
            edge_in_flight_max=GATEWAY_IN_FLIGHT_MAX * len(gateway_ports),
            overloaded_body=OVERLOADED_BODY,
            listens="\n".join(
                [f"        listen 127.0.0.1:{port};" for port in http_ports]
                + [f"        listen 127.0.0.1:{port} ssl;" for port in https_ports]
            ),
        )
    )
    return conf


def find_nginx() -> str | None:
    """The nginx on PATH, else one installed off it; None when there is none."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((str(path) for path in NGINX_OFF_PATH if os.access(path, os.X_OK)), None)


def nginx_command(nginx: str, prefix: Path, conf: Path) -> list[str]:
    """nginx in the foreground with everything under prefix; -e puts the startup error log there
    too, so a non-root user never needs /var/log/nginx."""
    return [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf), "-g", "daemon off;"]
