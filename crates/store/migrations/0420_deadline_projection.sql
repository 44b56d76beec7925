-- Stored deadlines good for reading at any instant, so the SLA board reads them instead of
-- replaying every open case on every page.
--
-- 1. `due_soon_from`: while a step's clock runs, the instant from which it counts as due soon
--    (it is overdue from `ends_at`). The status at any later instant follows from the two
--    without the case's events. NULL for steps whose clock is not running.
-- 2. `deadline_projection`: the basis (a fingerprint of every law's and calendar's version and
--    the status policy) that the stored deadlines of cases not closed were all computed under.
--    The hazard worker recomputes them when it starts under another basis (new law data, a
--    bank holiday added, a changed threshold, or rows stored before this migration) and only
--    then records the new one; until it has, readers replay cases from their events.
-- 3. `recorded_late`: the late-record mark of a met step (also inside `detail`), so a list of
--    every open case's steps reads it without reading each computation's whole detail.
ALTER TABLE case_deadlines ADD COLUMN due_soon_from timestamptz;
ALTER TABLE case_deadlines ADD COLUMN recorded_late jsonb;

CREATE TABLE deadline_projection (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    basis        text NOT NULL,
    cases        bigint NOT NULL,
    refreshed_at timestamptz NOT NULL
);
-- Every request reads the basis to compare it with its own clock's; it is no landlord's data,
-- so every role reads the one row, and only the service roles write it.
GRANT SELECT ON deadline_projection TO dampwatch_api_tenant;
ALTER TABLE deadline_projection ENABLE ROW LEVEL SECURITY;
ALTER TABLE deadline_projection FORCE ROW LEVEL SECURITY;
CREATE POLICY everyone_reads ON deadline_projection FOR SELECT USING (true);
CREATE POLICY service_access ON deadline_projection
    USING (current_user <> 'dampwatch_api_tenant')
    WITH CHECK (current_user <> 'dampwatch_api_tenant');
