-- 0003_shaping: channel-wide templates (`format github-push …`) and per-filter counters.

CREATE TABLE channel_templates (
  guild_id    TEXT NOT NULL DEFAULT '',
  channel_id  TEXT NOT NULL DEFAULT '',
  service     TEXT NOT NULL,
  kind        TEXT NOT NULL,                  -- an event name (push) or a kind (pull_request.opened)
  template    TEXT NOT NULL,
  updated_at  REAL NOT NULL,
  PRIMARY KEY (guild_id, channel_id, service, kind)
) WITHOUT ROWID;

CREATE TABLE filter_stats (
  hook_id  TEXT    NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
  filter   TEXT    NOT NULL,                  -- the filter's canonical text
  kept     INTEGER NOT NULL DEFAULT 0,
  dropped  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (hook_id, filter)
) WITHOUT ROWID;
