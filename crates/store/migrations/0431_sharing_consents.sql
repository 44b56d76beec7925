-- Consent to share a tenancy's data with a third party (an insurer, a researcher): who, for
-- what purpose, when given and how (the signed form's reference), when withdrawn. A share is
-- refused without a consent valid at that moment for that recipient and purpose, and every
-- share and refusal is in the audit log. Consent records outlive the tenancy they were given
-- for (`tenancy_id` becomes NULL when its personal data is erased): they are the proof that
-- what was shared was shared lawfully.
CREATE TABLE sharing_consents (
    id           bigserial PRIMARY KEY,
    landlord_id  text NOT NULL REFERENCES landlords (id),
    tenancy_id   bigint REFERENCES tenancies (id) ON DELETE SET NULL,
    recipient    text NOT NULL CHECK (recipient <> ''),
    purpose      text NOT NULL CHECK (purpose <> ''),
    -- How it was given: the consent form's reference, who witnessed it.
    evidence     text NOT NULL DEFAULT '',
    given_at     timestamptz NOT NULL,
    recorded_by  text NOT NULL,
    expires_at   timestamptz,
    withdrawn_at timestamptz,
    withdrawn_by text,
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL)),
    CHECK (expires_at IS NULL OR expires_at > given_at)
);
CREATE INDEX sharing_consents_tenancy ON sharing_consents (tenancy_id, recipient, purpose);

-- Erasure requests carried out: what was erased and when, without the personal data itself.
CREATE TABLE tenancy_erasures (
    id          bigserial PRIMARY KEY,
    landlord_id text NOT NULL REFERENCES landlords (id),
    tenancy_id  bigint NOT NULL,
    dwelling_id bigint NOT NULL REFERENCES dwellings (id),
    starts_on   date NOT NULL,
    ends_on     date,
    erased_at   timestamptz NOT NULL DEFAULT now(),
    erased_by   text NOT NULL
);

GRANT SELECT ON sharing_consents, tenancy_erasures TO dampwatch_api_tenant;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sharing_consents', 'tenancy_erasures']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO dampwatch_api_tenant
                 USING (landlord_id = nullif(current_setting(''dampwatch.landlord'', true), ''''))',
            t);
        EXECUTE format(
            'CREATE POLICY service_access ON %I
                 USING (current_user <> ''dampwatch_api_tenant'')
                 WITH CHECK (current_user <> ''dampwatch_api_tenant'')',
            t);
    END LOOP;
END
$$;
