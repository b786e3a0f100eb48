-- 0009_docker_sources: where each Docker host's event stream resumes (issue 16).
-- bot/intake/docker_watch.py stores a host's events in the inbox first, then moves its
-- cursor here, so `since=` the cursor after a restart or a reconnect loses nothing.
CREATE TABLE docker_sources (
  host        TEXT    NOT NULL PRIMARY KEY,       -- the DOCKER_HOSTS name
  cursor_nano INTEGER NOT NULL,                   -- Engine timeNano of the last event stored
  updated_at  REAL    NOT NULL                    -- unix seconds, hookbot's clock
) WITHOUT ROWID;
