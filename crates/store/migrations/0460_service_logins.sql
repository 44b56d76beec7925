-- The roles the services log in as, so that neither runs as the owner of the schema (who may
-- disable the append-only triggers, drop tables, or as a superuser run programs):
--   dampwatch_collector: reads and writes every table's rows (ingest, hazards, alerts, cases,
--     webhooks, e-mail, the audit log through its triggers); owns nothing, so it can neither
--     change the schema nor switch a trigger off; no role to switch to.
--   dampwatch_api: what the landlord API needs outside a request's tenant transaction (people's
--     sign-in and sessions, a presented key or token through narrow functions, the audit log
--     through audit_append) and nothing of any landlord's cases, homes, readings or webhooks.
--     It may switch to the tenant role and the evidence reader, and does not inherit their
--     privileges (NOINHERIT): once a transaction's SET LOCAL ROLE ends, or after RESET ROLE,
--     it holds only its own. It names the landlord of a tenant transaction, so row-level
--     security guards against a faulty query, not against code running as the API.
-- Both are NOLOGIN here: a deployment gives them LOGIN and a password (the private cluster
-- does so itself, `dampwatch_store::roles::private_logins`). Roles are cluster-wide, so they
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
-- Whatever made them (an operator may have created them with LOGIN first, inheriting by
-- default): neither inherits or makes roles, and a superuser, row-level-security-bypassing
-- or replication role stops the migration (only a superuser could change those).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname IN ('dampwatch_collector', 'dampwatch_api')
               AND (rolsuper OR rolbypassrls OR rolreplication)) THEN
        RAISE EXCEPTION 'dampwatch_collector and dampwatch_api must not be superusers, bypass row-level security or replicate: ALTER ROLE them first';
    END IF;
END
$$;
ALTER ROLE dampwatch_collector NOINHERIT NOCREATEDB NOCREATEROLE;
ALTER ROLE dampwatch_api NOINHERIT NOCREATEDB NOCREATEROLE;
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
-- nextval, never setval (which could move a sequence back onto existing ids).
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO dampwatch_collector;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dampwatch_collector;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO dampwatch_collector;
-- The migrations' own record is the owner's.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM dampwatch_collector;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text, text) TO dampwatch_collector;

-- The API outside a tenant transaction: people, their sessions and second factors (sign-in
-- finds a person before knowing their landlord), and appending to the audit log. Each of these
-- tables has row-level security whose `service_access` policy lets this role through.
GRANT SELECT, INSERT, UPDATE, DELETE ON users, recovery_codes, sessions, password_resets TO dampwatch_api;
GRANT USAGE ON SEQUENCE users_id_seq TO dampwatch_api;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text, text) TO dampwatch_api;
-- A person's landlord by name, shown at sign-in; a person's own e-mail choices.
GRANT SELECT ON landlords TO dampwatch_api;
GRANT SELECT, INSERT, UPDATE ON email_preferences TO dampwatch_api;

-- Keys, OAuth clients and tokens only through these functions: the API's login finds the one
-- credential whose hash was presented, and cannot list hashes or read another's row. SECURITY
-- DEFINER, run as the schema's owner, whose `service_access` policy sees every landlord's row.
CREATE FUNCTION api_key_owner(p_hash bytea)
RETURNS TABLE (id bigint, landlord_id text, last_used_at timestamptz, can_write boolean, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT k.id, k.landlord_id, k.last_used_at, 'write' = ANY (k.scopes), k.expires_at FROM api_keys k
    WHERE k.key_hash = p_hash AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
$$;
CREATE FUNCTION oauth_token_owner(p_hash bytea)
RETURNS TABLE (client bigint, landlord_id text, last_used_at timestamptz, can_write boolean, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT t.client, t.landlord_id, c.last_used_at, 'write' = ANY (t.scopes), t.expires_at
    FROM oauth_tokens t JOIN oauth_clients c ON c.id = t.client
    WHERE t.token_hash = p_hash AND c.revoked_at IS NULL AND t.expires_at > now()
$$;
-- The client whose id and secret's digest were presented (digests are compared: how much of
-- a guess's digest matches says nothing of the secret).
CREATE FUNCTION oauth_client_check(p_client_id text, p_secret_hash bytea)
RETURNS TABLE (id bigint, landlord_id text, can_write boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT c.id, c.landlord_id, 'write' = ANY (c.scopes) FROM oauth_clients c
    WHERE c.client_id = p_client_id AND c.secret_hash = p_secret_hash AND c.revoked_at IS NULL
$$;
-- When the key, or the OAuth client of the token, whose hash was presented was last used:
-- only a credential the caller holds.
CREATE FUNCTION credential_used(p_hash bytea, p_at timestamptz) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE api_keys SET last_used_at = p_at WHERE key_hash = p_hash;
    UPDATE oauth_clients SET last_used_at = p_at
    WHERE id = (SELECT t.client FROM oauth_tokens t WHERE t.token_hash = p_hash);
$$;
-- Issues a token to the client whose id and secret's digest were presented, within the
-- client's scopes and for at most an hour; drops tokens expired before `p_prune_before`.
-- Nothing is issued to a client whose secret the caller does not hold.
CREATE FUNCTION oauth_token_issue(p_client_id text, p_secret_hash bytea, p_token_hash bytea, p_scopes text[],
    p_issued_at timestamptz, p_expires_at timestamptz, p_prune_before timestamptz)
RETURNS TABLE (client bigint, landlord_id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    c oauth_clients%ROWTYPE;
BEGIN
    SELECT * INTO c FROM oauth_clients oc
    WHERE oc.client_id = p_client_id AND oc.secret_hash = p_secret_hash AND oc.revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT (p_scopes <@ c.scopes) OR cardinality(p_scopes) = 0 THEN
        RAISE EXCEPTION 'scopes % are not within the client''s %', p_scopes, c.scopes
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_expires_at <= p_issued_at OR p_expires_at - p_issued_at > interval '1 hour' THEN
        RAISE EXCEPTION 'a token lives at most an hour' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO oauth_tokens (token_hash, client, landlord_id, scopes, issued_at, expires_at)
    VALUES (p_token_hash, c.id, c.landlord_id, p_scopes, p_issued_at, p_expires_at);
    UPDATE oauth_clients SET last_used_at = p_issued_at WHERE id = c.id;
    DELETE FROM oauth_tokens WHERE expires_at < p_prune_before;
    RETURN QUERY SELECT c.id, c.landlord_id;
END
$$;
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['api_key_owner(bytea)', 'oauth_token_owner(bytea)',
        'oauth_client_check(text, bytea)', 'credential_used(bytea, timestamptz)',
        'oauth_token_issue(text, bytea, bytea, text[], timestamptz, timestamptz, timestamptz)']
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO dampwatch_api', f);
    END LOOP;
END
$$;
