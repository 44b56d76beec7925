-- OAuth 2.0 clients (RFC 6749 §4.4, client credentials) for landlords' housing-management
-- systems, the short-lived bearer tokens they obtain, and key management by landlord admins.
--
-- A client's secret and every token are stored only as SHA-256 hashes of 256-bit random values
-- (shown once, when made). Tokens carry the client's landlord and scopes, and expire.

CREATE TABLE oauth_clients (
    id           bigserial PRIMARY KEY,
    landlord_id  text NOT NULL REFERENCES landlords (id),
    -- The public identifier the client authenticates with (`dwc_…`).
    client_id    text NOT NULL UNIQUE,
    secret_hash  bytea NOT NULL CHECK (length(secret_hash) = 32),
    label        text NOT NULL,
    scopes       text[] NOT NULL CHECK (scopes <@ '{read,write}'::text[] AND cardinality(scopes) > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX oauth_clients_landlord ON oauth_clients (landlord_id);

CREATE TABLE oauth_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    client      bigint NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    landlord_id text NOT NULL REFERENCES landlords (id),
    scopes      text[] NOT NULL,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);

-- Revoking a client voids its tokens at once (the key cache still remembers a token for at
-- most its TTL, as for keys).
CREATE FUNCTION oauth_clients_revoke_tokens() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL THEN
        DELETE FROM oauth_tokens WHERE client = NEW.id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER oauth_clients_revoke_tokens AFTER UPDATE ON oauth_clients
    FOR EACH ROW EXECUTE FUNCTION oauth_clients_revoke_tokens();

-- A landlord admin's request manages the landlord's keys and clients: it may write a new
-- secret's hash (never read one back), list, and revoke.
GRANT SELECT (id, landlord_id, label, prefix, scopes, created_at, last_used_at, revoked_at, expires_at)
    ON api_keys TO dampwatch_api_tenant;
GRANT INSERT (landlord_id, label, key_hash, prefix, scopes, expires_at) ON api_keys TO dampwatch_api_tenant;
GRANT UPDATE (revoked_at) ON api_keys TO dampwatch_api_tenant;
GRANT USAGE ON SEQUENCE api_keys_id_seq TO dampwatch_api_tenant;
GRANT SELECT (id, landlord_id, client_id, label, scopes, created_at, last_used_at, revoked_at)
    ON oauth_clients TO dampwatch_api_tenant;
GRANT INSERT (landlord_id, client_id, secret_hash, label, scopes) ON oauth_clients TO dampwatch_api_tenant;
GRANT UPDATE (revoked_at) ON oauth_clients TO dampwatch_api_tenant;
GRANT USAGE ON SEQUENCE oauth_clients_id_seq TO dampwatch_api_tenant;

ALTER TABLE oauth_clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_clients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON oauth_clients TO dampwatch_api_tenant
    USING (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''))
    WITH CHECK (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''));
CREATE POLICY service_access ON oauth_clients
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
-- Tokens: never reachable by the tenant role (no grant); RLS as everywhere else.
ALTER TABLE oauth_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY service_access ON oauth_tokens
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
