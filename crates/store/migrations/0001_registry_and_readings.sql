-- Device registry, readings (the evidence), commit positions and quarantine.

CREATE TABLE landlords (
    id          text PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    -- Whether a sensor alert opens a case (and starts the statutory clock) at detection, or
    -- waits for a person's triage. Detection is the conservative default.
    case_policy text NOT NULL DEFAULT 'open_on_detection'
                CHECK (case_policy IN ('open_on_detection', 'open_on_triage')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dwellings (
    id          bigserial PRIMARY KEY,
    landlord_id text NOT NULL REFERENCES landlords (id),
    reference   text NOT NULL,
    address     text NOT NULL DEFAULT '',
    UNIQUE (landlord_id, reference)
);

CREATE TABLE rooms (
    id          bigserial PRIMARY KEY,
    dwelling_id bigint NOT NULL REFERENCES dwellings (id),
    name        text NOT NULL,
    UNIQUE (dwelling_id, name)
);

CREATE TABLE devices (
    id                 text PRIMARY KEY,
    landlord_id        text NOT NULL REFERENCES landlords (id),
    room_id            bigint REFERENCES rooms (id),
    key_id             integer NOT NULL DEFAULT 1,
    signing_public_key bytea NOT NULL CHECK (length(signing_public_key) = 32),
    cert_serial        text,
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    -- Readings dated before this are implausible (their time is corrected, never dropped).
    provisioned_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz
);
CREATE INDEX devices_landlord ON devices (landlord_id);

-- Every signed uplink exactly as received, once: the evidence a reading can be re-verified
-- against (signature over the signing message of device_id and payload).
CREATE TABLE uplinks (
    digest      bytea PRIMARY KEY,          -- SHA-256 of payload
    device_id   text NOT NULL,
    key_id      integer NOT NULL,
    payload     bytea NOT NULL,
    signature   bytea NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX uplinks_received_brin ON uplinks USING brin (received_at);

CREATE TABLE readings (
    device_id             text NOT NULL,
    boot                  bigint NOT NULL,
    seq                   bigint NOT NULL,
    -- The time used for analysis: the device's own time unless it was implausible.
    sampled_at            timestamptz NOT NULL,
    -- What the device said, kept even when corrected.
    device_time           timestamptz NOT NULL,
    time_corrected        boolean NOT NULL,
    received_at           timestamptz NOT NULL,
    temperature_c         real,
    rh_pct                real,
    surface_temperature_c real,
    co2_ppm               integer,
    battery_mv            integer,
    -- Device status flags (wire StatusFlag bits) plus server flags from bit 16 up.
    status                integer NOT NULL,
    uplink_digest         bytea NOT NULL,
    PRIMARY KEY (device_id, boot, seq)
);

-- The highest sequence number per device and boot up to which every reading is stored: what
-- the collector tells the device it may forget.
CREATE TABLE device_positions (
    device_id             text NOT NULL,
    boot                  bigint NOT NULL,
    committed_seq         bigint NOT NULL,
    dropped_queue_full    bigint NOT NULL DEFAULT 0,
    dropped_sensor_failed bigint NOT NULL DEFAULT 0,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, boot)
);

-- Everything refused, with the raw bytes, for inspection. Bounded by a retention job.
CREATE TABLE rejected_messages (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL,
    topic       text NOT NULL,
    device_id   text,
    raw         bytea NOT NULL
);
CREATE INDEX rejected_messages_received ON rejected_messages (received_at);
CREATE INDEX rejected_messages_reason ON rejected_messages (reason, received_at);

-- Transactional outbox of committed readings for the hazard engine: written in the same
-- transaction as the readings, consumed (and deleted) by the hazard worker, so no committed
-- reading is ever missed or evaluated twice, whatever the commit order of concurrent collectors.
CREATE TABLE hazard_inbox (
    id          bigserial PRIMARY KEY,
    device_id   text NOT NULL,
    boot        bigint NOT NULL,
    min_seq     bigint NOT NULL,
    max_seq     bigint NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now()
);
