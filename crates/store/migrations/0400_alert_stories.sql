-- Alert stories: one alert per room and hazard tells the whole story of a condition that comes
-- and goes. An alert that clears and comes back within the quiet period ([alerts.stories]
-- quiet_period) is opened again as the same alert with a new episode; its episodes keep when
-- each began and ended. Each alert says whether it runs a legal clock or is advisory; each room
-- carries a current risk level; a landlord may have advisory alerts' webhooks sent in a daily
-- batch instead of one by one.

-- Each time an alert's condition began and (once it has) ended. Episode 1 is the alert's first
-- raise; every re-opening adds the next. At most one episode of an alert is open.
CREATE TABLE alert_episodes (
    alert_id    bigint NOT NULL REFERENCES alerts (id),
    landlord_id text NOT NULL REFERENCES landlords (id),
    episode     integer NOT NULL CHECK (episode >= 1),
    -- Data time the condition began.
    since       timestamptz NOT NULL,
    -- Detection: wall-clock instant the system raised (or re-opened) the alert.
    raised_at   timestamptz NOT NULL,
    -- Data time the condition was seen gone; NULL while the episode lasts.
    cleared_at  timestamptz,
    -- The highest severity the episode reached.
    severity    text NOT NULL CHECK (severity IN ('amber', 'red')),
    PRIMARY KEY (alert_id, episode)
);
CREATE UNIQUE INDEX alert_episodes_one_open ON alert_episodes (alert_id) WHERE cleared_at IS NULL;
CREATE INDEX alert_episodes_landlord ON alert_episodes (landlord_id);

-- Every alert so far was one episode.
INSERT INTO alert_episodes (alert_id, landlord_id, episode, since, raised_at, cleared_at, severity)
SELECT id, landlord_id, 1, since, raised_at, cleared_at, severity FROM alerts;

-- How many episodes the alert has had (the newest is the current one), for listing.
ALTER TABLE alerts ADD COLUMN episodes integer NOT NULL DEFAULT 1 CHECK (episodes >= 1);

-- Whether the alert runs a legal clock: an alert that indicates an HHSRS hazard opens or joins
-- a case (a potential emergency or significant hazard, as triage decides) whose response clock
-- starts at detection or at triage; every other alert (ventilation, a device offline) is advice.
-- Derived from `hhsrs_hazard`, which decides whether a case opens, so the two never disagree.
ALTER TABLE alerts ADD COLUMN duty text NOT NULL
    GENERATED ALWAYS AS (CASE WHEN hhsrs_hazard IS NULL THEN 'advisory' ELSE 'legal_clock' END) STORED;

-- A room's current risk level (dampwatch-indicators `RoomRisk`: model version, level, reasons,
-- mould index), written with the room's state. Rooms not evaluated since this migration are
-- `unknown` until their next reading.
ALTER TABLE room_hazard_state
    ADD COLUMN risk_level text NOT NULL DEFAULT 'unknown'
        CHECK (risk_level IN ('low', 'unknown', 'elevated', 'high', 'severe')),
    ADD COLUMN risk jsonb NOT NULL DEFAULT '{}';
CREATE INDEX room_hazard_state_risk ON room_hazard_state (landlord_id, risk_level);

-- How a landlord wants advisory alerts' webhooks: one by one as they happen (`immediate`, as
-- before), or gathered into one delivery per endpoint a day (`daily`) at `advisory_batch_time`
-- (Europe/London). Alerts with a legal clock and case changes are always sent at once.
ALTER TABLE landlords
    ADD COLUMN advisory_webhooks   text NOT NULL DEFAULT 'immediate'
        CHECK (advisory_webhooks IN ('immediate', 'daily')),
    ADD COLUMN advisory_batch_time time NOT NULL DEFAULT '08:00';

-- Advisory events waiting for their landlord's batch, one row per (event, endpoint), written in
-- the transaction that made the change (as the outbox is), so nothing is lost. When `due_at`
-- passes, one transaction gathers an endpoint's due items into one `webhook_outbox` row
-- (`alert.batch`) and marks them with it, so each item is sent in exactly one batch, which the
-- outbox then delivers with its retries and idempotency key.
CREATE TABLE webhook_batch_items (
    id          bigserial PRIMARY KEY,
    landlord_id text NOT NULL REFERENCES landlords (id),
    endpoint_id bigint NOT NULL REFERENCES webhook_endpoints (id),
    event_type  text NOT NULL,
    alert_id    bigint REFERENCES alerts (id),
    -- The event's body, as it would have been sent alone.
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- The batch it goes out with.
    due_at      timestamptz NOT NULL,
    -- The outbox row (the batch) that carries it; NULL while it waits.
    outbox_id   bigint REFERENCES webhook_outbox (id)
);
CREATE INDEX webhook_batch_items_due ON webhook_batch_items (due_at) WHERE outbox_id IS NULL;
CREATE INDEX webhook_batch_items_outbox ON webhook_batch_items (outbox_id) WHERE outbox_id IS NOT NULL;

-- The API reads episodes and waiting batch items as it reads alerts and the webhook log, and
-- each room's risk (never the engine's state itself).
GRANT SELECT ON alert_episodes, webhook_batch_items TO dampwatch_api_tenant;
GRANT SELECT (room_key, landlord_id, room_id, device_id, last_reading_at, open_hazards, evaluated_at,
    ruleset_version, risk_level, risk) ON room_hazard_state TO dampwatch_api_tenant;

-- Row-level security as on every landlord-owned table (0200): a tenant's request sees only its
-- landlord's rows; the service roles keep their access.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['alert_episodes', 'webhook_batch_items']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO dampwatch_api_tenant
                 USING (landlord_id = nullif(current_setting(''dampwatch.landlord'', true), ''''))
                 WITH CHECK (landlord_id = nullif(current_setting(''dampwatch.landlord'', true), ''''))',
            t);
        EXECUTE format(
            'CREATE POLICY service_access ON %I
                 USING (current_user <> ''dampwatch_api_tenant'')
                 WITH CHECK (current_user <> ''dampwatch_api_tenant'')',
            t);
    END LOOP;
END
$$;

-- When an advisory event queued at `after` goes out: the next `at_time` (Europe/London local
-- time, so a batch keeps its hour across clock changes) strictly after it.
CREATE FUNCTION advisory_batch_due(at_time time, after timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN same_day > after THEN same_day
                ELSE ((local_day + 1) + at_time) AT TIME ZONE 'Europe/London' END
    FROM (SELECT (after AT TIME ZONE 'Europe/London')::date AS local_day) d,
         LATERAL (SELECT (d.local_day + at_time) AT TIME ZONE 'Europe/London' AS same_day) s
$$;
