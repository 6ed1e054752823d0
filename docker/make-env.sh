#!/usr/bin/env bash
# Write a .env for docker-compose.yml with fresh random secrets and the gateway's RSA keys:
#   docker/make-env.sh .env
# Every variable is documented in .env.example. Refuses to overwrite an existing file.
set -euo pipefail

out="${1:?usage: $0 PATH (e.g. .env)}"
if [ -e "$out" ]; then
    echo "$0: $out exists; remove it first if you really want new secrets" >&2
    exit 1
fi
command -v openssl >/dev/null || { echo "$0: openssl is required" >&2; exit 1; }

secret() { openssl rand -hex 24; }
# PKCS#8 PEM, as the gateway loads it; quoted so the newlines survive in .env.
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 2>/dev/null; }
b64url() { base64 | tr -d '\n=' | tr '+/' '-_'; }
# Service identity (paykit.identity): an Ed25519 key per service, and `ops` for people and
# scripts (make service-token); every container gets only its own private key and all the
# public ones. The raw 32-byte keys are the tails of their DER encodings.
keydir="$(mktemp -d)"
trap 'rm -rf "$keydir"' EXIT

umask 077
{
    echo "# Made by docker/make-env.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep it secret; see .env.example."
    echo "POSTGRES_USER=payment_admin"
    echo "POSTGRES_PASSWORD=$(secret)"
    # One login per service that keeps data in Postgres (otp and ofac keep none), and the exporter's.
    for role in GATEWAY CONFIRM RISK NOTIFICATION ACCOUNT AUDIT KYC PARTNER_BANK POSTGRES_EXPORTER; do
        echo "${role}_DB_PASSWORD=$(secret)"
    done
    echo "REDIS_PASSWORD=$(secret)"
    echo "JWT_SECRET=$(secret)"
    echo "OTP_SECRET=$(secret)"
    echo "OFAC_ADMIN_TOKEN=$(secret)"
    echo "KYC_REVIEWER_TOKEN=$(secret)"
    echo "KYC_DOCUMENT_KEY=$(secret)"
    echo "AUDIT_CHECKPOINT_KEY=$(secret)"
    echo "JWT_PRIVATE_KEY=\"$(rsa_key)\""
    echo "JWE_PRIVATE_KEY=\"$(rsa_key)\""
    public_keys=""
    for identity in gateway confirm risk notification otp account audit ofac kyc partner_bank ops; do
        openssl genpkey -algorithm ed25519 -outform DER -out "$keydir/$identity.der" 2>/dev/null
        echo "$(echo "$identity" | tr '[:lower:]' '[:upper:]')_SIGNING_KEY=$(tail -c 32 "$keydir/$identity.der" | b64url)"
        public="$(openssl pkey -inform DER -in "$keydir/$identity.der" -pubout -outform DER | tail -c 32 | b64url)"
        public_keys="$public_keys $identity=$public"
    done
    echo "SERVICE_PUBLIC_KEYS=\"${public_keys# }\""
    echo "GRAFANA_ADMIN_USER=admin"
    echo "GRAFANA_ADMIN_PASSWORD=$(secret)"
    echo "LOG_LEVEL=INFO"
} > "$out"
echo "$0: wrote $out"
