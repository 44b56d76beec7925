-- Landlord API keys, and the database role every API request runs as: it can reach only the
-- rows of the landlord named in the transaction setting `dampwatch.landlord`, so a faulty
-- query in the API still cannot cross landlords.

-- Keys are stored only as SHA-256 hashes; the key itself is shown once, when created.
CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    landlord_id  text NOT NULL REFERENCES landlords (id),
    label        text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    -- The key's first characters, so an operator can tell keys apart in a listing.
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_landlord ON api_keys (landlord_id);

-- The tenant role. NOLOGIN: nobody connects as it; the service switches to it with
-- SET LOCAL ROLE inside each request's transaction. Roles are shared by every database of a
-- cluster, so it may already exist (another Dampwatch database, a concurrent migration).
DO $$
BEGIN
    CREATE ROLE dampwatch_api_tenant NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The service's own role must be allowed to switch to it (superusers always are).
DO $$
BEGIN
    GRANT dampwatch_api_tenant TO CURRENT_USER;
EXCEPTION WHEN unique_violation THEN
    NULL;
END
$$;

-- What a request may do: read its landlord's registry, alerts, cases and webhook log; record
-- case events (which refreshes the case snapshot and deadlines and queues a webhook); open a
-- case when a person triages an alert. Nothing on readings, uplinks, the inbox, the
-- quarantine or api_keys: those are never granted, so no policy is needed to hide them.
GRANT USAGE ON SCHEMA public TO dampwatch_api_tenant;
GRANT SELECT ON landlords, dwellings, rooms, devices, alerts, cases, case_events, case_deadlines,
    webhook_outbox, webhook_deliveries TO dampwatch_api_tenant;
-- Never the signing secret.
GRANT SELECT (id, landlord_id, url, active, description, created_at) ON webhook_endpoints
    TO dampwatch_api_tenant;
GRANT UPDATE (triage, case_id) ON alerts TO dampwatch_api_tenant;
GRANT INSERT ON cases TO dampwatch_api_tenant;
GRANT UPDATE (state, track, awareness, view, view_at, calendar_version, rules_version, event_count,
    updated_at) ON cases TO dampwatch_api_tenant;
-- Append only (case_events also refuses UPDATE and DELETE by trigger, for every role).
GRANT INSERT ON case_events TO dampwatch_api_tenant;
-- The deadline rows are a projection of the events, replaced on every event.
GRANT INSERT, DELETE ON case_deadlines TO dampwatch_api_tenant;
GRANT INSERT ON webhook_outbox TO dampwatch_api_tenant;
GRANT USAGE ON SEQUENCE cases_id_seq, case_events_id_seq, webhook_outbox_id_seq TO dampwatch_api_tenant;

-- Row-level security on every landlord-owned table the tenant role can reach (and api_keys).
-- FORCE makes the tables' owner go through a policy too. Two permissive policies each:
--   tenant_isolation: the tenant role sees and writes only rows of the landlord in
--     `dampwatch.landlord` (unset or empty: nothing; the setting is transaction-local);
--   service_access: every other role (the collector and the hazard engine, which work
--     across landlords) keeps the access its privileges give it.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dwellings', 'devices', 'room_hazard_state', 'alerts', 'cases',
        'case_events', 'case_deadlines', 'webhook_endpoints', 'webhook_outbox', 'webhook_deliveries',
        'api_keys']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO dampwatch_api_tenant
                 USING (landlord_id = nullif(current_setting(''dampwatch.landlord'', true), ''''))
                 WITH CHECK (landlord_id = nullif(current_setting(''dampwatch.landlord'', true), ''''))',
            t);
        EXECUTE format(
            'CREATE POLICY service_access ON %I
                 USING (current_user <> ''dampwatch_api_tenant'')
                 WITH CHECK (current_user <> ''dampwatch_api_tenant'')',
            t);
    END LOOP;
END
$$;

ALTER TABLE landlords ENABLE ROW LEVEL SECURITY;
ALTER TABLE landlords FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON landlords TO dampwatch_api_tenant
    USING (id = nullif(current_setting('dampwatch.landlord', true), ''))
    WITH CHECK (id = nullif(current_setting('dampwatch.landlord', true), ''));
CREATE POLICY service_access ON landlords
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');

-- Rooms carry no landlord column: a room belongs to its dwelling's landlord.
ALTER TABLE rooms ENABLE ROW LEVEL SECURITY;
ALTER TABLE rooms FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rooms TO dampwatch_api_tenant
    USING (EXISTS (SELECT 1 FROM dwellings d WHERE d.id = rooms.dwelling_id
                   AND d.landlord_id = nullif(current_setting('dampwatch.landlord', true), '')))
    WITH CHECK (false);
CREATE POLICY service_access ON rooms
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
