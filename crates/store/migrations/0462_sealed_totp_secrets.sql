-- People's TOTP secrets sealed at rest under the services' secrets key (as webhook secrets,
-- migration 0461), bound to the person's landlord and row: the API's login, which sign-in needs
-- to read every person's row, and anyone holding a dump, no longer hold a second factor.
-- The clear columns stay for rows written before this; the collector seals them at its start,
-- and sign-in reads either form meanwhile. A row holds each secret in one form at most.
ALTER TABLE users ADD COLUMN totp_sealed bytea;
ALTER TABLE users ADD COLUMN totp_pending_sealed bytea;
ALTER TABLE users ADD CONSTRAINT users_totp_one_form CHECK (totp_secret IS NULL OR totp_sealed IS NULL);
ALTER TABLE users ADD CONSTRAINT users_totp_pending_one_form
    CHECK (totp_pending IS NULL OR totp_pending_sealed IS NULL);
-- Whether a second factor is in use, in either form (readable where the secret is not).
ALTER TABLE users DROP COLUMN mfa_enabled;
ALTER TABLE users ADD COLUMN mfa_enabled boolean
    GENERATED ALWAYS AS (totp_secret IS NOT NULL OR totp_sealed IS NOT NULL) STORED;
GRANT SELECT (mfa_enabled) ON users TO dampwatch_api_tenant;
