-- A room's history for the people who read it (the dashboard's room page): its readings over
-- the last days, its hourly means over months, and its devices' latest readings.
--
-- 1. The hourly rollups also keep the surface probe's temperature (count and sum, in
--    hundredths of a degree like the rest), so surface RH and the mould index can be charted
--    over a year from the rollups as well as from the readings.
-- 2. A room's readings by time: an index on (device_id, sampled_at) in the plain layout
--    (TimescaleDB's layout has had one since 0002). Without it a week of one device is read by
--    walking its whole history through the primary key. It costs one more index entry per
--    reading written.
-- 3. The tenant role never reads `readings` or the rollups themselves (no grant, no row-level
--    security: they are written at ingest rate, and a policy would be checked on every row
--    written; TimescaleDB's compressed chunks do not take policies). It reads them through the
--    functions below, which run as the owner and confine every answer to the devices of the
--    landlord named in `dampwatch.landlord`, the same transaction setting the policies read;
--    a room of another landlord has no devices there, so its history is empty.
-- 4. Alerts of a room by time, for the windows a chart shades.

DO $rollups$
DECLARE
    timescale boolean := to_regclass('reading_keys') IS NOT NULL
                         AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
BEGIN
    IF timescale THEN
        -- A continuous aggregate cannot gain a column: rebuilt with it (as 0005 did).
        PERFORM remove_continuous_aggregate_policy('readings_hourly', if_exists => true);
        DROP MATERIALIZED VIEW readings_hourly;
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
                   avg(rh_centi_pct) / 100.0::float8 AS rh_avg,
                   avg(surface_temperature_centi_c) / 100.0::float8 AS surface_temperature_avg
            FROM readings
            GROUP BY device_id, time_bucket(INTERVAL '1 hour', sampled_at)
            WITH NO DATA
        $cagg$;
        PERFORM add_continuous_aggregate_policy('readings_hourly',
            start_offset => INTERVAL '30 days',
            end_offset => INTERVAL '1 hour',
            schedule_interval => INTERVAL '15 minutes');
        -- The aggregate keeps means only: each device's hour weighs by its readings.
        EXECUTE $fn$
            CREATE FUNCTION tenant_room_hourly(p_room bigint, p_from timestamptz, p_to timestamptz)
            RETURNS TABLE (hour timestamptz, readings bigint, temperature_avg float8, rh_avg float8,
                           surface_temperature_avg float8)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $body$
                SELECT h.hour, sum(h.readings)::bigint,
                       sum(h.temperature_avg * h.readings)
                           / nullif(sum(h.readings) FILTER (WHERE h.temperature_avg IS NOT NULL), 0),
                       sum(h.rh_avg * h.readings) / nullif(sum(h.readings) FILTER (WHERE h.rh_avg IS NOT NULL), 0),
                       sum(h.surface_temperature_avg * h.readings)
                           / nullif(sum(h.readings) FILTER (WHERE h.surface_temperature_avg IS NOT NULL), 0)
                FROM devices d
                JOIN readings_hourly h ON h.device_id = d.id AND h.hour >= p_from AND h.hour < p_to
                WHERE d.room_id = p_room
                  AND d.landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
                GROUP BY h.hour
                ORDER BY h.hour
            $body$
        $fn$;
        RETURN;
    END IF;

    ALTER TABLE readings_hourly_totals
        ADD COLUMN surface_temperature_n bigint NOT NULL DEFAULT 0,   -- readings with a surface probe value
        ADD COLUMN surface_temperature_centi_sum bigint NOT NULL DEFAULT 0;
    UPDATE readings_hourly_totals h
    SET surface_temperature_n = s.n, surface_temperature_centi_sum = s.total
    FROM (SELECT device_id, date_trunc('hour', sampled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
                 count(surface_temperature_centi_c) AS n, coalesce(sum(surface_temperature_centi_c), 0) AS total
          FROM readings GROUP BY 1, 2) s
    WHERE h.device_id = s.device_id AND h.hour = s.hour AND s.n > 0;

    CREATE OR REPLACE VIEW readings_hourly AS
    SELECT device_id, hour, readings,
           temperature_centi_min / 100.0::float8 AS temperature_min,
           temperature_centi_max / 100.0::float8 AS temperature_max,
           temperature_centi_sum / 100.0::float8 / nullif(temperature_n, 0) AS temperature_avg,
           rh_centi_min / 100.0::float8 AS rh_min,
           rh_centi_max / 100.0::float8 AS rh_max,
           rh_centi_sum / 100.0::float8 / nullif(rh_n, 0) AS rh_avg,
           surface_temperature_centi_sum / 100.0::float8 / nullif(surface_temperature_n, 0)
               AS surface_temperature_avg
    FROM readings_hourly_totals;

    CREATE INDEX readings_device_time ON readings (device_id, sampled_at);

    -- From the exact totals, every device of the room pooled (about half the time of going
    -- through the view's per-device means).
    CREATE FUNCTION tenant_room_hourly(p_room bigint, p_from timestamptz, p_to timestamptz)
    RETURNS TABLE (hour timestamptz, readings bigint, temperature_avg float8, rh_avg float8,
                   surface_temperature_avg float8)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $body$
        SELECT h.hour, sum(h.readings)::bigint,
               sum(h.temperature_centi_sum) / 100.0::float8 / nullif(sum(h.temperature_n), 0),
               sum(h.rh_centi_sum) / 100.0::float8 / nullif(sum(h.rh_n), 0),
               sum(h.surface_temperature_centi_sum) / 100.0::float8 / nullif(sum(h.surface_temperature_n), 0)
        FROM devices d
        JOIN readings_hourly_totals h ON h.device_id = d.id AND h.hour >= p_from AND h.hour < p_to
        WHERE d.room_id = p_room
          AND d.landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
        GROUP BY h.hour
        ORDER BY h.hour
    $body$;
END
$rollups$;

-- tenant_room_hourly(p_room, p_from, p_to), made above for the layout in use: the hourly means
-- of a room's devices over [p_from, p_to), every device's readings of an hour pooled: °C and
-- % RH.

CREATE INDEX alerts_room_raised ON alerts (room_key, raised_at);

-- The stored readings of a room's devices sampled in [p_from, p_to), in time order; the
-- devices are those placed in the room now (as the hazard worker reads a room).
CREATE FUNCTION tenant_room_readings(p_room bigint, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (device_id text, sampled_at timestamptz, temperature_centi_c integer,
               rh_centi_pct integer, surface_temperature_centi_c integer, co2_ppm integer,
               status integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT r.device_id, r.sampled_at, r.temperature_centi_c, r.rh_centi_pct,
           r.surface_temperature_centi_c, r.co2_ppm, r.status
    FROM devices d
    JOIN readings r ON r.device_id = d.id AND r.sampled_at >= p_from AND r.sampled_at < p_to
    WHERE d.room_id = p_room
      AND d.landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
    ORDER BY r.sampled_at, r.device_id, r.boot, r.seq
$$;

-- Each device of a room with its newest reading's time and battery voltage (none when it has
-- sent nothing).
CREATE FUNCTION tenant_room_device_latest(p_room bigint)
RETURNS TABLE (device_id text, sampled_at timestamptz, battery_mv integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT d.id, last.sampled_at, last.battery_mv
    FROM devices d
    LEFT JOIN LATERAL (
        SELECT r.sampled_at, r.battery_mv FROM readings r
        WHERE r.device_id = d.id ORDER BY r.sampled_at DESC LIMIT 1
    ) last ON true
    WHERE d.room_id = p_room
      AND d.landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
$$;

REVOKE ALL ON FUNCTION tenant_room_readings(bigint, timestamptz, timestamptz),
                       tenant_room_hourly(bigint, timestamptz, timestamptz),
                       tenant_room_device_latest(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_room_readings(bigint, timestamptz, timestamptz),
                          tenant_room_hourly(bigint, timestamptz, timestamptz),
                          tenant_room_device_latest(bigint) TO dampwatch_api_tenant;
