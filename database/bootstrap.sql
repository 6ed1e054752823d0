-- Cluster bootstrap: one database role and one schema per service (DESIGN §1).
-- Run once by a superuser against the fleet's database (payment_db). Idempotent.
-- Passwords are set separately (docker/postgres-init.sh from .env; none are needed for the
-- embedded dev cluster, which trusts local socket connections).
-- A role owns only its schema: it cannot read another service's tables.

DO $$
DECLARE
    svc TEXT;
BEGIN
    FOREACH svc IN ARRAY ARRAY['gateway', 'confirm', 'risk', 'notification', 'account',
                               'audit', 'kyc', 'partner_bank', 'otp', 'ofac']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = svc) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', svc);
        END IF;
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', svc, svc);
        EXECUTE format('ALTER ROLE %I SET search_path = %I', svc, svc);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', svc);
    END LOOP;
END
$$;

-- Nobody creates objects in public: every table lives in its owner's schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
