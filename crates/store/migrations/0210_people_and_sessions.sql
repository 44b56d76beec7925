-- People who sign in: users of one landlord (or platform operators), their second factors,
-- their sessions and password-reset tokens; cases assignable to a person (contractors see only
-- the cases assigned to them); API keys with scopes and an expiry.
--
-- Secrets are stored only as hashes (passwords: argon2id PHC strings; session ids, CSRF
-- tokens and reset tokens: SHA-256 of 256-bit random values; recovery codes: SHA-256 of
-- 120-bit random values; values that random need no slow hash). The tenant role (`dampwatch_api_tenant`) can read and change its landlord's
-- users' profile and role columns, never a secret column, a session or a token: signing in
-- runs as the service's own role, before any tenant transaction exists.

CREATE TABLE users (
    id                  bigserial PRIMARY KEY,
    -- NULL for a platform operator, who belongs to no landlord and sees no landlord's data.
    landlord_id         text REFERENCES landlords (id),
    email               text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    display_name        text NOT NULL,
    role                text NOT NULL
                        CHECK (role IN ('operator', 'landlord_admin', 'housing_officer', 'contractor', 'auditor')),
    CHECK ((role = 'operator') = (landlord_id IS NULL)),
    -- argon2id PHC string; NULL until the person sets one with a reset token.
    password_hash       text,
    password_changed_at timestamptz,
    -- The TOTP secret in use (NULL: no second factor) and one being enrolled.
    totp_secret         bytea,
    totp_pending        bytea,
    -- The last TOTP time step accepted: a code is accepted once, never again within its window.
    totp_last_step      bigint,
    -- Whether a second factor is in use: readable where the secret is not.
    mfa_enabled         boolean GENERATED ALWAYS AS (totp_secret IS NOT NULL) STORED,
    -- Failed sign-ins since the last success, lockouts so far (each lasts longer), and until
    -- when the account is locked.
    failed_attempts     integer NOT NULL DEFAULT 0,
    lockouts            integer NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    -- When the account was last locked: shown to the person and their landlord's admins.
    last_lockout_at     timestamptz,
    disabled_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_landlord ON users (landlord_id);

CREATE TABLE recovery_codes (
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL CHECK (length(code_hash) = 32),
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_hash    bytea NOT NULL CHECK (length(csrf_hash) = 32),
    -- Whether the second factor was presented (a session without it can only enrol one).
    mfa_verified boolean NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- The absolute end, whatever the activity.
    expires_at   timestamptz NOT NULL,
    source       text,
    user_agent   text
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- A disabled user, or one whose role changed, keeps no session: their rights are re-read at
-- the next sign-in. SECURITY DEFINER because the tenant role that makes the change may not
-- touch sessions itself.
CREATE FUNCTION users_end_sessions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NEW.disabled_at IS DISTINCT FROM OLD.disabled_at OR NEW.role IS DISTINCT FROM OLD.role
       OR NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        DELETE FROM sessions WHERE user_id = NEW.id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_end_sessions AFTER UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_end_sessions();

-- The person a case is assigned to (a contractor doing the works, an officer owning it).
ALTER TABLE cases ADD COLUMN assigned_user_id bigint REFERENCES users (id);
CREATE INDEX cases_assigned ON cases (assigned_user_id) WHERE assigned_user_id IS NOT NULL;

-- API keys: what they may do, and until when. Keys made before scopes existed keep the full
-- access they had and no expiry; new keys get both from `dampwatch keys add`.
ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL DEFAULT '{read,write}'
    CHECK (scopes <@ '{read,write}'::text[] AND cardinality(scopes) > 0);
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;

-- What a landlord's request may see and change of its people: profiles and roles, never
-- secrets (column grants), only its landlord's rows (row-level security below).
GRANT SELECT (id, landlord_id, email, display_name, role, password_changed_at, mfa_enabled,
    locked_until, last_lockout_at, disabled_at, created_at) ON users TO dampwatch_api_tenant;
GRANT INSERT (landlord_id, email, display_name, role) ON users TO dampwatch_api_tenant;
GRANT UPDATE (display_name, role, disabled_at) ON users TO dampwatch_api_tenant;
GRANT USAGE ON SEQUENCE users_id_seq TO dampwatch_api_tenant;
GRANT UPDATE (assigned_user_id) ON cases TO dampwatch_api_tenant;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
-- A landlord's request never makes or sees an operator (landlord_id NULL never equals).
CREATE POLICY tenant_isolation ON users TO dampwatch_api_tenant
    USING (landlord_id = nullif(current_setting('dampwatch.landlord', true), ''))
    WITH CHECK (landlord_id = nullif(current_setting('dampwatch.landlord', true), '')
                AND role <> 'operator');
CREATE POLICY service_access ON users
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');

-- A contractor's request sees only the cases assigned to them, and those cases' events and
-- deadlines. RESTRICTIVE: it narrows what the landlord isolation already allows. The setting
-- `dampwatch.user_role` is set with the landlord in each request's transaction.
CREATE FUNCTION contractor_may_see(case_owner bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT current_setting('dampwatch.user_role', true) IS DISTINCT FROM 'contractor'
        OR case_owner = nullif(current_setting('dampwatch.user', true), '')::bigint
$$;
CREATE POLICY contractor_assigned ON cases AS RESTRICTIVE TO dampwatch_api_tenant
    USING (contractor_may_see(assigned_user_id));
CREATE POLICY contractor_assigned ON case_events AS RESTRICTIVE TO dampwatch_api_tenant
    USING (contractor_may_see((SELECT c.assigned_user_id FROM cases c WHERE c.id = case_events.case_id)));
CREATE POLICY contractor_assigned ON case_deadlines AS RESTRICTIVE TO dampwatch_api_tenant
    USING (contractor_may_see((SELECT c.assigned_user_id FROM cases c WHERE c.id = case_deadlines.case_id)));
