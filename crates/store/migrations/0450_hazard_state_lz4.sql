-- The hazard worker rewrites a room's state (and its risk and coverage) with every reading it
-- folds; a state past the TOAST threshold (about 2 kB: six hours of readings kept for late
-- ones) was compressed with pglz each time, the largest single cost in PostgreSQL at one
-- reading per uplink. lz4 compresses several times faster for a little less space. Rows
-- written before keep their pglz values until next written; both read the same.
-- A server built without lz4 keeps pglz: the schema stays valid either way.
DO $$
BEGIN
    ALTER TABLE room_hazard_state ALTER COLUMN state SET COMPRESSION lz4;
    ALTER TABLE room_hazard_state ALTER COLUMN coverage SET COMPRESSION lz4;
    ALTER TABLE room_hazard_state ALTER COLUMN risk SET COMPRESSION lz4;
    ALTER TABLE room_hazard_checkpoints ALTER COLUMN checkpoint SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available in this server: hazard states stay compressed with pglz';
END
$$;
