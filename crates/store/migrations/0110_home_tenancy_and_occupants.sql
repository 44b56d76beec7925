-- Where each home is, how it is let, and who lives there as far as the rules need to know.
--
-- `jurisdiction` and `tenure` decide which law's response clock (if any) a case runs under
-- (dampwatch-clock law files); a case records the tenancy it was opened under, so a later
-- change to the home never rewrites an open case's deadlines. Homes recorded before these
-- columns existed were English social homes: that is the default.
--
-- `vulnerabilities` select stricter cold and heat rules (dampwatch-indicators
-- data/occupants.toml). They are special-category personal data (health): only the
-- categories the rules need are kept, never names, ages or diagnoses.
ALTER TABLE dwellings
    ADD COLUMN jurisdiction    text NOT NULL DEFAULT 'england'
        CHECK (jurisdiction IN ('england', 'scotland', 'wales')),
    ADD COLUMN tenure          text NOT NULL DEFAULT 'social'
        CHECK (tenure IN ('social', 'private_rented')),
    ADD COLUMN vulnerabilities text[] NOT NULL DEFAULT '{}'
        CHECK (vulnerabilities <@ ARRAY['over_65', 'under_5', 'respiratory_condition',
                                        'cardiovascular_condition']::text[]);

ALTER TABLE cases
    ADD COLUMN jurisdiction text NOT NULL DEFAULT 'england'
        CHECK (jurisdiction IN ('england', 'scotland', 'wales')),
    ADD COLUMN tenure       text NOT NULL DEFAULT 'social'
        CHECK (tenure IN ('social', 'private_rented'));
