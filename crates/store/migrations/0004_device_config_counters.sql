-- The counter of the configurations signed for each device. A device applies a configuration
-- only if its counter is above the last one it applied, so the counter must only ever grow:
-- across collector restarts and when several collectors sign for the same device. Taking the
-- next value is one atomic upsert (see `collector/src/downlink.rs`).
CREATE TABLE device_config_counters (
    device_id    text PRIMARY KEY REFERENCES devices (id),
    last_counter bigint NOT NULL CHECK (last_counter BETWEEN 1 AND 4294967295),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
