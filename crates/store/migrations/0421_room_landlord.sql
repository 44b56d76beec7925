-- Rooms carry their dwelling's landlord, so row-level security filters them by a column like
-- every other landlord-owned table. The policy used to ask whether the room's dwelling is the
-- landlord's; for a landlord with a hundred thousand homes the planner answers that by hashing
-- every one of its dwellings on each query that joins rooms (the SLA board, case lists), about
-- a hundred milliseconds before the first row. The column is the dwelling's landlord and
-- nothing else: triggers set it on every insert and update of a room and follow a dwelling that
-- changes landlord, so no writer can make it disagree.
ALTER TABLE rooms ADD COLUMN landlord_id text REFERENCES landlords (id);
UPDATE rooms r SET landlord_id = d.landlord_id FROM dwellings d WHERE d.id = r.dwelling_id;
ALTER TABLE rooms ALTER COLUMN landlord_id SET NOT NULL;
CREATE INDEX rooms_landlord ON rooms (landlord_id);

CREATE FUNCTION rooms_take_dwelling_landlord() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT d.landlord_id INTO NEW.landlord_id FROM dwellings d WHERE d.id = NEW.dwelling_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER rooms_landlord BEFORE INSERT OR UPDATE ON rooms
    FOR EACH ROW EXECUTE FUNCTION rooms_take_dwelling_landlord();

CREATE FUNCTION dwellings_move_rooms() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE rooms SET landlord_id = NEW.landlord_id WHERE dwelling_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER dwellings_landlord AFTER UPDATE OF landlord_id ON dwellings
    FOR EACH ROW WHEN (OLD.landlord_id IS DISTINCT FROM NEW.landlord_id)
    EXECUTE FUNCTION dwellings_move_rooms();

DROP POLICY tenant_isolation ON rooms;
CREATE POLICY tenant_isolation ON rooms TO dampwatch_api_tenant
    USING (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''))
    WITH CHECK (false);
