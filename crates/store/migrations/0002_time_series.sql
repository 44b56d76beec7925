-- Time-series layout: what keeps `readings` fast to write, cheap to keep and quick to summarise.
--
-- Plain PostgreSQL (always created first):
--   * BRIN indexes on arrival time: tiny, and exactly what the retention job's range deletes
--     need, since rows arrive in time order;
--   * `readings_hourly_totals`, maintained by the collector in the same transaction as the
--     readings it summarises (so it never disagrees with them), and the `readings_hourly` view
--     with the means;
--   * retention is a collector job that deletes in bounded chunks (see retention.rs).
--
-- With TimescaleDB (installed AND preloaded, or the extension already created), the same
-- names are turned into:
--   * `readings` as a hypertable on sampled_at (weekly chunks), compressed after 30 days, with
--     the retention policy the collector sets from its configuration at start;
--   * `reading_keys (device_id, boot, seq)`: a hypertable's unique indexes must include its time
--     column, and sampled_at cannot be part of the key (a corrected sample time is the arrival
--     time, which differs between two deliveries of the same reading), so idempotency moves to
--     this plain table, which the insert consults first;
--   * `readings_hourly` as a continuous aggregate with the same columns as the plain view.

CREATE INDEX readings_received_brin ON readings USING brin (received_at);
CREATE INDEX readings_sampled_brin ON readings USING brin (sampled_at);

CREATE TABLE readings_hourly_totals (
    device_id       text NOT NULL,
    hour            timestamptz NOT NULL,           -- UTC hour
    readings        bigint NOT NULL,
    temperature_n   bigint NOT NULL,                -- readings with a temperature (in range)
    temperature_sum double precision NOT NULL,
    temperature_min real,
    temperature_max real,
    rh_n            bigint NOT NULL,
    rh_sum          double precision NOT NULL,
    rh_min          real,
    rh_max          real,
    PRIMARY KEY (device_id, hour)
);
CREATE INDEX readings_hourly_totals_hour_brin ON readings_hourly_totals USING brin (hour);

INSERT INTO readings_hourly_totals
SELECT device_id, date_trunc('hour', sampled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*),
       count(temperature_c), coalesce(sum(temperature_c::float8), 0), min(temperature_c), max(temperature_c),
       count(rh_pct), coalesce(sum(rh_pct::float8), 0), min(rh_pct), max(rh_pct)
FROM readings GROUP BY 1, 2;

CREATE VIEW readings_hourly AS
SELECT device_id, hour, readings,
       temperature_min, temperature_max, temperature_sum / nullif(temperature_n, 0) AS temperature_avg,
       rh_min, rh_max, rh_sum / nullif(rh_n, 0) AS rh_avg
FROM readings_hourly_totals;

CREATE INDEX hazard_inbox_committed ON hazard_inbox (committed_at);

DO $timescale$
BEGIN
    IF NOT (
        EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
        OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
            AND current_setting('shared_preload_libraries') ~ 'timescaledb')
    ) THEN
        RAISE NOTICE 'TimescaleDB is not available: plain tables, BRIN indexes, collector-run retention and rollups';
        RETURN;
    END IF;

    CREATE EXTENSION IF NOT EXISTS timescaledb;

    -- Idempotency key outside the hypertable, filled from what is already stored.
    CREATE TABLE reading_keys (
        device_id   text NOT NULL,
        boot        bigint NOT NULL,
        seq         bigint NOT NULL,
        received_at timestamptz NOT NULL,
        PRIMARY KEY (device_id, boot, seq)
    );
    CREATE INDEX reading_keys_received_brin ON reading_keys USING brin (received_at);
    INSERT INTO reading_keys SELECT device_id, boot, seq, received_at FROM readings;

    ALTER TABLE readings DROP CONSTRAINT readings_pkey;
    DROP INDEX readings_sampled_brin;
    PERFORM create_hypertable('readings', 'sampled_at',
                              chunk_time_interval => INTERVAL '7 days', migrate_data => true);
    -- The hazard engine reads by key; the API reads a device's recent history.
    CREATE INDEX readings_key ON readings (device_id, boot, seq);
    CREATE INDEX readings_device_time ON readings (device_id, sampled_at DESC);

    ALTER TABLE readings SET (
        timescaledb.compress,
        timescaledb.compress_segmentby = 'device_id',
        timescaledb.compress_orderby = 'sampled_at, boot, seq'
    );
    PERFORM add_compression_policy('readings', INTERVAL '30 days');

    DROP VIEW readings_hourly;
    DROP TABLE readings_hourly_totals;
    -- WITH NO DATA: allowed inside a transaction; the policy fills it in the background.
    EXECUTE $cagg$
        CREATE MATERIALIZED VIEW readings_hourly WITH (timescaledb.continuous) AS
        SELECT device_id,
               time_bucket(INTERVAL '1 hour', sampled_at) AS hour,
               count(*) AS readings,
               min(temperature_c) AS temperature_min,
               max(temperature_c) AS temperature_max,
               avg(temperature_c::float8) AS temperature_avg,
               min(rh_pct) AS rh_min,
               max(rh_pct) AS rh_max,
               avg(rh_pct::float8) AS rh_avg
        FROM readings
        GROUP BY device_id, time_bucket(INTERVAL '1 hour', sampled_at)
        WITH NO DATA
    $cagg$;
    PERFORM add_continuous_aggregate_policy('readings_hourly',
        start_offset => INTERVAL '30 days',
        end_offset => INTERVAL '1 hour',
        schedule_interval => INTERVAL '15 minutes');
END
$timescale$;
