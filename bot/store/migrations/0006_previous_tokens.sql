-- 0006_previous_tokens: every token rotated out with a grace keeps working, with its own
-- secret, until its own grace ends (hooks.old_token held only the last one; it is now unused).

CREATE TABLE previous_tokens (
  token       TEXT NOT NULL PRIMARY KEY,
  hook_id     TEXT NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
  secret      TEXT NOT NULL,
  grace_until REAL NOT NULL                    -- unix seconds; the token works until then
) WITHOUT ROWID;
CREATE INDEX previous_tokens_hook ON previous_tokens (hook_id);

INSERT INTO previous_tokens (token, hook_id, secret, grace_until)
  SELECT old_token, id, COALESCE(old_secret, secret), grace_until FROM hooks
  WHERE old_token IS NOT NULL AND grace_until IS NOT NULL;
UPDATE hooks SET old_token = NULL, old_secret = NULL, grace_until = NULL
  WHERE old_token IS NOT NULL;

-- A hook's newest delivery (`format` previews, `test`) is found through this index
-- instead of reading and sorting every payload the hook has stored.
CREATE INDEX inbox_hook_latest ON inbox (hook_id, id);
