-- E-mail notifications: each person's preferences, an e-mail outbox written in the transaction
-- that made the change (as `webhook_outbox` is), every sending attempt, each day's digest and
-- the addresses the mail system reported as bouncing.
--
-- What a person receives:
-- - at once, one e-mail per event that starts or changes a legal clock: an alert with a legal
--   clock raised or re-opened, and every change of a case (`case.updated`);
-- - once a day, a digest of the advisory alerts (and the other alert changes) since the last
--   one and of the deadlines of open cases due within the next two working days.
-- A contractor is mailed only about the cases assigned to them.

-- A person's choices. Without a row, the defaults of their role apply
-- (`email_preferences_effective()`).
CREATE TABLE email_preferences (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    landlord_id text NOT NULL REFERENCES landlords (id),
    -- E-mail at once for everything that starts or changes a legal clock.
    immediate   boolean NOT NULL,
    -- The daily digest (advisory alerts, deadlines due in the next two working days).
    daily_digest boolean NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_preferences_landlord ON email_preferences (landlord_id);

-- The defaults of a role: admins and housing officers get both; contractors the immediate
-- e-mails of the cases assigned to them; auditors and operators nothing unless they choose.
CREATE FUNCTION email_default_immediate(role text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT role IN ('landlord_admin', 'housing_officer', 'contractor')
$$;
CREATE FUNCTION email_default_digest(role text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT role IN ('landlord_admin', 'housing_officer')
$$;

-- Every active person of a landlord with the preferences in force (their own or their role's).
-- A function running with its caller's rights (not a view, which would run with its owner's):
-- a landlord's request that queues a case event's e-mails sees only its own people.
CREATE FUNCTION email_preferences_effective()
RETURNS TABLE (user_id bigint, landlord_id text, email text, role text, immediate boolean,
               daily_digest boolean, defaults boolean)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT u.id, u.landlord_id, u.email, u.role,
           coalesce(p.immediate, email_default_immediate(u.role)),
           coalesce(p.daily_digest, email_default_digest(u.role)),
           p.user_id IS NULL
    FROM users u LEFT JOIN email_preferences p ON p.user_id = u.id
    WHERE u.landlord_id IS NOT NULL AND u.disabled_at IS NULL
$$;

-- Addresses the mail system reported as bouncing: not mailed while a report is not cleared.
CREATE TABLE email_bounces (
    id          bigserial PRIMARY KEY,
    address     text NOT NULL CHECK (address = lower(address)),
    -- The landlord of the person with this address when it was reported (NULL if nobody).
    landlord_id text REFERENCES landlords (id),
    reason      text NOT NULL DEFAULT '',
    reported_at timestamptz NOT NULL DEFAULT now(),
    reported_by text NOT NULL,
    cleared_at  timestamptz
);
CREATE UNIQUE INDEX email_bounces_active ON email_bounces (address) WHERE cleared_at IS NULL;
CREATE INDEX email_bounces_landlord ON email_bounces (landlord_id, reported_at DESC);

-- One row per recipient and e-mail. Written in the transaction that made the change (events),
-- or that composed the day's digest, so an e-mail exists exactly when its change committed.
-- `message_key` makes the Message-ID: every attempt of a row sends the same message, so a
-- resend after a crash between sending and recording is recognisable as the same e-mail.
-- A claim pushes `next_attempt_at` forward (a lease), as in `webhook_outbox`.
CREATE TABLE email_outbox (
    id              bigserial PRIMARY KEY,
    landlord_id     text NOT NULL REFERENCES landlords (id),
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The address when it was queued.
    address         text NOT NULL,
    -- `event` (at once) or `digest` (the day's summary).
    kind            text NOT NULL CHECK (kind IN ('event', 'digest')),
    event_type      text NOT NULL,
    alert_id        bigint REFERENCES alerts (id),
    case_id         bigint REFERENCES cases (id),
    -- The Europe/London date a digest covers.
    digest_date     date,
    -- The event's body (as its webhook carries it) or the digest's contents.
    payload         jsonb NOT NULL,
    message_key     uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    -- pending, sent, failed (a permanent refusal or the last attempt), suppressed (bounced address)
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    failed_at       timestamptz,
    last_error      text,
    CHECK ((kind = 'digest') = (digest_date IS NOT NULL))
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX email_outbox_failed ON email_outbox (landlord_id, failed_at DESC) WHERE state IN ('failed', 'suppressed');
CREATE INDEX email_outbox_user ON email_outbox (user_id, created_at);
-- At most one digest per person and day, whatever crashes and restarts happen.
CREATE UNIQUE INDEX email_outbox_one_digest ON email_outbox (user_id, digest_date) WHERE kind = 'digest';

-- Every sending attempt: when, how long, the server's reply code or the error.
CREATE TABLE email_attempts (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES email_outbox (id) ON DELETE CASCADE,
    landlord_id text NOT NULL REFERENCES landlords (id),
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    smtp_code   integer,
    error       text,
    -- sent, retrying (will be tried again), failed (given up), suppressed (bounced address)
    outcome     text NOT NULL CHECK (outcome IN ('sent', 'retrying', 'failed', 'suppressed'))
);
CREATE INDEX email_attempts_outbox ON email_attempts (outbox_id, attempt);
CREATE INDEX email_attempts_landlord ON email_attempts (landlord_id, started_at DESC);

-- Items waiting for a person's next digest, written with the change (as the outbox is). The
-- day's digest takes every waiting item and marks it with its outbox row in one transaction.
CREATE TABLE email_digest_items (
    id          bigserial PRIMARY KEY,
    landlord_id text NOT NULL REFERENCES landlords (id),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type  text NOT NULL,
    alert_id    bigint REFERENCES alerts (id),
    case_id     bigint REFERENCES cases (id),
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- The digest that carried it; NULL while it waits.
    outbox_id   bigint REFERENCES email_outbox (id) ON DELETE SET NULL
);
CREATE INDEX email_digest_items_waiting ON email_digest_items (user_id, id) WHERE outbox_id IS NULL;

-- Each person's digest of each day, once composed (also when there was nothing to send, so a
-- day is never composed twice).
CREATE TABLE email_digests (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    landlord_id text NOT NULL REFERENCES landlords (id),
    digest_date date NOT NULL,
    outbox_id   bigint REFERENCES email_outbox (id) ON DELETE SET NULL,
    composed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, digest_date)
);

-- Wake the e-mail sender at commit.
CREATE TRIGGER email_outbox_notify AFTER INSERT ON email_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION dampwatch_notify_channel('dampwatch_email_outbox');

-- A landlord's request reads its people's preferences and sets a person's own, and reads its
-- e-mails' failures and bounces; never another landlord's.
GRANT SELECT, INSERT, UPDATE ON email_preferences TO dampwatch_api_tenant;
GRANT SELECT ON email_outbox, email_attempts, email_bounces TO dampwatch_api_tenant;
-- A request that records a case event queues the event's e-mails in its own transaction, as it
-- queues the event's webhooks.
GRANT INSERT ON email_outbox, email_digest_items TO dampwatch_api_tenant;
GRANT USAGE ON SEQUENCE email_outbox_id_seq, email_digest_items_id_seq TO dampwatch_api_tenant;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['email_preferences', 'email_outbox', 'email_attempts', 'email_digest_items',
                             'email_digests', 'email_bounces']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO dampwatch_api_tenant
                 USING (landlord_id = nullif(current_setting(''dampwatch.landlord'', true), ''''))
                 WITH CHECK (landlord_id = nullif(current_setting(''dampwatch.landlord'', true), ''''))',
            t);
        EXECUTE format(
            'CREATE POLICY service_access ON %I
                 USING (current_user <> ''dampwatch_api_tenant'')
                 WITH CHECK (current_user <> ''dampwatch_api_tenant'')',
            t);
    END LOOP;
END
$$;
