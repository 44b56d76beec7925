-- The tenant's reading functions (migrations 0311 and 0320) run as the schema's owner with a
-- search_path that did not name pg_temp, and PostgreSQL then searches the caller's temporary
-- schema first: a tenant transaction could create a temporary `devices` claiming another
-- landlord's device in its own room and read that device's readings through them. pg_temp
-- last, as every other SECURITY DEFINER function here has it.
ALTER FUNCTION tenant_device_latest() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION tenant_room_hourly(bigint, timestamptz, timestamptz) SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION tenant_room_readings(bigint, timestamptz, timestamptz) SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION tenant_room_device_latest(bigint) SET search_path = pg_catalog, public, pg_temp;
