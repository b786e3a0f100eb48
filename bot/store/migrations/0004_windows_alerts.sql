-- 0004_windows_alerts: aggregation windows (held events) and alert-if rules with their state.

ALTER TABLE hooks ADD COLUMN window_seconds INTEGER;           -- NULL: no aggregation
ALTER TABLE hooks ADD COLUMN alerts TEXT NOT NULL DEFAULT '[]'; -- [{"expression": …, "mention_role": …}]
ALTER TABLE hooks ADD COLUMN alert_misses INTEGER NOT NULL DEFAULT 0;  -- rules false for a missing name

CREATE TABLE held_events (
  id          INTEGER PRIMARY KEY,
  hook_id     TEXT    NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
  window_end  REAL    NOT NULL,                 -- unix seconds, a UTC multiple of the window
  event       TEXT    NOT NULL,                 -- formatters.digest.HeldEvent as JSON
  delivery_id TEXT,
  created_at  REAL    NOT NULL
);
CREATE INDEX held_due ON held_events (window_end, hook_id, id);

CREATE TABLE pr_state (
  hook_id    TEXT NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
  subject    TEXT NOT NULL,                     -- github:owner/repo#45
  state      TEXT NOT NULL,                     -- bot.prstate.PRState as JSON
  updated_at REAL NOT NULL,
  PRIMARY KEY (hook_id, subject)
) WITHOUT ROWID;

CREATE TABLE alert_state (
  hook_id  TEXT    NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
  rule     TEXT    NOT NULL,                    -- the rule's expression
  subject  TEXT    NOT NULL,
  active   INTEGER NOT NULL,                    -- 1 while the rule is true (fired once)
  PRIMARY KEY (hook_id, rule, subject)
) WITHOUT ROWID;
