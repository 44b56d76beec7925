-- A third party's OAuth client (an insurer, say): registered by a landlord admin for one
-- recipient, it may do one thing, fetch a tenancy's share under a consent the tenants gave that
-- recipient (`sharing_consents`), and nothing else (no other endpoint reads with its token).
--
-- Such a client has the scope `share` alone and names its recipient; a landlord's own system
-- keeps `read` and `write` and names none. Tokens carry the scopes they were issued with, so a
-- token's owner says which recipient it speaks for only when its scopes are `{share}`.

ALTER TABLE oauth_clients ADD COLUMN recipient text
    CHECK (recipient IS NULL OR length(recipient) BETWEEN 1 AND 200);
ALTER TABLE oauth_clients DROP CONSTRAINT oauth_clients_scopes_check;
ALTER TABLE oauth_clients ADD CONSTRAINT oauth_clients_scopes_check CHECK (
    cardinality(scopes) > 0
    AND CASE WHEN recipient IS NULL THEN scopes <@ '{read,write}'::text[] ELSE scopes = '{share}'::text[] END
);

GRANT SELECT (recipient) ON oauth_clients TO dampwatch_api_tenant;
GRANT INSERT (recipient) ON oauth_clients TO dampwatch_api_tenant;

-- The owner of a presented token, with the recipient a share token speaks for. A new function:
-- `oauth_token_owner`, which an API of the previous release still calls during an upgrade,
-- answers only for the landlord's own systems' tokens from now on, so that release cannot take
-- a share token for a read token.
CREATE FUNCTION oauth_token_holder(p_hash bytea)
RETURNS TABLE (client bigint, landlord_id text, last_used_at timestamptz, can_write boolean, expires_at timestamptz,
               share_recipient text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT t.client, t.landlord_id, c.last_used_at, 'write' = ANY (t.scopes), t.expires_at,
           CASE WHEN 'share' = ANY (t.scopes) THEN c.recipient END
    FROM oauth_tokens t JOIN oauth_clients c ON c.id = t.client
    WHERE t.token_hash = p_hash AND c.revoked_at IS NULL AND t.expires_at > now()
$$;
CREATE OR REPLACE FUNCTION oauth_token_owner(p_hash bytea)
RETURNS TABLE (client bigint, landlord_id text, last_used_at timestamptz, can_write boolean, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT t.client, t.landlord_id, c.last_used_at, 'write' = ANY (t.scopes), t.expires_at
    FROM oauth_tokens t JOIN oauth_clients c ON c.id = t.client
    WHERE t.token_hash = p_hash AND c.revoked_at IS NULL AND t.expires_at > now()
      AND NOT ('share' = ANY (t.scopes))
$$;
-- The client whose id and secret's digest were presented, with its scopes (a share client's
-- are `{share}`, which the token endpoint grants as they are). A new function beside
-- `oauth_client_check`, which an API of the previous release still calls during an upgrade.
CREATE FUNCTION oauth_client_scopes(p_client_id text, p_secret_hash bytea)
RETURNS TABLE (id bigint, landlord_id text, scopes text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT c.id, c.landlord_id, c.scopes FROM oauth_clients c
    WHERE c.client_id = p_client_id AND c.secret_hash = p_secret_hash AND c.revoked_at IS NULL
$$;
REVOKE EXECUTE ON FUNCTION oauth_token_holder(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth_token_holder(bytea) TO dampwatch_api;
REVOKE EXECUTE ON FUNCTION oauth_client_scopes(text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth_client_scopes(text, bytea) TO dampwatch_api;

-- The share itself is read as the evidence reader (migration 0432), which could already read a
-- landlord's rooms, devices, readings, alerts, cases and events and its homes; nothing to add.
