-- Personal data of the people who live in a home, encrypted per landlord.
--
-- A tenancy's names, phone numbers, e-mail addresses and free-text notes (which may describe a
-- tenant's health) are kept only sealed: `personal` is AES-256-GCM ciphertext under the
-- landlord's current data key (format in crates/privacy/README.md), never plaintext, so a
-- database dump, a replica or a backup reveals none of it without the master key, which the
-- database never holds. The ciphertext is bound to the landlord, this table and column and the
-- row's id: copied to another row or landlord, it does not open.
--
-- `landlord_data_keys` holds each landlord's data keys, each wrapped (encrypted) under the
-- master key named by `master_key_id`. Rotating the landlord's key re-seals every tenancy under
-- a new generation and clears the old generation's wrapped key; erasing the landlord clears
-- every wrapped key and records when (`destroyed_at`), so its tenancies can never be opened
-- again (cryptographic erasure). Rows stay so that a refusal can say "erased" rather than
-- "unknown", and so the history of generations is kept; a row without a wrapped key is
-- retired or destroyed, never current.
CREATE TABLE landlord_data_keys (
    landlord_id   text NOT NULL REFERENCES landlords (id),
    generation    integer NOT NULL CHECK (generation > 0),
    -- The 32-byte data key encrypted under the master key; NULL once retired or destroyed.
    wrapped_key   bytea,
    master_key_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    retired_at    timestamptz,
    destroyed_at  timestamptz,
    UNIQUE (landlord_id, generation),
    CHECK (wrapped_key IS NOT NULL OR retired_at IS NOT NULL OR destroyed_at IS NOT NULL)
);
-- At most one current key per landlord: the one every new seal uses.
CREATE UNIQUE INDEX landlord_data_keys_current ON landlord_data_keys (landlord_id)
    WHERE retired_at IS NULL AND destroyed_at IS NULL;

-- A tenancy's dwelling must be the landlord's own: the composite key below checks it, so no
-- writer can file one landlord's tenants under another's home.
CREATE UNIQUE INDEX dwellings_id_landlord ON dwellings (id, landlord_id);

CREATE TABLE tenancies (
    id             bigserial PRIMARY KEY,
    landlord_id    text NOT NULL REFERENCES landlords (id),
    dwelling_id    bigint NOT NULL REFERENCES dwellings (id),
    starts_on      date NOT NULL,
    ends_on        date CHECK (ends_on IS NULL OR ends_on >= starts_on),
    -- Sealed JSON: names, phone numbers, e-mail addresses, notes. Never plaintext.
    personal       bytea NOT NULL,
    -- The generation of the landlord's data key that sealed `personal` (also in its header).
    key_generation integer NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (dwelling_id, landlord_id) REFERENCES dwellings (id, landlord_id),
    FOREIGN KEY (landlord_id, key_generation) REFERENCES landlord_data_keys (landlord_id, generation)
);
CREATE INDEX tenancies_dwelling ON tenancies (dwelling_id);
CREATE INDEX tenancies_landlord_generation ON tenancies (landlord_id, key_generation);

-- Row-level security as on every landlord-owned table (0200): the tenant role sees only its
-- landlord's tenancies, as ciphertext (opening needs the master key, which the API does not
-- hold); other roles keep the access their privileges give them.
ALTER TABLE tenancies ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenancies TO dampwatch_api_tenant
    USING (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''))
    WITH CHECK (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''));
CREATE POLICY service_access ON tenancies
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
GRANT SELECT ON tenancies TO dampwatch_api_tenant;

-- The wrapped keys are never granted to the tenant role; row-level security with no policy for
-- it is a second lock, should a later migration grant the table by mistake.
ALTER TABLE landlord_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE landlord_data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY service_access ON landlord_data_keys
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
REVOKE ALL ON landlord_data_keys FROM dampwatch_api_tenant;
