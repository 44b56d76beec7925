-- The roles the services log in as, so that neither runs as the owner of the schema (who may
-- disable the append-only triggers, drop tables, or as a superuser run programs):
--   dampwatch_collector: reads and writes every table's rows (ingest, hazards, alerts, cases,
--     webhooks, e-mail, the audit log through its triggers); owns nothing, so it can neither
--     change the schema nor switch a trigger off; no role to switch to.
--   dampwatch_api: what the landlord API needs outside a request's tenant transaction (key
--     and session lookup, people's sign-in, the audit log through audit_append) and nothing
--     of any landlord's cases, homes, readings or webhooks. It may switch to the tenant role
--     and the evidence reader, and does not inherit their privileges (NOINHERIT): once a
--     transaction's SET LOCAL ROLE ends, or after RESET ROLE, it holds only its own.
-- Both are NOLOGIN here: a deployment gives them LOGIN and a password (the private cluster
-- does so itself, `dampwatch_pg::PrivatePostgres::login_url`). Roles are cluster-wide, so they
-- may exist already (another Dampwatch database, a concurrent migration, a restore).
DO $$
BEGIN
    CREATE ROLE dampwatch_collector NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT NOCREATEDB NOCREATEROLE NOREPLICATION;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
DO $$
BEGIN
    CREATE ROLE dampwatch_api NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT NOCREATEDB NOCREATEROLE NOREPLICATION;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
DO $$
BEGIN
    GRANT dampwatch_api_tenant, dampwatch_evidence_reader TO dampwatch_api;
EXCEPTION WHEN unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO dampwatch_collector, dampwatch_api;

-- The collector: rows of every table, now and of tables later migrations add.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dampwatch_collector;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO dampwatch_collector;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dampwatch_collector;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO dampwatch_collector;
-- The migrations' own record is the owner's.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM dampwatch_collector;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text, text) TO dampwatch_collector;

-- The API outside a tenant transaction: people, their sessions and second factors, keys and
-- OAuth clients (found by hash), and appending to the audit log. Every one of these tables
-- has row-level security whose `service_access` policy lets this role through: it is the
-- sign-in service, which finds a person or key before knowing their landlord.
GRANT SELECT, INSERT, UPDATE, DELETE ON users, recovery_codes, sessions, password_resets, oauth_tokens
    TO dampwatch_api;
GRANT SELECT, UPDATE ON api_keys, oauth_clients TO dampwatch_api;
-- A person's landlord by name, shown at sign-in; a person's own e-mail choices.
GRANT SELECT ON landlords TO dampwatch_api;
GRANT SELECT, INSERT, UPDATE ON email_preferences TO dampwatch_api;
GRANT USAGE ON SEQUENCE users_id_seq TO dampwatch_api;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text, text) TO dampwatch_api;
