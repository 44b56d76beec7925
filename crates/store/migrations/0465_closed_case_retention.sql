-- Retention of closed cases (class `closed_cases`: six years after closure by default,
-- `[retention] closed_cases` may lengthen it; a legal hold applies: collector/data/retention.toml).
--
-- A case's events are a hash chain of their own (0101), so a case goes whole: its events, its
-- deadlines and the case row, in one transaction; alerts, queued webhooks and e-mails that
-- pointed at it keep their own periods and lose only the link. The chain's end is anchored
-- before it goes: an audit entry `retention.case_deleted` (actor `system:retention`, target
-- `case:ID`) records how many events it had and its head hash, so whoever holds an earlier
-- evidence pack of the case can show it is the record that was deleted, and the audit log's
-- signed checkpoints cover that entry. Nothing of a held home is deleted (an open case there,
-- or an unreleased legal hold: the views of 0440), whatever the caller asks.
--
-- When a case was closed is the database's own record, `closed_at`, set when its state becomes
-- `closed` and cleared when it reopens; no writer sets it (a request that may close a case
-- cannot date the closure back and so have its history deleted). The cutoff a service login
-- asks for is moved back to the floor in `retention_floors` (0464). Only `case_cut` deletes
-- events, running as the table's owner (SECURITY DEFINER), as `audit_cut` does for the audit
-- log: the append-only trigger lets a DELETE through only then.

ALTER TABLE cases ADD COLUMN closed_at timestamptz;
-- Cases closed before this migration: their last change is the best record of the closure.
UPDATE cases SET closed_at = updated_at WHERE state = 'closed';
CREATE INDEX cases_closed_at ON cases (closed_at) WHERE state = 'closed';

CREATE FUNCTION cases_record_closure() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NEW.state <> 'closed' THEN
        NEW.closed_at := NULL;
    ELSIF TG_OP = 'INSERT' OR OLD.state <> 'closed' THEN
        NEW.closed_at := clock_timestamp();
    ELSE
        NEW.closed_at := OLD.closed_at;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER cases_record_closure BEFORE INSERT OR UPDATE ON cases
    FOR EACH ROW EXECUTE FUNCTION cases_record_closure();

CREATE OR REPLACE FUNCTION case_events_refuse_change() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('dampwatch.case_cut', true) = 'on'
       AND current_user = (SELECT r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
                           WHERE c.oid = TG_RELID) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'case_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- The instant before which a closed case may go: `p_before`, moved back to the floor.
CREATE FUNCTION case_cut_before(p_before timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT least(p_before, now() - (SELECT at_least FROM retention_floors WHERE class = 'closed_cases'))
$$;

-- The closed cases a cut at `p_before` may delete (`p_held`: also those a hold keeps, for the
-- dry run's count of what is held).
CREATE FUNCTION case_cut_candidates(p_before timestamptz, p_held boolean) RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT c.id FROM cases c LEFT JOIN rooms r ON r.id = c.room_id
    WHERE c.state = 'closed' AND c.closed_at < case_cut_before(p_before)
      AND (p_held OR (
              (r.dwelling_id IS NULL OR r.dwelling_id NOT IN (SELECT dwelling_id FROM retention_held_dwellings))
          AND (c.device_id IS NULL OR c.device_id NOT IN (SELECT device_id FROM retention_held_devices))))
    ORDER BY c.id
$$;

-- Deletes at most `p_limit` of the cases a cut at `p_before` may delete, each anchored in the
-- audit log first. Returns how many.
CREATE FUNCTION case_cut(p_before timestamptz, p_limit integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    doomed record;
    head_hash bytea;
    head_seq integer;
    n bigint := 0;
BEGIN
    -- The state and closure are tested again on the locked row: a case reopened while this
    -- waited for its lock is not deleted.
    FOR doomed IN
        SELECT c.id, c.landlord_id, c.hazard, c.opened_at, c.closed_at FROM cases c
        WHERE c.id IN (SELECT case_cut_candidates(p_before, false) LIMIT greatest(p_limit, 0))
          AND c.state = 'closed' AND c.closed_at < case_cut_before(p_before)
        ORDER BY c.id FOR UPDATE
    LOOP
        SELECT e.hash, e.seq INTO head_hash, head_seq FROM case_events e
        WHERE e.case_id = doomed.id ORDER BY e.seq DESC LIMIT 1;
        PERFORM audit_append('system:retention', doomed.landlord_id, NULL, 'retention.case_deleted',
            'case:' || doomed.id, 'success',
            json_build_object('events', coalesce(head_seq, 0), 'head_hash', encode(head_hash, 'hex'),
                              'hazard', doomed.hazard, 'opened_at', doomed.opened_at,
                              'closed_at', doomed.closed_at, 'closed_before', case_cut_before(p_before))::text);
        UPDATE alerts SET case_id = NULL WHERE case_id = doomed.id;
        UPDATE webhook_outbox SET case_id = NULL WHERE case_id = doomed.id;
        UPDATE email_outbox SET case_id = NULL WHERE case_id = doomed.id;
        UPDATE email_digest_items SET case_id = NULL WHERE case_id = doomed.id;
        DELETE FROM case_deadlines WHERE case_id = doomed.id;
        PERFORM set_config('dampwatch.case_cut', 'on', true);
        DELETE FROM case_events WHERE case_id = doomed.id;
        PERFORM set_config('dampwatch.case_cut', '', true);
        DELETE FROM cases WHERE id = doomed.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

REVOKE EXECUTE ON FUNCTION case_cut_before(timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION case_cut_candidates(timestamptz, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION case_cut(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION case_cut_before(timestamptz) TO dampwatch_collector;
GRANT EXECUTE ON FUNCTION case_cut_candidates(timestamptz, boolean) TO dampwatch_collector;
GRANT EXECUTE ON FUNCTION case_cut(timestamptz, integer) TO dampwatch_collector;
