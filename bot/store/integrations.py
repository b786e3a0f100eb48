"""What the GitHub API and the tunnel leave in the store (bot/integrations).

Tables: github_hooks (a hook's repository webhook on GitHub), github_commit_files
(the "Files:" line of push messages, cached by SHA) and runtime_values (the tunnel's
public URL, so that `hookbot hook …` shows the URL the running process uses).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from bot.store.base import Repository, transaction

TUNNEL_URL = "tunnel_url"
# Cached commit files are kept this long; a SHA's files never change, this only bounds size.
COMMIT_FILES_KEEP_SECONDS = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class GitHubLink:
    """A hook's webhook on GitHub: where it is and what GitHub was last told."""

    hook_id: str
    repo: str
    github_id: int
    url: str
    events: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """One file of a commit, with its added and deleted line counts."""

    path: str
    additions: int
    deletions: int


@dataclass(frozen=True, slots=True)
class CommitFiles:
    """The first files a commit changed, and how many more it changed."""

    files: tuple[ChangedFile, ...]
    more: int = 0


def _link(row: sqlite3.Row) -> GitHubLink:
    return GitHubLink(
        hook_id=row["hook_id"],
        repo=row["repo"],
        github_id=int(row["github_id"]),
        url=row["url"],
        events=tuple(json.loads(row["events"])),
    )


class IntegrationRepo(Repository):
    """GitHub webhook links, the commit files cache and the published tunnel URL."""

    async def link(self, hook_id: str) -> GitHubLink | None:
        """Return the GitHub webhook hookbot set up for a hook, if any."""

        def select(conn: sqlite3.Connection) -> GitHubLink | None:
            row = conn.execute(
                "SELECT * FROM github_hooks WHERE hook_id = ?", (hook_id,)
            ).fetchone()
            return None if row is None else _link(row)

        return await self._store.run(select)

    async def links(self) -> list[GitHubLink]:
        """Return every GitHub webhook link, in hook order."""

        def select(conn: sqlite3.Connection) -> list[GitHubLink]:
            rows = conn.execute("SELECT * FROM github_hooks ORDER BY hook_id").fetchall()
            return [_link(row) for row in rows]

        return await self._store.run(select)

    async def save_link(self, link: GitHubLink, now: float) -> None:
        """Record (or replace) a hook's GitHub webhook; nothing when the hook is gone."""

        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO github_hooks (hook_id, repo, github_id, url, events, updated_at)"
                    " SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hooks WHERE id = ?)"
                    " ON CONFLICT (hook_id) DO UPDATE SET repo = excluded.repo,"
                    " github_id = excluded.github_id, url = excluded.url,"
                    " events = excluded.events, updated_at = excluded.updated_at",
                    (
                        link.hook_id,
                        link.repo,
                        link.github_id,
                        link.url,
                        json.dumps(list(link.events)),
                        now,
                        link.hook_id,
                    ),
                )

        await self._store.run(write)

    async def forget_link(self, hook_id: str) -> None:
        """Forget a hook's GitHub webhook (it was removed, or is gone on GitHub)."""

        def delete(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute("DELETE FROM github_hooks WHERE hook_id = ?", (hook_id,))

        await self._store.run(delete)

    async def commit_files(self, repo: str, sha: str) -> CommitFiles | None:
        """Return a commit's cached files, if fetched before."""

        def select(conn: sqlite3.Connection) -> CommitFiles | None:
            row = conn.execute(
                "SELECT files, more FROM github_commit_files WHERE repo = ? AND sha = ?",
                (repo, sha),
            ).fetchone()
            if row is None:
                return None
            files = tuple(ChangedFile(**item) for item in json.loads(row["files"]))
            return CommitFiles(files, int(row["more"]))

        return await self._store.run(select)

    async def save_commit_files(self, repo: str, sha: str, files: CommitFiles, now: float) -> None:
        """Cache a commit's files, dropping entries older than a month.

        Not durable (no fsync): a lost entry is fetched again.
        """
        items = [
            {"path": f.path, "additions": f.additions, "deletions": f.deletions}
            for f in files.files
        ]

        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn, durable=False):
                conn.execute(
                    "INSERT OR REPLACE INTO github_commit_files"
                    " (repo, sha, files, more, fetched_at) VALUES (?, ?, ?, ?, ?)",
                    (repo, sha, json.dumps(items), files.more, now),
                )
                conn.execute(
                    "DELETE FROM github_commit_files WHERE fetched_at < ?",
                    (now - COMMIT_FILES_KEEP_SECONDS,),
                )

        await self._store.run(write)

    async def tunnel_url(self) -> str | None:
        """Return the public URL the running process's tunnel published, if any."""

        def select(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT value FROM runtime_values WHERE name = ?", (TUNNEL_URL,)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._store.run(select)

    async def set_tunnel_url(self, url: str | None, now: float) -> None:
        """Publish the tunnel's public URL (None: no tunnel is open)."""

        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                if url is None:
                    conn.execute("DELETE FROM runtime_values WHERE name = ?", (TUNNEL_URL,))
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO runtime_values (name, value, updated_at)"
                        " VALUES (?, ?, ?)",
                        (TUNNEL_URL, url, now),
                    )

        await self._store.run(write)


def commit_files_of(items: Sequence[tuple[str, int, int]], keep: int) -> CommitFiles:
    """Keep the first `keep` of (path, additions, deletions) and count the rest."""
    files = tuple(ChangedFile(path, adds, dels) for path, adds, dels in items[:keep])
    return CommitFiles(files, max(0, len(items) - keep))
