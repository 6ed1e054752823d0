#!/bin/sh
# Run by the nginx image's entrypoint (/docker-entrypoint.d) before nginx starts: if the TLS
# volume holds no certificate yet, make a self-signed one for localhost (dev only). A real
# deployment mounts its own cert.pem/key.pem into /etc/nginx/tls and this does nothing.
set -eu

TLS_DIR="${TLS_DIR:-/etc/nginx/tls}"
CERT_DAYS="${CERT_DAYS:-365}"

if [ -s "$TLS_DIR/cert.pem" ] && [ -s "$TLS_DIR/key.pem" ]; then
    echo "$0: using the certificate in $TLS_DIR"
    exit 0
fi

if ! command -v openssl >/dev/null 2>&1; then
    echo "$0: openssl not found and no certificate in $TLS_DIR" >&2
    exit 1
fi

mkdir -p "$TLS_DIR"
umask 077
openssl req -x509 -nodes -days "$CERT_DAYS" \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$TLS_DIR/key.pem.tmp" -out "$TLS_DIR/cert.pem.tmp" 2>/dev/null
chmod 600 "$TLS_DIR/key.pem.tmp"
chmod 644 "$TLS_DIR/cert.pem.tmp"
mv "$TLS_DIR/key.pem.tmp" "$TLS_DIR/key.pem"
mv "$TLS_DIR/cert.pem.tmp" "$TLS_DIR/cert.pem"
echo "$0: made a self-signed certificate for localhost, valid $CERT_DAYS days"
