-- 0010_github_hooks: what hookbot set up through the GitHub API and the tunnel (issue 18).

-- A hook's repository webhook on GitHub, when hookbot created it (or reused one with the
-- same URL). `url` and `events` are what GitHub was last told, so an edit is sent only
-- when they change (a new tunnel URL, `events`, `alert-if`).
CREATE TABLE github_hooks (
  hook_id    TEXT    NOT NULL PRIMARY KEY REFERENCES hooks (id) ON DELETE CASCADE,
  repo       TEXT    NOT NULL,                   -- owner/repo
  github_id  INTEGER NOT NULL,                   -- GitHub's id of the repository webhook
  url        TEXT    NOT NULL,                   -- the payload URL GitHub posts to
  events     TEXT    NOT NULL DEFAULT '[]',      -- GitHub event names, JSON
  updated_at REAL    NOT NULL
) WITHOUT ROWID;

-- The files a commit changed (push messages' "Files:" line), fetched once per SHA.
CREATE TABLE github_commit_files (
  repo       TEXT    NOT NULL,
  sha        TEXT    NOT NULL,
  files      TEXT    NOT NULL,                   -- JSON [{"path", "additions", "deletions"}]
  more       INTEGER NOT NULL DEFAULT 0,         -- files changed beyond those kept
  fetched_at REAL    NOT NULL,
  PRIMARY KEY (repo, sha)
) WITHOUT ROWID;
CREATE INDEX github_commit_files_at ON github_commit_files (fetched_at);

-- Values the running process publishes for the CLI: the tunnel's public URL.
CREATE TABLE runtime_values (
  name       TEXT    NOT NULL PRIMARY KEY,
  value      TEXT    NOT NULL,
  updated_at REAL    NOT NULL
) WITHOUT ROWID;
