-- 0005_inbox_attempts: poison-message protection. The pipeline counts an attempt on a
-- delivery before it starts working on it; one that did not finish after 3 attempts
-- (a crash, a kill, a hang) is set aside: status 2 = failed, with its reason in the log.
ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
