-- Retention of the audit log (class `audit_logs`, seven years: collector/data/retention.toml).
--
-- The log is one hash chain from its first entry, so old entries cannot simply be deleted: a
-- verifier would find the first entry left pointing at a hash it cannot check. A cut therefore
-- ends only at an entry a signed checkpoint names (the anchor): the entries up to and including
-- it are removed, the checkpoint stays, and an export starts with that checkpoint, so an
-- offline verifier checks the anchor's signature and the chain from the entry after it
-- (crates/audit/src/verify.rs). Entries older than the period but after the newest checkpoint
-- older than it wait for the next checkpoint. The head is never removed, so the chain goes on
-- from it.
--
-- Only `audit_cut` may delete, and only running as the table's owner (SECURITY DEFINER): the
-- append-only trigger lets a DELETE through only when the caller is the owner and the cut has
-- said so for its own transaction. The collector's login, which may call the function, still
-- cannot delete an entry itself, setting or no setting. Nor can it make the cut take more than
-- the period allows: the cutoff it asks for is moved back to the floor the owner keeps in
-- `retention_floors` (seven years for the audit log), the cut ends only at an entry whose own
-- time and whose checkpoint's signing time are both before it, and an entry's time can no
-- longer be set before its predecessor's or in the future, so an entry before the cutoff has
-- only older entries before it.

-- The least period a service login may ask a cut for, per class: the owner's to change.
CREATE TABLE retention_floors (
    class    text PRIMARY KEY,
    at_least interval NOT NULL CHECK (at_least > interval '0')
);
INSERT INTO retention_floors (class, at_least) VALUES ('audit_logs', '7 years'), ('closed_cases', '6 years');
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON retention_floors FROM dampwatch_collector;
GRANT SELECT ON retention_floors TO dampwatch_collector;

-- Now that age decides what retention removes, time in order beside the chain rule of 0300:
-- an entry is not older than the head nor later than now (a minute's grace for clocks). Fires
-- after `audit_log_chain` (triggers go by name), which holds the appenders' lock.
CREATE FUNCTION audit_log_in_time_order() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    head_at timestamptz;
BEGIN
    SELECT l.at INTO head_at FROM audit_log l ORDER BY l.seq DESC LIMIT 1;
    IF NEW.at < head_at OR NEW.at > clock_timestamp() + interval '1 minute' THEN
        RAISE EXCEPTION 'audit_log seq %: its time % is before seq %''s or in the future', NEW.seq, NEW.at, NEW.seq - 1
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_time_order BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_in_time_order();

-- A checkpoint outlives the entries it names once they are cut (it is the anchor): it no longer
-- references the entry by key. That it named a stored entry when it was made is still checked
-- on insert (audit_checkpoint_matches).
ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_seq_fkey;

CREATE TABLE audit_log_cuts (
    -- The last entry removed: a signed checkpoint names it.
    anchor_seq  bigint PRIMARY KEY,
    anchor_hash bytea NOT NULL CHECK (length(anchor_hash) = 32),
    removed     bigint NOT NULL CHECK (removed > 0),
    -- What the cut was asked to remove: entries older than this.
    before      timestamptz NOT NULL,
    cut_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER audit_log_cuts_append_only BEFORE UPDATE OR DELETE ON audit_log_cuts
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_cuts_no_truncate BEFORE TRUNCATE ON audit_log_cuts
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The append-only rule of the audit tables (0300), with the one exception: a DELETE on
-- audit_log by the table's owner inside `audit_cut`, which says so for its own transaction.
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_log'
       AND current_setting('dampwatch.audit_cut', true) = 'on'
       AND current_user = (SELECT r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
                           WHERE c.oid = TG_RELID) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Where a cut of the entries older than `p_before` (moved back to the floor) ends: the newest
-- entry older than it that a checkpoint signed before it names and that is not the head; with
-- `p_limit`, the newest such that removes at most that many entries, or else the oldest such (a
-- cut always makes progress). NULL: none.
CREATE FUNCTION audit_cut_point(p_before timestamptz, p_limit bigint) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
    WITH bounds AS (SELECT min(seq) AS first, max(seq) AS head FROM audit_log),
    cutoff AS (
        SELECT least(p_before, now() - (SELECT at_least FROM retention_floors WHERE class = 'audit_logs')) AS at
    ),
    candidates AS (
        SELECT DISTINCT c.seq FROM audit_checkpoints c JOIN audit_log l ON l.seq = c.seq, bounds b, cutoff x
        WHERE l.at < x.at AND c.at < x.at AND c.seq < b.head
    )
    SELECT coalesce(
        (SELECT max(seq) FROM candidates, bounds b WHERE p_limit IS NULL OR seq - b.first + 1 <= p_limit),
        (SELECT min(seq) FROM candidates))
$$;

-- Removes the entries up to `audit_cut_point(p_before, p_limit)` and records the cut. Returns
-- how many were removed (0: nothing to cut). Holds the appenders' lock, so no entry is written
-- while the chain's start moves.
CREATE FUNCTION audit_cut(p_before timestamptz, p_limit bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    point bigint;
    point_hash bytea;
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(x'64616d7061756469'::bigint);
    point := audit_cut_point(p_before, p_limit);
    IF point IS NULL THEN
        RETURN 0;
    END IF;
    SELECT hash INTO point_hash FROM audit_log WHERE seq = point;
    PERFORM set_config('dampwatch.audit_cut', 'on', true);
    DELETE FROM audit_log WHERE seq <= point;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('dampwatch.audit_cut', '', true);
    INSERT INTO audit_log_cuts (anchor_seq, anchor_hash, removed, before) VALUES (point, point_hash, n, p_before);
    RETURN n;
END
$$;

REVOKE EXECUTE ON FUNCTION audit_cut_point(timestamptz, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_cut(timestamptz, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_cut_point(timestamptz, bigint) TO dampwatch_collector;
GRANT EXECUTE ON FUNCTION audit_cut(timestamptz, bigint) TO dampwatch_collector;
REVOKE INSERT, UPDATE, DELETE ON audit_log_cuts FROM dampwatch_collector;
GRANT SELECT ON audit_log_cuts TO dampwatch_collector;
