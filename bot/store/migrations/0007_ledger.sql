-- 0007_ledger: one ledger for both directions (DESIGN "the ledger"). delivery_log becomes
-- `ledger`: every delivery in (queued, dropped, ignored, rejected with its reason, …) and
-- every attempt out (sent, retry, dead) with where it went (redacted: never a webhook
-- token), the HTTP status that came back, how long it took, the try number and the error.

ALTER TABLE delivery_log RENAME TO ledger;
ALTER TABLE ledger ADD COLUMN direction TEXT NOT NULL DEFAULT 'in'
  CHECK (direction IN ('in', 'out'));
ALTER TABLE ledger ADD COLUMN destination TEXT;      -- out: the outbox destination, redacted
ALTER TABLE ledger ADD COLUMN status_code INTEGER;   -- out: HTTP status, when an answer came
ALTER TABLE ledger ADD COLUMN response_ms REAL;      -- out: from sending to the answer
ALTER TABLE ledger ADD COLUMN attempt INTEGER;       -- out: the outbox row's try (1 = first)
ALTER TABLE ledger ADD COLUMN error TEXT;            -- why it failed (redacted)

-- Lines written so far by the outbox worker went out; their detail was the error.
UPDATE ledger SET direction = 'out' WHERE outcome IN ('sent', 'retry', 'dead');
UPDATE ledger SET error = detail WHERE outcome IN ('retry', 'dead');

DROP INDEX delivery_log_hook;
DROP INDEX delivery_log_at;
CREATE INDEX ledger_hook ON ledger (hook_id, id);
CREATE INDEX ledger_at ON ledger (at);
