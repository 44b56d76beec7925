-- Webhook signing secrets sealed at rest (AES-256-GCM under the secrets key kept beside the
-- PKI, bound to the landlord, table, column and row): a dump, a backup or a role that can read
-- the table no longer holds a secret that signs alerts a landlord's systems would trust.
-- `secret` stays for rows written before this: the sender seals them at its start, and reads
-- either form meanwhile. A row holds exactly one of the two.
ALTER TABLE webhook_endpoints ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE webhook_endpoints ADD COLUMN secret_sealed bytea;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_one_secret
    CHECK ((secret IS NULL) <> (secret_sealed IS NULL));
