-- What officers write on a case (an event's evidence: notes, photos' descriptions, a triage's
-- reasons, which may cite an occupant's vulnerability) is personal data: from now on it is kept
-- only sealed, in `case_event_texts`, under the landlord's current data key (AES-256-GCM, bound
-- to landlord, `case_event_texts.sealed` and the row's id; crates/privacy/README.md), with the
-- key's generation beside it.
--
-- `case_events` is append-only and hash-chained, so the text cannot live there and still be
-- re-sealed when the key rotates or become unreadable when the landlord is erased. The event's
-- `evidence` holds instead a reference to the sealed text and the SHA-256 of a random salt and
-- the text (`{"sealed_text": {"id": …, "sha256": …}}`, beside `late_record`): the chain commits
-- to the text through that digest, the salt (sealed with the text) keeps the digest from
-- confirming a guess, and the chain still verifies after the text is erased.
CREATE TABLE case_event_texts (
    id             bigserial PRIMARY KEY,
    -- Deleted with its case (the closed-case retention cut deletes cases).
    case_id        bigint NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    landlord_id    text NOT NULL REFERENCES landlords (id),
    key_generation integer NOT NULL,
    -- salt (32 bytes) || the evidence's JSON text, sealed.
    sealed         bytea NOT NULL,
    FOREIGN KEY (landlord_id, key_generation) REFERENCES landlord_data_keys (landlord_id, generation)
);
CREATE INDEX case_event_texts_case ON case_event_texts (case_id);
CREATE INDEX case_event_texts_landlord_generation ON case_event_texts (landlord_id, key_generation);

-- Row-level security as on the case log itself (0200, 0210): the tenant role sees only its
-- landlord's rows, and a contractor only those of cases assigned to it.
ALTER TABLE case_event_texts ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_event_texts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON case_event_texts TO dampwatch_api_tenant
    USING (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''))
    WITH CHECK (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''));
CREATE POLICY service_access ON case_event_texts
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
CREATE POLICY contractor_assigned ON case_event_texts AS RESTRICTIVE TO dampwatch_api_tenant
    USING (contractor_may_see((SELECT c.assigned_user_id FROM cases c WHERE c.id = case_event_texts.case_id)));
-- Append-only for the API, as the events are: it seals new texts and reads them.
GRANT SELECT, INSERT ON case_event_texts TO dampwatch_api_tenant;
GRANT USAGE ON SEQUENCE case_event_texts_id_seq TO dampwatch_api_tenant;

-- The API seals and opens under its landlord's data key, so it now holds the master key; the
-- wrapped keys themselves stay ungranted to the tenant role (0430). These functions give it
-- its own landlord's keys only (the landlord of the transaction, `dampwatch.landlord`), never
-- another's, and never a way to retire, destroy or re-wrap one.

-- The current key, held FOR SHARE until the transaction ends, so a rotation or an erasure
-- waits for the seal that uses it (crates/privacy/src/keys.rs).
CREATE FUNCTION tenant_current_data_key()
RETURNS TABLE (generation integer, wrapped_key bytea, master_key_id text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT k.generation, k.wrapped_key, k.master_key_id FROM landlord_data_keys k
    WHERE k.landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
      AND k.retired_at IS NULL AND k.destroyed_at IS NULL
    FOR SHARE
$$;

-- Generation `p_generation` of the key (NULL wrapped_key once retired or destroyed).
CREATE FUNCTION tenant_data_key(p_generation integer)
RETURNS TABLE (wrapped_key bytea, master_key_id text, destroyed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT k.wrapped_key, k.master_key_id, k.destroyed_at
    FROM landlord_data_keys k
    WHERE k.landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
      AND k.generation = p_generation
$$;

-- When the landlord's keys were erased, if they were (to say so rather than "no key").
CREATE FUNCTION tenant_data_keys_erased_at() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT max(destroyed_at) FROM landlord_data_keys
    WHERE landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
$$;

-- A landlord with no key yet gets generation 1, wrapped by the caller under the master key;
-- never one whose keys were erased, never a second. Returns whether it was added.
CREATE FUNCTION tenant_first_data_key(p_wrapped bytea, p_master_key_id text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    landlord text := nullif(current_setting('dampwatch.landlord', true), '');
BEGIN
    IF landlord IS NULL THEN
        RETURN false;
    END IF;
    LOCK TABLE landlord_data_keys IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM landlord_data_keys WHERE landlord_id = landlord) THEN
        RETURN false;
    END IF;
    INSERT INTO landlord_data_keys (landlord_id, generation, wrapped_key, master_key_id)
    VALUES (landlord, 1, p_wrapped, p_master_key_id);
    RETURN true;
END
$$;

REVOKE EXECUTE ON FUNCTION tenant_current_data_key() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tenant_data_key(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tenant_data_keys_erased_at() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tenant_first_data_key(bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_current_data_key() TO dampwatch_api_tenant;
GRANT EXECUTE ON FUNCTION tenant_data_key(integer) TO dampwatch_api_tenant;
GRANT EXECUTE ON FUNCTION tenant_data_keys_erased_at() TO dampwatch_api_tenant;
GRANT EXECUTE ON FUNCTION tenant_first_data_key(bytea, text) TO dampwatch_api_tenant;
