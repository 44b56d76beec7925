-- What officers write on a case (an event's evidence: notes, photos' descriptions, a triage's
-- reasons, which may cite an occupant's vulnerability) is personal data: from now on it is kept
-- only sealed, in `case_event_texts`, under the landlord's current case text key (AES-256-GCM,
-- bound to landlord, `case_event_texts.sealed` and the row's id; crates/privacy/README.md),
-- with the key's generation beside it.
--
-- `case_events` is append-only and hash-chained, so the text cannot live there and still be
-- re-sealed when the key rotates or become unreadable when the landlord is erased. The event's
-- `evidence` holds instead a reference to the sealed text and the SHA-256 of a random salt and
-- the text (`{"sealed_text": {"id": …, "sha256": …}}`, beside `late_record`): the chain commits
-- to the text through that digest, the salt (sealed with the text) keeps the digest from
-- confirming a guess, and the chain still verifies after the text is erased.
--
-- The API seals what officers write and shows it, so it must open these keys; it must not open
-- a tenancy or a home's occupants. So case text keys are a landlord's second key tree: each is
-- sealed under the services' secrets key (the key the API already holds for TOTP secrets, a
-- file beside the PKI), never under the operator's master key, which stays off the API's host.
-- A landlord's erasure destroys both trees.
CREATE TABLE landlord_text_keys (
    landlord_id    text NOT NULL REFERENCES landlords (id),
    generation     integer NOT NULL CHECK (generation > 0),
    -- The 32-byte key sealed under the secrets key named by `secrets_key_id`; NULL once
    -- retired or destroyed.
    wrapped_key    bytea,
    secrets_key_id text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    retired_at     timestamptz,
    destroyed_at   timestamptz,
    PRIMARY KEY (landlord_id, generation),
    CHECK (wrapped_key IS NOT NULL OR retired_at IS NOT NULL OR destroyed_at IS NOT NULL)
);
-- At most one current key per landlord: the one every new seal uses.
CREATE UNIQUE INDEX landlord_text_keys_current ON landlord_text_keys (landlord_id)
    WHERE retired_at IS NULL AND destroyed_at IS NULL;
-- A landlord erased before: no text key may ever be made for it.
INSERT INTO landlord_text_keys (landlord_id, generation, wrapped_key, secrets_key_id, retired_at, destroyed_at)
SELECT landlord_id, 1, NULL, '', max(destroyed_at), max(destroyed_at)
FROM landlord_data_keys WHERE destroyed_at IS NOT NULL GROUP BY landlord_id;

-- A text's case must be its landlord's own: the composite key below checks it.
CREATE UNIQUE INDEX cases_id_landlord ON cases (id, landlord_id);

CREATE TABLE case_event_texts (
    id             bigserial PRIMARY KEY,
    case_id        bigint NOT NULL,
    landlord_id    text NOT NULL REFERENCES landlords (id),
    key_generation integer NOT NULL,
    -- salt (32 bytes) || the evidence's JSON text, sealed.
    sealed         bytea NOT NULL,
    -- Deleted with its case (the closed-case retention cut deletes cases).
    FOREIGN KEY (case_id, landlord_id) REFERENCES cases (id, landlord_id) ON DELETE CASCADE,
    FOREIGN KEY (landlord_id, key_generation) REFERENCES landlord_text_keys (landlord_id, generation)
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

ALTER TABLE landlord_text_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE landlord_text_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON landlord_text_keys TO dampwatch_api_tenant
    USING (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''))
    WITH CHECK (false);
CREATE POLICY service_access ON landlord_text_keys
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
-- The tenant role reads its landlord's sealed keys (useless without the secrets key); it
-- adds a first key and holds the current one only through the functions below.
GRANT SELECT ON landlord_text_keys TO dampwatch_api_tenant;

-- The collector's login reads and writes every table by default (0460); it has no business
-- with texts or their keys. Only the operator (the tables' owner) re-seals, rotates, erases or deletes,
-- and a case's deletion takes its texts with it.
REVOKE ALL ON case_event_texts FROM dampwatch_collector;
REVOKE ALL ON landlord_text_keys FROM dampwatch_collector;

-- The current key of the transaction's landlord (`dampwatch.landlord`), held FOR SHARE until
-- the transaction ends, so a rotation or an erasure waits for the seal that uses it.
CREATE FUNCTION tenant_current_text_key()
RETURNS TABLE (generation integer, wrapped_key bytea, secrets_key_id text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT k.generation, k.wrapped_key, k.secrets_key_id FROM landlord_text_keys k
    WHERE k.landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
      AND k.retired_at IS NULL AND k.destroyed_at IS NULL
    FOR SHARE
$$;

-- A landlord that has never had a text key (and so was never erased) gets generation 1,
-- sealed by the caller; never a second. Returns whether it was added.
CREATE FUNCTION tenant_first_text_key(p_wrapped bytea, p_secrets_key_id text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH added AS (
        INSERT INTO landlord_text_keys (landlord_id, generation, wrapped_key, secrets_key_id)
        SELECT s.landlord, 1, p_wrapped, p_secrets_key_id
        FROM (SELECT nullif(current_setting('dampwatch.landlord', true), '') AS landlord) s
        WHERE s.landlord IS NOT NULL
        ON CONFLICT (landlord_id, generation) DO NOTHING
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM added)
$$;

REVOKE EXECUTE ON FUNCTION tenant_current_text_key() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION tenant_first_text_key(bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_current_text_key() TO dampwatch_api_tenant;
GRANT EXECUTE ON FUNCTION tenant_first_text_key(bytea, text) TO dampwatch_api_tenant;
