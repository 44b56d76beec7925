-- A home's occupants' vulnerabilities (over 65, under 5, a respiratory or cardiovascular
-- condition) are special-category personal data (health): from now on they are kept only
-- sealed, like a tenancy's names and notes (0430), in `occupants` under the landlord's current
-- data key (AES-256-GCM, bound to landlord, `dwellings.occupants` and the row's id; format in
-- crates/privacy/README.md), with the key's generation beside them.
--
-- In clear is only what the hazard worker needs to pick a room's rules and cannot learn
-- otherwise: `occupant_rules`, the ids of the stricter rules of the occupant data
-- (dampwatch-indicators data/occupants.toml) the recorded vulnerabilities select, written in
-- the same transaction as the sealed record. Every vulnerability selects the same stricter
-- rules today, so the clear column says that a home has an occupant those rules protect,
-- never which kind of occupant; opening the record needs the master key, which neither the
-- database, the hazard worker nor the API holds.
ALTER TABLE dwellings
    ADD COLUMN occupant_rules           text[] NOT NULL DEFAULT '{}',
    ADD COLUMN occupants                bytea,
    ADD COLUMN occupants_key_generation integer,
    ADD CONSTRAINT dwellings_occupants_generation
        CHECK ((occupants IS NULL) = (occupants_key_generation IS NULL)),
    ADD CONSTRAINT dwellings_occupants_key
        FOREIGN KEY (landlord_id, occupants_key_generation) REFERENCES landlord_data_keys (landlord_id, generation);

-- Homes recorded before keep judging their rooms by the stricter rules at once: the selection
-- is derived here from the occupant data version in force (occupants-2026-12, where every
-- vulnerability selects both stricter rules). A landlord erased before has nothing left to
-- seal or select: its categories go now.
UPDATE dwellings d SET vulnerabilities = '{}'
WHERE EXISTS (SELECT 1 FROM landlord_data_keys k WHERE k.landlord_id = d.landlord_id AND k.destroyed_at IS NOT NULL);
UPDATE dwellings SET occupant_rules = ARRAY['cold.below_18c_vulnerable', 'heat.above_24c_vulnerable']
WHERE cardinality(vulnerabilities) > 0;

-- What the hazard worker wrote before named the categories: the rule set version of alerts
-- and rooms (`…+occupants-2026-12:over_65`) and each stricter rule's basis ("because the home
-- records an occupant aged 65 or over"). They are rewritten as the worker writes them now:
-- the version ends `:sealed` (which categories selected the rules is in the home's sealed
-- record), the basis says "an occupant these rules protect". Case events that copied an
-- alert's explanation before are hash-chained and keep their words, as do messages already
-- queued for a webhook or an e-mail (crates/privacy/README.md).
UPDATE alerts SET ruleset_version = regexp_replace(ruleset_version, '\+occupants-2026-12:[a-z0-9_,]+$', '+occupants-2026-12:sealed')
WHERE ruleset_version ~ '\+occupants-2026-12:(over_65|under_5|respiratory_condition|cardiovascular_condition)';
UPDATE room_hazard_state SET ruleset_version = regexp_replace(ruleset_version, '\+occupants-2026-12:[a-z0-9_,]+$', '+occupants-2026-12:sealed')
WHERE ruleset_version ~ '\+occupants-2026-12:(over_65|under_5|respiratory_condition|cardiovascular_condition)';
UPDATE alerts SET explanation = regexp_replace(
        explanation::text,
        'because the home records (?:(?:an occupant aged 65 or over|a child under 5|an occupant with a respiratory \(lung\) condition|an occupant with a cardiovascular \(heart\) condition)(?:, )?)+ \(occupants-2026-12\)',
        'because the home records an occupant these rules protect (occupants-2026-12)',
        'g')::jsonb
WHERE explanation::text LIKE '%because the home records %(occupants-2026-12)%';

-- A migration cannot seal (the master key is outside the database): what was recorded in
-- clear waits under this name until `dampwatch homes seal-occupants` seals it and empties it.
-- Nothing reads it but that command and the subject access export.
ALTER TABLE dwellings RENAME COLUMN vulnerabilities TO unsealed_vulnerabilities;

-- The API's tenant role and the evidence reader read a home's clear columns only: never its
-- sealed record (useless to them without the master key, which they do not hold) nor the
-- categories waiting unsealed.
REVOKE SELECT ON dwellings FROM dampwatch_api_tenant, dampwatch_evidence_reader;
GRANT SELECT (id, landlord_id, reference, address, jurisdiction, tenure, area, occupant_rules)
    ON dwellings TO dampwatch_api_tenant, dampwatch_evidence_reader;
