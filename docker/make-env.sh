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
    echo "GRAFANA_ADMIN_USER=admin"
    echo "GRAFANA_ADMIN_PASSWORD=$(secret)"
    echo "LOG_LEVEL=INFO"
} > "$out"
echo "$0: wrote $out"
