-- Late readings: a stored reading that arrives after its room's hazard state has moved on (a
-- sensor's store-and-forward backlog) is placed in time order by folding the room's stored
-- readings again from a checkpoint of the room's state (dampwatch-indicators `Checkpoint`).
-- The checkpoints are kept here, beside the state: one is written every twelfth of the
-- late-reading horizon of data and deleted once the horizon has passed it, so the state row,
-- which is written with every batch, stays as small as it was.
CREATE TABLE room_hazard_checkpoints (
    room_key   text NOT NULL REFERENCES room_hazard_state (room_key) ON DELETE CASCADE,
    -- Data time of the newest reading folded in.
    taken_at   timestamptz NOT NULL,
    checkpoint jsonb NOT NULL,
    PRIMARY KEY (room_key, taken_at)
);

-- The room's data coverage (dampwatch-indicators `RoomCoverage`), written with the state:
-- hours with data, gaps, and the late readings left out of the indicators because they were
-- older than the horizon (they stay stored in `readings` as evidence).
ALTER TABLE room_hazard_state ADD COLUMN coverage jsonb NOT NULL DEFAULT '{}';
