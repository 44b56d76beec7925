-- Readings keep the device's own fixed-point values: hundredths of a degree and of a percent,
-- as signed on the wire. Stored as REAL, 21.37 °C came back as 21.3700008…; as integers a
-- stored reading is exactly what the device signed, so it can be compared with the signed
-- uplink byte for byte, and a value becomes a floating-point number only where the hazard
-- engine computes with it (or a view presents it in degrees).
--
-- The hourly rollups count in the same units (sums as bigint, so they are exact too) and the
-- `readings_hourly` view keeps its columns and units (°C and % RH, double precision).

DO $fixed_point$
DECLARE
    timescale boolean := to_regclass('reading_keys') IS NOT NULL
                         AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
BEGIN
    IF timescale THEN
        -- A continuous aggregate pins the columns it reads, and a compressed hypertable cannot
        -- change a column's type: both are taken down here and rebuilt below.
        PERFORM remove_continuous_aggregate_policy('readings_hourly', if_exists => true);
        DROP MATERIALIZED VIEW readings_hourly;
        PERFORM remove_compression_policy('readings', if_exists => true);
        PERFORM decompress_chunk(c, true) FROM show_chunks('readings') c;
        ALTER TABLE readings SET (timescaledb.compress = false);
    ELSE
        DROP VIEW readings_hourly;
    END IF;

    ALTER TABLE readings RENAME COLUMN temperature_c TO temperature_centi_c;
    ALTER TABLE readings RENAME COLUMN rh_pct TO rh_centi_pct;
    ALTER TABLE readings RENAME COLUMN surface_temperature_c TO surface_temperature_centi_c;
    ALTER TABLE readings
        ALTER COLUMN temperature_centi_c TYPE integer USING round(temperature_centi_c * 100)::integer,
        ALTER COLUMN rh_centi_pct TYPE integer USING round(rh_centi_pct * 100)::integer,
        ALTER COLUMN surface_temperature_centi_c TYPE integer
            USING round(surface_temperature_centi_c * 100)::integer;

    IF timescale THEN
        ALTER TABLE readings SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'device_id',
            timescaledb.compress_orderby = 'sampled_at, boot, seq'
        );
        PERFORM add_compression_policy('readings', INTERVAL '30 days');
        EXECUTE $cagg$
            CREATE MATERIALIZED VIEW readings_hourly WITH (timescaledb.continuous) AS
            SELECT device_id,
                   time_bucket(INTERVAL '1 hour', sampled_at) AS hour,
                   count(*) AS readings,
                   min(temperature_centi_c) / 100.0::float8 AS temperature_min,
                   max(temperature_centi_c) / 100.0::float8 AS temperature_max,
                   avg(temperature_centi_c) / 100.0::float8 AS temperature_avg,
                   min(rh_centi_pct) / 100.0::float8 AS rh_min,
                   max(rh_centi_pct) / 100.0::float8 AS rh_max,
                   avg(rh_centi_pct) / 100.0::float8 AS rh_avg
            FROM readings
            GROUP BY device_id, time_bucket(INTERVAL '1 hour', sampled_at)
            WITH NO DATA
        $cagg$;
        PERFORM add_continuous_aggregate_policy('readings_hourly',
            start_offset => INTERVAL '30 days',
            end_offset => INTERVAL '1 hour',
            schedule_interval => INTERVAL '15 minutes');
        RETURN;
    END IF;

    ALTER TABLE readings_hourly_totals RENAME COLUMN temperature_sum TO temperature_centi_sum;
    ALTER TABLE readings_hourly_totals RENAME COLUMN temperature_min TO temperature_centi_min;
    ALTER TABLE readings_hourly_totals RENAME COLUMN temperature_max TO temperature_centi_max;
    ALTER TABLE readings_hourly_totals RENAME COLUMN rh_sum TO rh_centi_sum;
    ALTER TABLE readings_hourly_totals RENAME COLUMN rh_min TO rh_centi_min;
    ALTER TABLE readings_hourly_totals RENAME COLUMN rh_max TO rh_centi_max;
    ALTER TABLE readings_hourly_totals
        ALTER COLUMN temperature_centi_sum TYPE bigint USING round(temperature_centi_sum * 100)::bigint,
        ALTER COLUMN temperature_centi_min TYPE integer USING round(temperature_centi_min * 100)::integer,
        ALTER COLUMN temperature_centi_max TYPE integer USING round(temperature_centi_max * 100)::integer,
        ALTER COLUMN rh_centi_sum TYPE bigint USING round(rh_centi_sum * 100)::bigint,
        ALTER COLUMN rh_centi_min TYPE integer USING round(rh_centi_min * 100)::integer,
        ALTER COLUMN rh_centi_max TYPE integer USING round(rh_centi_max * 100)::integer;

    CREATE VIEW readings_hourly AS
    SELECT device_id, hour, readings,
           temperature_centi_min / 100.0::float8 AS temperature_min,
           temperature_centi_max / 100.0::float8 AS temperature_max,
           temperature_centi_sum / 100.0::float8 / nullif(temperature_n, 0) AS temperature_avg,
           rh_centi_min / 100.0::float8 AS rh_min,
           rh_centi_max / 100.0::float8 AS rh_max,
           rh_centi_sum / 100.0::float8 / nullif(rh_n, 0) AS rh_avg
    FROM readings_hourly_totals;
END
$fixed_point$;
