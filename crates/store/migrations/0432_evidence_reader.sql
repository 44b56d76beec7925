-- The role a case's evidence pack is read as. The pack needs the devices' registry and the
-- signed uplinks, which the tenant role cannot read, so the API reads it on its service
-- connection after the tenant transaction found the case; switching to this role for that
-- snapshot keeps the read to what a pack holds: SELECT on these tables and nothing else (no
-- people, sessions, keys, webhook secrets, personal data or audit log), and on every
-- landlord table only the rows of the landlord named in `dampwatch.landlord`.
DO $$
BEGIN
    CREATE ROLE dampwatch_evidence_reader NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
DO $$
BEGIN
    GRANT dampwatch_evidence_reader TO CURRENT_USER;
EXCEPTION WHEN unique_violation THEN
    NULL;
END
$$;

GRANT SELECT ON cases, case_events, case_deadlines, alerts, dwellings, rooms, devices, readings, uplinks
    TO dampwatch_evidence_reader;

-- The landlord tables' policies let any role but the tenant through (`service_access`); these
-- restrictive ones narrow this role to one landlord. They name no role (`TO` a role would also
-- bind every member of it, the service among them) and test `current_user`, which is this role
-- only while a transaction has switched to it.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cases', 'case_events', 'case_deadlines', 'alerts', 'dwellings', 'rooms', 'devices']
    LOOP
        EXECUTE format(
            'CREATE POLICY evidence_one_landlord ON %I AS RESTRICTIVE
                 USING (current_user <> ''dampwatch_evidence_reader''
                        OR landlord_id = nullif(current_setting(''dampwatch.landlord'', true), ''''))',
            t);
    END LOOP;
END
$$;
