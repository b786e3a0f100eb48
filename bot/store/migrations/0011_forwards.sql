-- 0011_forwards: outgoing endpoints attached to a hook (DESIGN "Forwarding"). Every event
-- the hook posts is also POSTed to each of its forwards, from the outbox (destination
-- `forward:<id>`), signed with the forward's own secret.

CREATE TABLE forwards (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,          -- forward:<id>; never reused
  hook_id     TEXT    NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
  url         TEXT    NOT NULL,
  secret      TEXT    NOT NULL,                           -- whsec_…, shown once
  events      TEXT    NOT NULL DEFAULT '[]',              -- patterns on top of the hook's selection
  headers     TEXT    NOT NULL DEFAULT '[]',              -- [[name, value], …] as given
  retries     INTEGER NOT NULL DEFAULT 3 CHECK (retries BETWEEN 0 AND 10),
  timeout     INTEGER NOT NULL DEFAULT 30 CHECK (timeout BETWEEN 5 AND 300),
  body        TEXT,                                       -- a --body template, NULL: the default body
  created_at  REAL    NOT NULL
);
CREATE INDEX forwards_hook ON forwards (hook_id, id);
