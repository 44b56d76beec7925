-- Legal holds: what the retention job must not delete, whatever its age.
--
-- A home is held while it has an open case (derived, nobody has to remember) or an unreleased
-- hold recorded for a complaint, a dispute or a claim. What is held is the evidence of what the
-- home was like: the readings, signed uplinks and hourly rollups of the devices placed in it,
-- and its closed cases (collector/data/retention.toml marks these classes `held`). Devices are
-- taken where the registry places them now: a device moved out of a held home takes its
-- history with it, so move devices only after a hold's evidence is exported.
CREATE TABLE legal_holds (
    id          bigserial PRIMARY KEY,
    landlord_id text NOT NULL REFERENCES landlords (id),
    dwelling_id bigint NOT NULL REFERENCES dwellings (id),
    reason      text NOT NULL CHECK (reason IN ('complaint', 'dispute', 'claim')),
    -- The complaint's, the Ombudsman's or the court's reference, and why.
    note        text NOT NULL DEFAULT '',
    opened_at   timestamptz NOT NULL DEFAULT now(),
    opened_by   text NOT NULL,
    released_at timestamptz,
    released_by text,
    CHECK ((released_at IS NULL) = (released_by IS NULL))
);
CREATE INDEX legal_holds_open ON legal_holds (dwelling_id) WHERE released_at IS NULL;

-- Every device whose data is held now.
CREATE VIEW retention_held_devices AS
WITH held_dwellings AS (
    SELECT dwelling_id FROM legal_holds WHERE released_at IS NULL
    UNION
    SELECT r.dwelling_id FROM cases c JOIN rooms r ON r.id = c.room_id WHERE c.state <> 'closed'
)
SELECT d.id AS device_id
FROM devices d JOIN rooms r ON r.id = d.room_id
WHERE r.dwelling_id IN (SELECT dwelling_id FROM held_dwellings)
UNION
SELECT c.device_id FROM cases c WHERE c.state <> 'closed' AND c.device_id IS NOT NULL;

-- Every dwelling held now, with why (for closed cases and for people to read).
CREATE VIEW retention_held_dwellings AS
SELECT dwelling_id, reason FROM legal_holds WHERE released_at IS NULL
UNION
SELECT r.dwelling_id, 'open_case' FROM cases c JOIN rooms r ON r.id = c.room_id WHERE c.state <> 'closed';

-- A landlord's people may see their own holds.
GRANT SELECT ON legal_holds TO dampwatch_api_tenant;
ALTER TABLE legal_holds ENABLE ROW LEVEL SECURITY;
ALTER TABLE legal_holds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON legal_holds TO dampwatch_api_tenant
    USING (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''));
CREATE POLICY service_access ON legal_holds
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
