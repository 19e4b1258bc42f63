"""The deployment files users expect, linted: what they promise holds against the code."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dotenv import dotenv_values
from ruamel.yaml import YAML

from core import yaml_cache
from tests.conftest import REPO, SHIPPED_CONFIG

DOCKERFILE = REPO / "Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: comment lines dropped first (Docker drops them
    inside continued instructions too), then continuation lines joined."""
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = "\n".join(line for line in lines if not line.strip().startswith("#"))
    out = []
    for line in re.sub(r"\\\n", " ", kept).splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_the_image_runs_as_an_unprivileged_user_with_its_database_on_a_volume() -> None:
    steps = instructions(DOCKERFILE)
    words = [word for word, _ in steps]
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    # Everything after the last USER runs unprivileged, the service included.
    assert words.index("USER") > max(i for i, word in enumerate(words) if word == "RUN")
    assert words.index("USER") < words.index("ENTRYPOINT")
    volumes = [rest for word, rest in steps if word == "VOLUME"]
    assert volumes == ['["/data"]']
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "BRANDPULSE_DATABASE_URL=sqlite:////data/brandpulse.db" in env
    assert "BRANDPULSE_WEB_LISTEN=0.0.0.0:8080" in env
    assert dict(steps)["ENTRYPOINT"] == '["python", "main.py"]'
    assert dict(steps)["CMD"] == '["run"]'


def test_the_healthcheck_asks_livez_on_the_web_port() -> None:
    [check] = [rest for word, rest in instructions(DOCKERFILE) if word == "HEALTHCHECK"]
    assert "http://127.0.0.1:8080/livez" in check
    assert re.search(r"--interval=\d+s", check) and re.search(r"--timeout=\d+s", check)
    assert "CMD" in check
    assert "EXPOSE 8080" in DOCKERFILE.read_text()


def test_every_copied_path_exists_and_no_secret_is_copied() -> None:
    for word, rest in instructions(DOCKERFILE):
        if word == "COPY":
            *sources, _target = rest.split()
            for source in sources:
                assert (REPO / source).exists(), source
                assert not source.startswith(".env"), source
    ignored = (REPO / ".dockerignore").read_text().split()
    for secret_or_state in (".env", ".env.*", "*.db", ".git", ".venv"):
        assert secret_or_state in ignored


def image_tree(into: Path) -> Path:
    """The files the Dockerfile's COPY lines put into /app, .dockerignore applied."""
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    skip = shutil.ignore_patterns(*ignored)
    app = into / "app"
    app.mkdir()
    for word, rest in instructions(DOCKERFILE):
        if word != "COPY":
            continue
        *sources, target = rest.split()
        for source in sources:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(path, app / target, ignore=skip)
            else:
                shutil.copy2(path, app / Path(source).name)
    return app


def test_the_image_holds_every_package_the_project_installs(tmp_path: Path) -> None:
    """Without Docker here, the image's own tree is rebuilt from its COPY lines: it must hold
    every file of every package pyproject.toml installs, and those packages must import from it
    (a package the image forgot, as it once forgot the web console, fails here)."""
    app = image_tree(tmp_path)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = [
        name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    for package in packages:
        shipped = {
            path.relative_to(REPO)
            for path in (REPO / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        missing = sorted(str(path) for path in shipped if not (app / path).is_file())
        assert not missing, f"the image lacks {missing[:5]}"
    probe = (
        "import importlib, os, sys\n"
        "for name in sys.argv[1:]:\n"
        "    assert importlib.import_module(name).__file__.startswith(os.getcwd()), name\n"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe, *packages, "web.server", "service.app"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    version = subprocess.run(
        [sys.executable, "main.py", "--version"], cwd=app, capture_output=True, text=True
    )
    assert version.stdout.startswith("main.py "), version.stderr


def test_the_image_compiles_the_bytecode_of_every_package_it_copies() -> None:
    """At run time the image writes no bytecode (PYTHONDONTWRITEBYTECODE, a read-only /app):
    a package left out of the build's compileall is compiled from source at every start."""
    steps = instructions(DOCKERFILE)
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # else Python would write it at the first start
    compiled: set[str] = set()
    for word, rest in steps:
        for command in rest.split("&&") if word == "RUN" else []:
            if command.split()[:3] == ["python", "-m", "compileall"]:
                compiled |= {arg for arg in command.split()[3:] if not arg.startswith("-")}
    packages = {
        source
        for word, rest in steps
        if word == "COPY"
        for source in rest.split()[:-1]
        if (REPO / source / "__init__.py").is_file()
    }
    assert packages, "no package copied?"
    assert packages <= compiled, f"not compiled at build: {sorted(packages - compiled)}"


def test_compose_runs_brandpulse_on_postgresql_once_it_is_ready() -> None:
    compose = YAML(typ="safe").load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    postgres, node = services["postgres"], services["brandpulse"]
    assert postgres["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert node["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = node["environment"]["BRANDPULSE_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://brandpulse:${POSTGRES_PASSWORD}@postgres:5432/")
    assert {"path": ".env", "required": False} in node["env_file"]
    assert node["ports"] == ["127.0.0.1:8080:8080"]
    assert set(compose["volumes"]) == {"postgres-data", "brandpulse-data"}
    assert "brandpulse-data:/data" in node["volumes"]


def unit_sections(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values]}} (keys may repeat; `\\` continues a line)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in re.sub(r"\\\n\s*", " ", path.read_text()).splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def test_the_systemd_unit_runs_the_node_unprivileged_and_stops_it_gracefully() -> None:
    unit = unit_sections(REPO / "docs" / "brandpulse.service")
    service = unit["Service"]
    assert service["User"] == ["brandpulse"]
    start = " ".join(service["ExecStart"][0].split())
    assert re.fullmatch(r"/\S+/python /\S+/main\.py --env-file /\S+ run --config /\S+", start)
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["RestartPreventExitStatus"] == ["2"]  # a set-up error: restarting won't help
    assert service["WorkingDirectory"] == ["/var/lib/brandpulse"]
    assert service["StateDirectory"] == ["brandpulse"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_yaml_cache_lands_where_the_service_may_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """ProtectSystem=strict and the image's read-only /app leave only the state, cache and data
    directories writable: the parsed-YAML cache must be inside one, or every start parses again."""
    service = unit_sections(REPO / "docs" / "brandpulse.service")["Service"]
    [cache_home] = [
        line.partition("=")[2]
        for line in service.get("Environment", [])
        if line.startswith("XDG_CACHE_HOME=")
    ]
    monkeypatch.setenv("XDG_CACHE_HOME", cache_home)
    writable = [Path("/var/cache") / name for name in service["CacheDirectory"]]
    assert any(yaml_cache.cache_dir().is_relative_to(path) for path in writable)  # type: ignore[union-attr]
    env = " ".join(rest for word, rest in instructions(DOCKERFILE) if word == "ENV")
    [image_cache_home] = re.findall(r"XDG_CACHE_HOME=(\S+)", env)
    monkeypatch.setenv("XDG_CACHE_HOME", image_cache_home)
    assert yaml_cache.cache_dir().is_relative_to("/data")  # type: ignore[union-attr]  # the VOLUME


def test_the_env_example_lists_every_variable_the_shipped_config_reads() -> None:
    example = dotenv_values(REPO / ".env.example")
    read = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", SHIPPED_CONFIG.read_text()))
    read.discard("NAME")  # the comment explaining ${NAME}
    assert read - set(example) == set()
    # … and nothing else, bar the variable of compose.yaml.
    assert set(example) - read == {"POSTGRES_PASSWORD"}


def docker_unavailable() -> str:
    """Why the image cannot be built here, or "" when it can."""
    if shutil.which("docker") is None:
        return "docker is not on PATH"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    return "" if probe.returncode == 0 else "docker is on PATH but no Docker daemon answers"


def test_the_image_builds() -> None:
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    built = subprocess.run(
        ["docker", "build", "-q", "-t", "brandpulse-test", str(REPO)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr
    version = subprocess.run(
        ["docker", "run", "--rm", "brandpulse-test", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert version.stdout.startswith("main.py "), version.stderr
