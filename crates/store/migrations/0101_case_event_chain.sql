-- Tamper evidence for the case log. Each event carries the SHA-256 of its own content chained
-- to the hash of the case's previous event, computed by the database on insert whatever the
-- writer. Rewriting an event afterwards (which needs the append-only triggers disabled) breaks
-- the chain from that event on, unless every later hash is forged too; the head of the chain
-- goes to the landlord in every `case.updated` webhook, so the landlord holds hashes the
-- database cannot take back.
--
-- The hashed bytes: previous hash (32 zero bytes for the first event), then the fields joined
-- by a unit separator (0x1f): case id, seq, kind, affects_clock, event (jsonb text, which is
-- canonical), occurred_at and recorded_at in microseconds since the Unix epoch (independent of
-- the session's time zone), actor, evidence.

ALTER TABLE case_events ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea;

CREATE FUNCTION case_event_hash(prev bytea, e case_events) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(
        coalesce(prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
        || convert_to(concat_ws(chr(31),
               e.case_id::text, e.seq::text, e.kind, e.affects_clock::text, e.event::text,
               (extract(epoch FROM e.occurred_at) * 1000000)::bigint::text,
               (extract(epoch FROM e.recorded_at) * 1000000)::bigint::text,
               e.actor, e.evidence::text), 'UTF8'))
$$;

CREATE FUNCTION case_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT hash INTO NEW.prev_hash FROM case_events WHERE case_id = NEW.case_id AND seq = NEW.seq - 1;
    IF NEW.seq > 1 AND NEW.prev_hash IS NULL THEN
        RAISE EXCEPTION 'case % event % has no predecessor to chain to', NEW.case_id, NEW.seq;
    END IF;
    NEW.hash := case_event_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END
$$;

-- Events written before this migration: chained once, in order, here.
ALTER TABLE case_events DISABLE TRIGGER case_events_append_only;
DO $$
DECLARE r case_events;
BEGIN
    FOR r IN SELECT * FROM case_events ORDER BY case_id, seq LOOP
        UPDATE case_events SET
            prev_hash = (SELECT hash FROM case_events WHERE case_id = r.case_id AND seq = r.seq - 1),
            hash = case_event_hash(
                (SELECT hash FROM case_events WHERE case_id = r.case_id AND seq = r.seq - 1), r)
        WHERE id = r.id;
    END LOOP;
END
$$;
ALTER TABLE case_events ENABLE TRIGGER case_events_append_only;

ALTER TABLE case_events ALTER COLUMN hash SET NOT NULL;
CREATE TRIGGER case_events_chain BEFORE INSERT ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_chain();

-- The events whose stored hashes no longer match their content or their predecessor: empty
-- for an intact log.
CREATE VIEW case_events_broken_links AS
SELECT e.case_id, e.seq, e.landlord_id
FROM case_events e
LEFT JOIN case_events p ON p.case_id = e.case_id AND p.seq = e.seq - 1
WHERE e.hash IS DISTINCT FROM case_event_hash(p.hash, e)
   OR e.prev_hash IS DISTINCT FROM p.hash;
