"""Packaging: the Dockerfile, compose.yaml, the `hookbot` entry point and README's service notes.

The base image cannot be pulled on the machine these tests were written on (no route to
Docker Hub), so the image is not built here: the Dockerfile is read by a small parser of our
own and its instructions are checked one by one; its HEALTHCHECK command is run for real
against a local HTTP server. compose.yaml is read with PyYAML when it is installed, else by
a line-based structural check.
"""

from __future__ import annotations

import fnmatch
import http.server
import importlib
import importlib.metadata
import json
import re
import shlex
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword (upper case), its argument text, its line."""

    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """Return the JSON array of an exec-form argument, or None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list), f"line {self.line}: not a JSON array"
        assert all(isinstance(item, str) for item in value), f"line {self.line}: not strings"
        return value


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions: comments out, `\\` continuations joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment line inside a continued instruction is dropped
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1].strip() if continued else stripped)
        if continued:
            continue
        joined = " ".join(part for part in pending if part)
        pending = []
        keyword, _, args = joined.partition(" ")
        assert re.fullmatch(r"[A-Za-z]+", keyword), f"line {start}: no instruction: {joined!r}"
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, "the Dockerfile ends inside a `\\` continuation"
    return instructions


def command_words(instruction: Instruction) -> list[str]:
    """Return the command of a CMD/ENTRYPOINT (or HEALTHCHECK's after `CMD`) as words."""
    exec_form = instruction.exec_form()
    return exec_form if exec_form is not None else shlex.split(instruction.args)


def env_values(instructions: list[Instruction]) -> dict[str, str]:
    """Return what the ENV instructions set (`ENV A=1 B=2` form)."""
    values: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for word in shlex.split(instruction.args):
                name, sep, value = word.partition("=")
                assert sep, f"line {instruction.line}: use `ENV NAME=value`, not {word!r}"
                values[name] = value
    return values


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    """The project's Dockerfile, parsed."""
    assert DOCKERFILE.is_file(), "no Dockerfile at the repository root"
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def only(instructions: list[Instruction], keyword: str) -> list[Instruction]:
    """Return the instructions with this keyword, in order."""
    return [i for i in instructions if i.keyword == keyword]


def test_parser_reads_continuations_comments_and_forms() -> None:
    """The parser itself: joined lines, dropped comments, exec and shell forms told apart."""
    parsed = parse_dockerfile(
        "# a comment\nFROM base:1\nRUN a \\\n    # inside\n    && b\n\n"
        'CMD ["x", "y"]\nhealthcheck CMD z --flag\n'
    )
    assert [(i.keyword, i.args, i.line) for i in parsed] == [
        ("FROM", "base:1", 2),
        ("RUN", "a && b", 3),
        ("CMD", '["x", "y"]', 7),
        ("HEALTHCHECK", "CMD z --flag", 8),
    ]
    assert parsed[2].exec_form() == ["x", "y"]
    assert parsed[3].exec_form() is None
    with pytest.raises(AssertionError, match="continuation"):
        parse_dockerfile("RUN a \\\n")


def test_base_image_is_python_311_slim(dockerfile: list[Instruction]) -> None:
    """One stage, on python:3.11-slim (the project's Python)."""
    froms = only(dockerfile, "FROM")
    assert [f.args.split()[0] for f in froms] == ["python:3.11-slim"]
    assert dockerfile[0].keyword == "FROM", "FROM must be the first instruction"


def test_runs_as_a_non_root_user_created_in_the_image(dockerfile: list[Instruction]) -> None:
    """The last USER is neither root nor uid 0, and a RUN creates that user."""
    users = only(dockerfile, "USER")
    assert users, "no USER: the container would run as root"
    user, _, group = users[-1].args.partition(":")
    assert user not in {"root", "0"}, f"USER {users[-1].args} is root"
    assert group not in {"root", "0"}, f"USER {users[-1].args} has the root group"
    runs = " ".join(i.args for i in only(dockerfile, "RUN"))
    if not user.isdigit():
        assert re.search(rf"useradd\b[^&;]*\b{re.escape(user)}\b", runs), f"no useradd {user}"
    cmd = only(dockerfile, "CMD")[-1]
    assert users[-1].line < cmd.line, "USER must come before CMD"


def test_database_lives_on_the_data_volume(dockerfile: list[Instruction]) -> None:
    """VOLUME /data, HOOKBOT_DB inside it, and /data owned by the runtime user."""
    volumes: list[str] = []
    for instruction in only(dockerfile, "VOLUME"):
        form = instruction.exec_form()
        volumes.extend(form if form is not None else instruction.args.split())
    assert "/data" in volumes
    env = env_values(dockerfile)
    assert env.get("HOOKBOT_DB") == "/data/hookbot.db"
    user = only(dockerfile, "USER")[-1].args.partition(":")[0]
    runs = " ".join(i.args for i in only(dockerfile, "RUN"))
    assert re.search(rf"chown\s+{re.escape(user)}\S*\s+/data\b", runs), (
        f"/data is not chowned to {user}: SQLite could not write there"
    )


def test_receiver_listens_on_every_interface_on_the_exposed_port(
    dockerfile: list[Instruction],
) -> None:
    """HOOKBOT_HOST=0.0.0.0 (127.0.0.1 is unreachable from outside a container), EXPOSE its port."""
    env = env_values(dockerfile)
    assert env.get("HOOKBOT_HOST") == "0.0.0.0"  # noqa: S104 - the point inside a container
    port = env.get("HOOKBOT_PORT", "8080")
    exposed = [word.split("/")[0] for i in only(dockerfile, "EXPOSE") for word in i.args.split()]
    assert port in exposed
    assert "8080" in exposed


def test_installs_the_package_with_pip(dockerfile: list[Instruction]) -> None:
    """A RUN does `pip install <the copied project>`, and every file that needs is copied."""
    runs = " ".join(i.args for i in only(dockerfile, "RUN"))
    assert re.search(r"\bpip install\b", runs), "no pip install"
    copied = {
        Path(word).name
        for i in only(dockerfile, "COPY")
        for word in (i.exec_form() or i.args.split())[:-1]
        if not word.startswith("--")
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    needed = {"pyproject.toml", project["project"]["readme"], *packages}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"


def test_dockerignore_keeps_out_secrets_and_keeps_in_the_package() -> None:
    """.env and databases stay out of the build context; what pip needs stays in."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        return any(
            fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/"))
            for p in patterns
        )

    for path in (".env", ".git", ".venv", "hookbot.db", "hookbot.db-wal", "tests"):
        assert ignored(path), f".dockerignore lets {path} into the build context"
    for path in ("pyproject.toml", "README.md", "bot", "parsers", "formatters"):
        assert not ignored(path), f".dockerignore keeps {path} out, but pip install needs it"


def test_cmd_runs_hookbot_run(dockerfile: list[Instruction]) -> None:
    """The container's command is `hookbot run`, exec form (SIGTERM reaches hookbot)."""
    assert not only(dockerfile, "ENTRYPOINT"), "an ENTRYPOINT would wrap the CMD"
    cmd = only(dockerfile, "CMD")[-1]
    assert cmd.exec_form() == ["hookbot", "run"]


def healthcheck_command(dockerfile: list[Instruction]) -> list[str]:
    """Return the HEALTHCHECK's command (options before `CMD` dropped)."""
    checks = only(dockerfile, "HEALTHCHECK")
    assert len(checks) == 1, "exactly one HEALTHCHECK"
    options, sep, command = checks[0].args.partition("CMD ")
    assert sep, "HEALTHCHECK without CMD (or NONE)"
    assert all(o.startswith("--") for o in options.split()), f"bad options {options!r}"
    return command_words(Instruction("CMD", command, checks[0].line))


def test_healthcheck_asks_healthz_with_python(dockerfile: list[Instruction]) -> None:
    """The check calls /healthz with Python's urllib: slim has no curl or wget."""
    words = healthcheck_command(dockerfile)
    assert words[:2] == ["python", "-c"], words
    assert "/healthz" in words[2]
    assert "urllib" in words[2]
    assert not {"curl", "wget"} & set(words)


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200
    paths: list[str] = []  # noqa: RUF012 - shared on purpose: the test reads what was asked

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"db": "ok"}' if type(self).status == 200 else b'{"db": "error"}')

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def health_server() -> Iterator[tuple[type[_Health], int]]:
    """A local server standing in for /healthz; its status is set per test."""
    handler = type("Health", (_Health,), {"status": 200, "paths": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_command_passes_on_200_and_fails_on_503(
    dockerfile: list[Instruction],
    health_server: tuple[type[_Health], int],
    status: int,
    healthy: bool,
) -> None:
    """Run the HEALTHCHECK's own Python against a server on HOOKBOT_PORT: 200 ok, 503 unhealthy."""
    handler, port = health_server
    handler.status = status
    words = healthcheck_command(dockerfile)
    result = subprocess.run(
        [sys.executable, *words[1:]],
        env={"HOOKBOT_PORT": str(port), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert (result.returncode == 0) is healthy, result.stderr.decode(errors="replace")
    assert handler.paths == ["/healthz"]


def test_healthcheck_command_fails_when_nothing_listens(dockerfile: list[Instruction]) -> None:
    """A refused connection is unhealthy too."""
    words = healthcheck_command(dockerfile)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        result = subprocess.run(
            [sys.executable, *words[1:]],
            env={"HOOKBOT_PORT": str(port), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            timeout=20,
            check=False,
        )
    assert result.returncode != 0


def _compose_service_yaml() -> tuple[dict[str, Any], dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    services = document.get("services")
    assert isinstance(services, dict), services
    assert list(services) == ["hookbot"], services
    return document, services["hookbot"]


def test_compose_file_structure() -> None:
    """compose.yaml: build, env_file, the port, /data on a named volume, the socket read-only."""
    try:
        import yaml  # noqa: F401 - only asks whether PyYAML is there
    except ImportError:
        _check_compose_lines(COMPOSE.read_text(encoding="utf-8"))
        return
    document, service = _compose_service_yaml()
    assert service.get("build") in (".", {"context": "."}), service.get("build")
    assert service.get("env_file"), "no env_file"
    assert any(str(p).split(":")[-2:] == ["8080", "8080"] for p in service.get("ports", []))
    volumes = [str(v) for v in service.get("volumes", [])]
    data = [v for v in volumes if v.split(":")[1:2] == ["/data"]]
    assert data, f"nothing mounted on /data: {volumes}"
    declared = document.get("volumes") or {}
    assert data[0].split(":")[0] in declared, "the /data volume is not declared"
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in volumes
    assert service.get("group_add"), "the non-root user needs the socket's group (group_add)"
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    assert environment.get("HOOKBOT_DB") == "/data/hookbot.db"
    assert environment.get("HOOKBOT_HOST") == "0.0.0.0"  # noqa: S104 - inside the container


def _check_compose_lines(text: str) -> None:
    """Without PyYAML: the keys and values the YAML check asks for, by lines."""
    lines = [line.split("#", 1)[0].rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip()]
    assert "services:" in lines
    assert "volumes:" in lines, "no top-level volumes:"
    for key in ("build:", "env_file:", "ports:", "volumes:", "group_add:", "environment:"):
        assert any(line.strip().startswith(key) for line in lines if line.startswith(" ")), key
    body = "\n".join(lines)
    assert re.search(r'-\s*"?8080:8080"?\s*$', body, re.MULTILINE)
    assert re.search(r"-\s*(\S+):/data\s*$", body, re.MULTILINE)
    assert re.search(r"-\s*/var/run/docker\.sock:/var/run/docker\.sock:ro\s*$", body, re.M)
    assert re.search(r"HOOKBOT_DB:\s*/data/hookbot\.db\s*$", body, re.MULTILINE)


def test_compose_line_check_catches_a_writable_socket() -> None:
    """The fallback check fails on a compose file whose socket mount is writable."""
    good = COMPOSE.read_text(encoding="utf-8")
    _check_compose_lines(good)
    bad = good.replace("docker.sock:ro", "docker.sock")
    with pytest.raises(AssertionError):
        _check_compose_lines(bad)


def test_pyproject_declares_the_hookbot_script() -> None:
    """[project.scripts] hookbot = bot.cli:main, and that callable imports."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    target = project["project"]["scripts"]["hookbot"]
    assert target == "bot.cli:main"
    module, _, name = target.partition(":")
    assert callable(getattr(importlib.import_module(module), name))


def test_installed_metadata_exposes_the_entry_point() -> None:
    """The installed distribution (pip install .) has console_scripts hookbot = bot.cli:main."""
    try:
        distribution = importlib.metadata.distribution("hookbot")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("hookbot is not installed in this environment (pip install .)")
    scripts = {e.name: e.value for e in distribution.entry_points if e.group == "console_scripts"}
    assert scripts.get("hookbot") == "bot.cli:main"
    (entry_point,) = tuple(distribution.entry_points.select(name="hookbot"))
    assert callable(entry_point.load())


def test_readme_says_how_to_run_it_as_a_service() -> None:
    """README "Run as a service", before "Layout": compose, and a systemd unit running hookbot."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Run as a service\n(.*?)^## (\S+)", text, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no `## Run as a service` section"
    section, following = match.groups()
    assert following == "Layout"
    assert "docker compose up" in section
    assert re.search(r"^ExecStart=\S+/hookbot run$", section, re.MULTILINE)
    assert "[Install]" in section
