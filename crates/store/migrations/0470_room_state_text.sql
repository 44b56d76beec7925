-- A room's hazard state is the hazard worker's own record: only the worker reads it, whole, and
-- writes it back whole with every reading it folds. As jsonb, PostgreSQL parsed the worker's
-- JSON into its binary form on every write and printed it back to JSON on every read; about
-- 10 kB per room once a room has a day of history, that was most of the database's cost of the
-- state: locking 300 copies of such a state, reading them and writing them back took 46–50 ms
-- as jsonb and 10 ms as text kept in the row (PostgreSQL 15, lz4, on disk). As
-- text the JSON is stored as the worker wrote it: nothing queries inside it (the columns beside
-- it carry what others read: open hazards, coverage, risk), and `state::jsonb` still reads it by
-- hand.
--
-- Storage MAIN keeps the compressed state in the row (about 3.5 kB with lz4) instead of moving
-- it into the TOAST table, whose chunks were deleted and inserted again, with their index, on
-- every write (13 ms for the 300 states above as text in TOAST). The price: two rooms to a page
-- rather than about twenty-five, so a reader that walks many rooms reads more pages; the readers
-- go by key or by index (a landlord's rooms a page at a time, the rooms gone quiet by
-- `last_reading_at`), and none reads the state.
ALTER TABLE room_hazard_state ALTER COLUMN state TYPE text USING state::text;
ALTER TABLE room_hazard_state ALTER COLUMN state SET STORAGE MAIN;
DO $$
BEGIN
    ALTER TABLE room_hazard_state ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available in this server: hazard states stay compressed with pglz';
END
$$;
