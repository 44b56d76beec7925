-- The webhook delivery log used to keep the start of a failed receiver's response body and the
-- sender's low-level connection errors, and the landlord's API showed both. An error page can
-- carry the receiver's own secrets, and connection errors tell which ports of a host answer,
-- so the log now keeps a fixed reason and the status code only. This rewrites what older
-- versions kept, in the words the sender now uses.
UPDATE webhook_deliveries SET error = CASE
        WHEN status_code IS NOT NULL THEN 'HTTP ' || status_code || ' from the receiver'
        WHEN error = 'the endpoint is deactivated' THEN error
        WHEN error LIKE 'no complete response within %' THEN 'no complete answer within the time limit'
        ELSE 'could not reach the receiver'
    END
    WHERE error IS NOT NULL;
UPDATE webhook_outbox SET last_error = CASE
        WHEN last_error ~ '^HTTP [0-9]{3}'
            THEN 'HTTP ' || substring(last_error FROM '^HTTP ([0-9]{3})') || ' from the receiver'
        WHEN last_error = 'the endpoint is deactivated' THEN last_error
        WHEN last_error LIKE 'no complete response within %' THEN 'no complete answer within the time limit'
        ELSE 'could not reach the receiver'
    END
    WHERE last_error IS NOT NULL;
