-- The audit log: authentication events and sensitive actions, append-only and hash-chained by
-- the database, with checkpoints of the chain's head signed by the platform's audit key
-- (crates/audit). Anyone holding an export and the platform's public key can re-check every
-- entry without our code: crates/audit/README.md spells the hashed bytes out.
--
-- The hashed bytes of an entry (all integers big-endian):
--   'dampwatch-audit-v1' (UTF-8) || seq (8 bytes) || at in microseconds since the Unix epoch
--   (8 bytes) || prev_hash (32 bytes) || field(actor) || field(landlord_id) || field(source) ||
--   field(action) || field(target) || field(outcome) || field(details)
-- where field(NULL) = 0x00 and field(s) = 0x01 || length of s in UTF-8 bytes (4 bytes) || s.
-- The length prefix (rather than a separator, as the case log uses) makes the encoding
-- unambiguous whatever the text holds, and tells NULL apart from the empty string.

CREATE TABLE audit_log (
    seq         bigint PRIMARY KEY CHECK (seq >= 1),
    at          timestamptz NOT NULL,
    -- Who acted: `user:12`, `key:3`, `client:5`, `cli:<unix user>`, `system`, `anonymous`.
    actor       text NOT NULL,
    -- The landlord whose data the action touched (NULL: the platform's own, e.g. a failed
    -- login naming no known landlord); a tenant sees only its own landlord's entries.
    landlord_id text NULL,
    -- Where the request came from (an address, a process).
    source      text NULL,
    action      text NOT NULL,
    target      text NULL,
    outcome     text NOT NULL CHECK (outcome IN ('success', 'failure', 'refused')),
    -- JSON as text, kept byte-exact: jsonb would reorder keys and the stored hash would no
    -- longer match what a verifier reads.
    details     text NOT NULL,
    prev_hash   bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash        bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_landlord ON audit_log (landlord_id, seq);

-- Signed heads of the chain. The signature covers 'dampwatch-audit-checkpoint-v1' || seq ||
-- hash || at (microseconds), so an entry rewritten later, even with every following hash
-- forged, no longer matches a checkpoint the database cannot re-sign.
CREATE TABLE audit_checkpoints (
    seq       bigint PRIMARY KEY REFERENCES audit_log (seq),
    hash      bytea NOT NULL CHECK (length(hash) = 32),
    at        timestamptz NOT NULL,
    key_id    text NOT NULL,
    signature bytea NOT NULL CHECK (length(signature) = 64)
);

CREATE FUNCTION audit_field(s text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN s IS NULL THEN '\x00'::bytea
           ELSE '\x01'::bytea || int4send(octet_length(convert_to(s, 'UTF8'))) || convert_to(s, 'UTF8')
           END
$$;

CREATE FUNCTION audit_entry_hash(
    seq bigint, at timestamptz, prev_hash bytea, actor text, landlord_id text, source text,
    action text, target text, outcome text, details text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT sha256(convert_to('dampwatch-audit-v1', 'UTF8')
        || int8send(seq)
        -- extract(epoch ...) is numeric (exact) since PostgreSQL 14, and independent of the
        -- session's time zone.
        || int8send((extract(epoch FROM at) * 1000000)::bigint)
        || prev_hash
        || audit_field(actor) || audit_field(landlord_id) || audit_field(source)
        || audit_field(action) || audit_field(target) || audit_field(outcome)
        || audit_field(details))
$$;

-- Append-only for every role, the owner included (as case_events): a change needs the
-- triggers disabled first, and then the hashes and the signed checkpoints tell.
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- Whoever inserts (audit_append, or a service role writing directly), a row must continue the
-- chain: the next seq, the head's hash as prev_hash and its own hash over its contents. So the
-- chain cannot fork or hold a row that fails verification the moment it is written.
CREATE FUNCTION audit_log_continue_chain() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    head_seq bigint;
    head_hash bytea;
BEGIN
    -- The same lock as audit_append (re-entrant there), so two direct inserts cannot both
    -- read the same head.
    PERFORM pg_advisory_xact_lock(x'64616d7061756469'::bigint);
    SELECT l.seq, l.hash INTO head_seq, head_hash FROM audit_log l ORDER BY l.seq DESC LIMIT 1;
    IF NEW.seq IS DISTINCT FROM coalesce(head_seq, 0) + 1 THEN
        RAISE EXCEPTION 'audit_log seq % does not continue the chain (head is %)', NEW.seq, coalesce(head_seq, 0)
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.prev_hash IS DISTINCT FROM coalesce(head_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) THEN
        RAISE EXCEPTION 'audit_log seq %: prev_hash is not the hash of seq %', NEW.seq, coalesce(head_seq, 0)
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.hash IS DISTINCT FROM audit_entry_hash(NEW.seq, NEW.at, NEW.prev_hash, NEW.actor,
            NEW.landlord_id, NEW.source, NEW.action, NEW.target, NEW.outcome, NEW.details) THEN
        RAISE EXCEPTION 'audit_log seq %: hash does not match its contents', NEW.seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_continue_chain();

-- A checkpoint names an entry's stored hash; one naming anything else could never verify.
CREATE FUNCTION audit_checkpoint_matches() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq AND hash = NEW.hash) THEN
        RAISE EXCEPTION 'audit checkpoint at seq %: hash is not that entry''s', NEW.seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_checkpoints_match BEFORE INSERT ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_matches();

-- The one way to write an entry. SECURITY DEFINER: the tenant role may append through it
-- without any privilege on the table itself. The advisory lock serialises appenders, so seq
-- has no gaps and every entry chains to the one before; it is held until the caller's
-- transaction ends, so callers append last, just before they commit.
CREATE FUNCTION audit_append(p_actor text, p_landlord_id text, p_source text, p_action text,
    p_target text, p_outcome text, p_details text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    tenant text := nullif(current_setting('dampwatch.landlord', true), '');
    head_seq bigint;
    head_hash bytea;
    new_seq bigint;
    new_at timestamptz;
    new_prev bytea;
BEGIN
    -- A landlord's request cannot write another landlord's entries, nor the platform's.
    IF tenant IS NOT NULL AND p_landlord_id IS DISTINCT FROM tenant THEN
        RAISE EXCEPTION 'an audit entry for landlord % cannot be written in a request of landlord %',
            coalesce(p_landlord_id, 'NULL'), tenant
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Refused here rather than stored: details must be JSON a verifier can parse.
    PERFORM p_details::json;
    PERFORM pg_advisory_xact_lock(x'64616d7061756469'::bigint);
    SELECT l.seq, l.hash INTO head_seq, head_hash FROM audit_log l ORDER BY l.seq DESC LIMIT 1;
    new_seq := coalesce(head_seq, 0) + 1;
    new_prev := coalesce(head_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    new_at := date_trunc('microseconds', clock_timestamp());
    INSERT INTO audit_log (seq, at, actor, landlord_id, source, action, target, outcome, details, prev_hash, hash)
    VALUES (new_seq, new_at, p_actor, p_landlord_id, p_source, p_action, p_target, p_outcome, p_details, new_prev,
            audit_entry_hash(new_seq, new_at, new_prev, p_actor, p_landlord_id, p_source, p_action, p_target,
                             p_outcome, p_details));
    RETURN new_seq;
END
$$;
REVOKE EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text, text) TO dampwatch_api_tenant;

-- A request reads its own landlord's entries and nothing else (never the checkpoints, which
-- say how much the platform as a whole logged).
GRANT SELECT ON audit_log TO dampwatch_api_tenant;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log TO dampwatch_api_tenant
    USING (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''))
    WITH CHECK (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''));
CREATE POLICY service_access ON audit_log
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
