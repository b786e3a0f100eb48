"""A public URL for the receiver through an ngrok tunnel (pyngrok), with NGROK_AUTHTOKEN.

At start-up, once the receiver listens, `Tunnel.start` opens an HTTP tunnel to it and
publishes the tunnel's URL (`on_url`): the app makes it the base of the webhook URLs it
shows, saves it in the store for `hookbot hook …`, and `/healthz` shows it. PUBLIC_URL,
when set, wins: no tunnel is opened.

pyngrok is blocking and keeps its state per agent executable (NGROK_PATH, pyngrok's
`ngrok_path`); every call runs in a daemon thread, so the event loop never waits on it
and a stuck agent cannot hold up the process's exit. Opening is bounded by a timeout of
our own: an agent that logs an error and keeps running holds pyngrok past its own start-up
timeout, so such an agent is killed and the opening tried again later.

A watcher checks every 2 s that the agent still runs, and reopens the tunnel with
backoff (1 s doubling to 30 s) when it died or could not be opened. An authentication
failure (a wrong NGROK_AUTHTOKEN) is not retried: it is one line in the log, and the
receiver keeps running on its local address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

OPEN_TIMEOUT_SECONDS = 20.0
INSTALL_TIMEOUT_SECONDS = 180.0
CHECK_EVERY_SECONDS = 2.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
AUTH_ERRORS = ("ERR_NGROK_105", "ERR_NGROK_106", "ERR_NGROK_107", "ERR_NGROK_4018")


class TunnelAuthError(Exception):
    """ngrok refused NGROK_AUTHTOKEN."""


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """Run blocking `work` in a daemon thread; a call that never returns cannot block exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def succeed(result: T) -> None:
        if not future.done():  # not cancelled by a timeout meanwhile
            future.set_result(result)

    def fail(error: BaseException) -> None:
        if not future.done():
            future.set_exception(error)

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting coroutine
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(fail, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(succeed, result)

    threading.Thread(target=run, name="hookbot-ngrok", daemon=True).start()
    return await future


def kill_children_running(executable: str) -> int:
    """SIGKILL this process's children running `executable`; returns how many.

    pyngrok offers no way to stop an agent it is still starting (it holds its lock while
    reading the agent's output), so a stuck agent is found in /proc (Linux; elsewhere
    nothing is done). An agent that is a script runs as `<interpreter> <executable> …`.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return 0
    killed = 0
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == me and executable in (os.fsdecode(arg) for arg in argv[:2]):
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed


def _upstream(host: str, port: int) -> str:
    """The address the agent forwards to: the receiver (not `localhost`, which may be ::1)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - listening everywhere: reach it locally
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Tunnel:
    """One ngrok tunnel to the receiver, kept open (see the module docstring)."""

    def __init__(
        self,
        authtoken: str,
        *,
        ngrok_path: str | None = None,
        on_url: Callable[[str | None], Awaitable[None]] | None = None,
        open_timeout: float = OPEN_TIMEOUT_SECONDS,
        check_every: float = CHECK_EVERY_SECONDS,
        backoff: tuple[float, float] = (BACKOFF_FIRST_SECONDS, BACKOFF_MAX_SECONDS),
    ) -> None:
        """`ngrok_path` is NGROK_PATH (None: pyngrok's own, downloaded when missing)."""
        self._authtoken = authtoken
        self._ngrok_path = ngrok_path
        self._on_url = on_url
        self._open_timeout = open_timeout
        self._check_every = check_every
        self._backoff = backoff
        self._config_dir: str | None = None
        self._pyngrok_config: Any = None
        self._upstream = ""
        self._task: asyncio.Task[None] | None = None
        self.public_url: str | None = None
        self.state = "off"  # opening | open | reopening | failed | off
        self.reopens = 0
        self.last_error: str | None = None

    def health(self) -> dict[str, Any]:
        """What /healthz shows of the tunnel."""
        return {
            "state": self.state,
            "url": self.public_url,
            "reopens": self.reopens,
            "error": self.last_error,
        }

    async def start(self, host: str, port: int) -> str | None:
        """Open the tunnel to host:port (bounded), then keep it open; returns its URL or None.

        Never raises: a failure is logged, and the watcher tries again unless ngrok
        refused the authtoken or the agent executable is missing.
        """
        self._upstream = _upstream(host, port)
        path = self._ngrok_path
        if path is not None and not await asyncio.to_thread(os.path.isfile, path):
            self._fail(
                f"NGROK_PATH={self._ngrok_path} does not exist; point it at the ngrok agent "
                "or unset it (pyngrok then downloads one)"
            )
            return None
        self._config_dir = tempfile.mkdtemp(prefix="hookbot-ngrok-")
        self.state = "opening"
        retry = await self._open()
        if retry:
            self._task = asyncio.create_task(self._watch(), name="tunnel")
        return self.public_url

    async def stop(self) -> None:
        """Stop watching, close the tunnel and the agent, and withdraw the URL."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pyngrok_config is not None:
            await self._kill()
        if self.public_url is not None:
            self.public_url = None
            await self._publish(None)
        self.state = "off"
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)

    def _fail(self, line: str) -> None:
        self.state = "failed"
        self.last_error = line
        log.error("tunnel: %s; webhook URLs use the local address", line)

    async def _open(self) -> bool:
        """Try to open the tunnel once; returns whether the watcher should go on."""
        try:
            url = await asyncio.wait_for(
                in_daemon_thread(self._connect), self._open_timeout + self._install_time()
            )
        except TimeoutError:
            self.last_error = f"the ngrok agent did not start within {self._open_timeout:g} s"
            log.warning("tunnel: %s; stopping it and trying again", self.last_error)
            self.state = "reopening"
            await self._kill(stuck=True)
            return True
        except TunnelAuthError as exc:
            self._fail(f"ngrok refused NGROK_AUTHTOKEN ({exc}); set a valid token or PUBLIC_URL")
            return False
        except Exception as exc:  # pyngrok, the agent's API, the download: retried later
            self.last_error = str(exc).splitlines()[0][:300] if str(exc) else repr(exc)
            log.warning("tunnel: could not open the ngrok tunnel: %s", self.last_error)
            self.state = "reopening"
            return True
        changed = url != self.public_url
        self.public_url, self.state, self.last_error = url, "open", None
        log.info("tunnel: %s → %s", url, self._upstream)
        if changed:
            await self._publish(url)
        return True

    def _install_time(self) -> float:
        """Extra time for pyngrok to download its own agent on the first start."""
        if self._ngrok_path is not None:
            return 0.0
        from pyngrok import conf

        return 0.0 if os.path.isfile(conf.DEFAULT_NGROK_PATH) else INSTALL_TIMEOUT_SECONDS

    def _connect(self) -> str:
        """Start the agent and open the tunnel (blocking; in a daemon thread)."""
        from pyngrok import conf, ngrok
        from pyngrok.exception import PyngrokNgrokError

        # Our lines say what happened; pyngrok's would repeat each agent log line.
        logging.getLogger("pyngrok").setLevel(logging.CRITICAL)
        if self._config_dir is None:
            raise RuntimeError("the tunnel was not started")
        options: dict[str, Any] = {
            "config_path": str(Path(self._config_dir) / "ngrok.yml"),
            "auth_token": self._authtoken,
            "startup_timeout": max(1, int(self._open_timeout)),
        }
        if self._ngrok_path is not None:
            options["ngrok_path"] = self._ngrok_path
        pyngrok_config = conf.PyngrokConfig(**options)
        self._pyngrok_config = pyngrok_config
        try:
            tunnel = ngrok.connect(self._upstream, "http", pyngrok_config=pyngrok_config)
        except PyngrokNgrokError as exc:
            text = f"{exc.ngrok_error or exc}"
            if exc.ngrok_error_code in AUTH_ERRORS or "authentication failed" in text.lower():
                raise TunnelAuthError(exc.ngrok_error_code or text[:200]) from exc
            raise
        if not tunnel.public_url:
            raise RuntimeError("the ngrok agent opened a tunnel without a public URL")
        return str(tunnel.public_url)

    async def _kill(self, *, stuck: bool = False) -> None:
        """Stop the agent through pyngrok; an agent pyngrok is stuck starting, by pid."""
        from pyngrok import ngrok

        config = self._pyngrok_config
        if config is None:
            return
        if stuck:
            await asyncio.to_thread(kill_children_running, config.ngrok_path)
        try:
            await asyncio.wait_for(in_daemon_thread(lambda: ngrok.kill(config)), 5.0)
        except TimeoutError:
            killed = await asyncio.to_thread(kill_children_running, config.ngrok_path)
            log.warning("tunnel: killed %d stuck ngrok agent(s)", killed)
        except Exception:
            log.warning("tunnel: could not stop the ngrok agent", exc_info=True)

    def _agent_running(self) -> bool:
        """Whether the agent still runs (a dictionary lookup and a poll: no thread needed)."""
        from pyngrok import process

        config = self._pyngrok_config
        return config is not None and process.is_process_running(config.ngrok_path)

    async def _watch(self) -> None:
        delay = self._backoff[0]
        while True:
            if self.state == "open":
                await asyncio.sleep(self._check_every)
                if self._agent_running():
                    continue
                self.state = "reopening"
                self.last_error = "the ngrok agent stopped"
                log.warning("tunnel: the ngrok agent stopped; reopening the tunnel")
                delay = self._backoff[0]
            await asyncio.sleep(delay)
            self.state = "reopening"
            if not await self._open():
                return
            if self.state == "open":
                self.reopens += 1
                delay = self._backoff[0]
            else:
                delay = min(delay * 2, self._backoff[1])

    async def _publish(self, url: str | None) -> None:
        if self._on_url is None:
            return
        try:
            await self._on_url(url)
        except Exception:  # the tunnel stays open even when the store cannot record it
            log.exception("tunnel: could not publish the URL %s", url)
