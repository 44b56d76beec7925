-- What each device took per hour of arrival, all boots together: the readings stored (its
-- hourly budget), the quarantine rows written and those past its quota, and the last reason
-- it was quarantined for. Written in the same transactions as what it counts; read by
-- admission, the quarantine and `dampwatch devices list` through the primary key only.
CREATE TABLE device_hourly_intake (
    device_id   text NOT NULL,
    hour        timestamptz NOT NULL,           -- UTC hour of arrival
    readings    bigint NOT NULL DEFAULT 0,
    quarantined bigint NOT NULL DEFAULT 0,
    suppressed  bigint NOT NULL DEFAULT 0,
    last_reason text,
    PRIMARY KEY (device_id, hour)
);
CREATE INDEX device_hourly_intake_hour_brin ON device_hourly_intake USING brin (hour);
