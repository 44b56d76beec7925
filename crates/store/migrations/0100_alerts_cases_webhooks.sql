-- Hazard alerts, Awaab's Law cases and landlord webhooks.
--
-- Rooms: a device without a room counts as its own room. Every table that refers to a room
-- carries `room_key` ('room:<rooms.id>' or 'device:<devices.id>') with exactly one of
-- `room_id` / `device_id` set, so unique indexes work for both kinds.
-- Every landlord-owned table carries `landlord_id`, for row-level security.

-- The hazard engine's state per room (dampwatch-indicators `RoomState` as JSON), written in
-- the same transaction as the alerts it produced, so state and alerts never disagree.
CREATE TABLE room_hazard_state (
    room_key        text PRIMARY KEY,
    landlord_id     text NOT NULL REFERENCES landlords (id),
    room_id         bigint REFERENCES rooms (id),
    device_id       text REFERENCES devices (id),
    state           jsonb NOT NULL,
    ruleset_version text NOT NULL,
    -- Data time of the newest reading taken (drives the "offline" evaluation).
    last_reading_at timestamptz,
    -- Hazards with an open alert, for cheap filtering without parsing `state`.
    open_hazards    text[] NOT NULL DEFAULT '{}',
    -- Wall-clock instant of the last ingest or evaluation.
    evaluated_at    timestamptz NOT NULL,
    CHECK ((room_id IS NULL) <> (device_id IS NULL))
);
CREATE INDEX room_hazard_state_landlord ON room_hazard_state (landlord_id);
CREATE INDEX room_hazard_state_last_reading ON room_hazard_state (last_reading_at);

-- Alerts: at most one OPEN alert per room and hazard (the partial unique index); a change of
-- severity or active rules updates it in place (revision + 1), a clear closes it, and a later
-- raise starts a new row.
CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    landlord_id     text NOT NULL REFERENCES landlords (id),
    room_key        text NOT NULL,
    room_id         bigint REFERENCES rooms (id),
    device_id       text REFERENCES devices (id),
    -- Indicator hazard: damp_and_mould_growth, excess_cold, excess_heat, poor_ventilation,
    -- device_offline.
    hazard          text NOT NULL,
    -- The HHSRS (2006) hazard it indicates, if any (only those can open a case).
    hhsrs_hazard    text,
    status          text NOT NULL CHECK (status IN ('open', 'cleared')),
    severity        text NOT NULL CHECK (severity IN ('amber', 'red')),
    -- Data time the condition began (earliest finding).
    since           timestamptz NOT NULL,
    -- Detection: wall-clock instant the system raised it.
    raised_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    -- Data time the hazard was seen gone.
    cleared_at      timestamptz,
    revision        integer NOT NULL DEFAULT 1,
    rule_ids        text[] NOT NULL,
    ruleset_version text NOT NULL,
    -- One paragraph for people.
    summary         text NOT NULL,
    -- The alert with its findings: rule id, version, basis (source), values, window.
    explanation     jsonb NOT NULL,
    -- not_applicable (no HHSRS hazard), awaiting_triage (landlord policy open_on_triage),
    -- case_opened (a case holds it).
    triage          text NOT NULL CHECK (triage IN ('not_applicable', 'awaiting_triage', 'case_opened')),
    case_id         bigint,
    CHECK ((room_id IS NULL) <> (device_id IS NULL)),
    CHECK ((status = 'cleared') = (cleared_at IS NOT NULL))
);
CREATE UNIQUE INDEX alerts_one_open_per_room_hazard ON alerts (room_key, hazard) WHERE status = 'open';
CREATE INDEX alerts_landlord ON alerts (landlord_id, status, raised_at DESC);
CREATE INDEX alerts_case ON alerts (case_id) WHERE case_id IS NOT NULL;

-- Awaab's Law cases. The truth is `case_events`; the columns after `alert_id` are a snapshot
-- of the replayed case (dampwatch-clock `CaseView`) refreshed on every event, for fast listing.
CREATE TABLE cases (
    id               bigserial PRIMARY KEY,
    landlord_id      text NOT NULL REFERENCES landlords (id),
    room_key         text NOT NULL,
    room_id          bigint REFERENCES rooms (id),
    device_id        text REFERENCES devices (id),
    -- HHSRS (2006) hazard slug, as first recorded (triage may correct it: see `view`).
    hazard           text NOT NULL,
    -- When the potential issue was recorded.
    opened_at        timestamptz NOT NULL,
    -- When the statutory clock started (NULL until triage under awareness policy at_triage).
    awareness        timestamptz,
    awareness_policy text NOT NULL CHECK (awareness_policy IN ('at_detection', 'at_triage')),
    -- Landlord policy that applied: open_on_detection or open_on_triage.
    case_policy      text NOT NULL,
    -- The sensor alert that raised the potential issue, if any.
    alert_id         bigint REFERENCES alerts (id),
    state            text NOT NULL,
    track            text CHECK (track IN ('emergency', 'significant')),
    view             jsonb NOT NULL,
    view_at          timestamptz NOT NULL,
    calendar_version text NOT NULL,
    rules_version    text NOT NULL,
    -- Number of case_events rows; an appender checks it to refuse concurrent edits.
    event_count      integer NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL,
    CHECK ((room_id IS NULL) <> (device_id IS NULL))
);
CREATE INDEX cases_landlord ON cases (landlord_id, state, opened_at DESC);
CREATE INDEX cases_room_hazard ON cases (room_key, hazard) WHERE state <> 'closed';
ALTER TABLE alerts ADD CONSTRAINT alerts_case_fk FOREIGN KEY (case_id) REFERENCES cases (id);

-- Everything that happened to a case, append-only: who, when, what, evidence. Events with
-- `affects_clock` are dampwatch-clock `CaseEvent`s (JSON tagged by "type") replayed in `seq`
-- order; the others are records such as `potential_issue_detected` (the case opening) and
-- later alert changes. Rows are never updated or deleted (trigger below).
CREATE TABLE case_events (
    id            bigserial PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES cases (id),
    landlord_id   text NOT NULL REFERENCES landlords (id),
    seq           integer NOT NULL,
    kind          text NOT NULL,
    affects_clock boolean NOT NULL,
    -- What: the CaseEvent (or the record) as JSON.
    event         jsonb NOT NULL,
    -- When it happened, and when it was written down.
    occurred_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    -- Who: 'system:hazard-engine', 'user:<id>', 'api-key:<id>'.
    actor         text NOT NULL,
    evidence      jsonb NOT NULL DEFAULT '{}',
    UNIQUE (case_id, seq)
);
CREATE INDEX case_events_landlord ON case_events (landlord_id, recorded_at);

CREATE FUNCTION case_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_refuse_change();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION case_events_refuse_change();

-- Each statutory step's deadline of a case and how it was computed (a projection of the
-- events, replaced whenever they change). Before triage both tracks are listed as
-- `provisional` (what applies if triaged so); `triage_review` is the product's own deadline.
CREATE TABLE case_deadlines (
    case_id            bigint NOT NULL REFERENCES cases (id),
    landlord_id        text NOT NULL REFERENCES landlords (id),
    -- emergency, significant, or triage (for the triage review).
    track              text NOT NULL CHECK (track IN ('emergency', 'significant', 'triage')),
    step               text NOT NULL,
    provisional        boolean NOT NULL,
    -- Last permitted Europe/London date (YYYY-MM-DD) or RFC 3339 instant.
    due                text NOT NULL,
    ends_at            timestamptz NOT NULL,
    -- elapsed_hours, working_days, weeks, or product_policy (triage review).
    basis              text NOT NULL,
    amount             integer NOT NULL,
    counted_from_event text NOT NULL,
    counted_from       timestamptz NOT NULL,
    calendar_version   text NOT NULL,
    rules_version      text NOT NULL,
    -- Legal source of the step (or the product policy).
    source             text NOT NULL,
    -- on_track, due_soon, overdue, met, not_required, stopped, awaiting_trigger (as of computed_at).
    status             text NOT NULL,
    -- The full computation: other clocks, bank holidays skipped, status detail.
    detail             jsonb NOT NULL,
    computed_at        timestamptz NOT NULL,
    PRIMARY KEY (case_id, track, step)
);
CREATE INDEX case_deadlines_landlord_due ON case_deadlines (landlord_id, ends_at);

-- A landlord's webhook receivers. The secret keys the HMAC-SHA256 signature, so it is kept
-- (not hashed): receivers verify with the same secret.
CREATE TABLE webhook_endpoints (
    id          bigserial PRIMARY KEY,
    landlord_id text NOT NULL REFERENCES landlords (id),
    url         text NOT NULL CHECK (url ~ '^https?://'),
    secret      text NOT NULL CHECK (length(secret) >= 16),
    active      boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_landlord ON webhook_endpoints (landlord_id) WHERE active;

-- Transactional outbox: one row per (event, endpoint), written in the transaction that made
-- the alert, so nothing is lost or sent for a rolled-back change. The id is the idempotency
-- key receivers dedupe on. A claim pushes next_attempt_at forward (a lease); a sender that
-- dies leaves the row to be retried when the lease runs out.
CREATE TABLE webhook_outbox (
    id              bigserial PRIMARY KEY,
    landlord_id     text NOT NULL REFERENCES landlords (id),
    endpoint_id     bigint NOT NULL REFERENCES webhook_endpoints (id),
    -- alert.raised, alert.updated, alert.cleared
    event_type      text NOT NULL,
    alert_id        bigint REFERENCES alerts (id),
    case_id         bigint REFERENCES cases (id),
    -- The body: {alert, explanation, case, deadlines, ...}. Sent as its jsonb text, which is
    -- the same bytes on every attempt.
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    -- When it was given up on (dead letter, for operators to inspect and requeue).
    dead_at         timestamptz,
    last_error      text
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_dead ON webhook_outbox (landlord_id, dead_at) WHERE state = 'dead';
CREATE INDEX webhook_outbox_alert ON webhook_outbox (alert_id);

-- Every delivery attempt: when, how long, the receiver's status code or the error.
CREATE TABLE webhook_deliveries (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES webhook_outbox (id),
    landlord_id text NOT NULL REFERENCES landlords (id),
    endpoint_id bigint NOT NULL REFERENCES webhook_endpoints (id),
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    status_code integer,
    error       text,
    -- delivered (2xx), failed (will retry), dead (gave up after this attempt)
    outcome     text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'dead'))
);
CREATE INDEX webhook_deliveries_outbox ON webhook_deliveries (outbox_id, attempt);
CREATE INDEX webhook_deliveries_landlord ON webhook_deliveries (landlord_id, started_at);

-- Wake the hazard worker and the webhook sender at commit instead of waiting for a poll.
-- Notifications are delivered only when the inserting transaction commits.
CREATE FUNCTION dampwatch_notify_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$;
CREATE TRIGGER hazard_inbox_notify AFTER INSERT ON hazard_inbox
    FOR EACH STATEMENT EXECUTE FUNCTION dampwatch_notify_channel('dampwatch_hazard_inbox');
CREATE TRIGGER webhook_outbox_notify AFTER INSERT ON webhook_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION dampwatch_notify_channel('dampwatch_webhook_outbox');
