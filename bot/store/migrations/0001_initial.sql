-- 0001_initial: hooks, their rejection counters, inbox, outbox and the delivery log.
-- Times are unix seconds (REAL). JSON columns hold text written by bot/store.py.

CREATE TABLE hooks (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
  id            TEXT    NOT NULL UNIQUE,             -- hook_001
  service       TEXT    NOT NULL,
  guild_id      TEXT,
  channel_id    TEXT,
  destination   TEXT    NOT NULL,                    -- Sink key: console | webhook:<url> | discord:channel:<id> | http:<url>
  target        TEXT,                                -- owner/repo, docker host, custom name
  creator       TEXT,
  token         TEXT    NOT NULL UNIQUE,
  secret        TEXT    NOT NULL,
  old_token     TEXT    UNIQUE,                      -- rotate --grace: old token and secret keep working
  old_secret    TEXT,
  grace_until   REAL,
  events        TEXT    NOT NULL DEFAULT '[]',
  filters       TEXT    NOT NULL DEFAULT '[]',
  templates     TEXT    NOT NULL DEFAULT '{}',
  enabled       INTEGER NOT NULL DEFAULT 1,
  failing       TEXT,                                -- why the destination failed permanently, or NULL
  accepted      INTEGER NOT NULL DEFAULT 0,
  rejected      INTEGER NOT NULL DEFAULT 0,
  last_rejection TEXT,
  last_delivery_at REAL,
  last_delivery_status TEXT,
  last_error    TEXT,
  created_at    REAL    NOT NULL,
  updated_at    REAL    NOT NULL
);

CREATE TABLE hook_rejections (
  hook_id  TEXT    NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
  reason   TEXT    NOT NULL,
  count    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (hook_id, reason)
) WITHOUT ROWID;

CREATE TABLE inbox (
  id           INTEGER PRIMARY KEY,
  hook_id      TEXT    NOT NULL,
  service      TEXT    NOT NULL,
  delivery_id  TEXT    NOT NULL,
  event_name   TEXT,
  headers      TEXT    NOT NULL,
  body         BLOB    NOT NULL,
  status       INTEGER NOT NULL DEFAULT 0,           -- 0 pending, 1 done
  received_at  REAL    NOT NULL,
  UNIQUE (hook_id, delivery_id)
);
CREATE INDEX inbox_pending ON inbox (status, id);
CREATE INDEX inbox_received ON inbox (received_at);

CREATE TABLE outbox (
  id          INTEGER PRIMARY KEY,
  destination TEXT    NOT NULL,
  payload     TEXT    NOT NULL,                       -- Message as JSON
  nonce       TEXT    NOT NULL UNIQUE,                -- stable, at most 25 characters
  status      INTEGER NOT NULL DEFAULT 0,             -- 0 ready, 1 in flight, 2 done, 3 dead
  attempts    INTEGER NOT NULL DEFAULT 0,
  not_before  REAL    NOT NULL,
  claimed_at  REAL,
  done_at     REAL,
  last_error  TEXT,
  delivery_id TEXT,
  hook_id     TEXT,
  created_at  REAL    NOT NULL
);
CREATE INDEX outbox_ready ON outbox (destination, status, id);
CREATE INDEX outbox_created ON outbox (created_at);

CREATE TABLE delivery_log (
  id          INTEGER PRIMARY KEY,
  at          REAL    NOT NULL,
  hook_id     TEXT,
  delivery_id TEXT,
  kind        TEXT,
  outcome     TEXT    NOT NULL,                       -- accepted | ignored | error | queued | sent | retry | dead | skipped
  detail      TEXT
);
CREATE INDEX delivery_log_hook ON delivery_log (hook_id, id);
CREATE INDEX delivery_log_at ON delivery_log (at);
