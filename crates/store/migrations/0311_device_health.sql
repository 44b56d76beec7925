-- Each of the landlord's devices with its newest reading's time and battery voltage, for the
-- dashboard's devices page (offline, low battery). The tenant role reads readings only through
-- functions confined to its landlord (migration 0320 for a room's); this one is the same
-- confinement over every device of the landlord. Each device's newest reading is one probe of
-- the (device_id, sampled_at) index.
CREATE FUNCTION tenant_device_latest()
RETURNS TABLE (device_id text, sampled_at timestamptz, battery_mv integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT d.id, last.sampled_at, last.battery_mv
    FROM devices d
    LEFT JOIN LATERAL (
        SELECT r.sampled_at, r.battery_mv FROM readings r
        WHERE r.device_id = d.id ORDER BY r.sampled_at DESC LIMIT 1
    ) last ON true
    WHERE d.landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
$$;

REVOKE ALL ON FUNCTION tenant_device_latest() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_device_latest() TO dampwatch_api_tenant;
