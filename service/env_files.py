"""`.env` files: environment variables for config.yaml kept in a file, never over the real ones.

`main.py --env-file PATH` loads PATH (it must exist); otherwise a `.env` beside the config file
is loaded when there is one. A variable already set in the environment always wins, so a
container's or systemd unit's `Environment=` is never overridden by a file.
"""

from pathlib import Path

from service.cli_errors import CommandFailed


def load_env_files(env_file: Path | None, config: Path, environ: dict[str, str]) -> list[str]:
    """Set the variables of the env file that `environ` lacks; returns their names."""
    if env_file is not None:
        if not env_file.is_file():
            raise CommandFailed(f"--env-file {env_file}: no such file")
        path = env_file
    else:
        path = config.parent / ".env"
        if not path.is_file():
            return []
    from dotenv import dotenv_values  # here: most starts have no env file to read

    try:
        values = dotenv_values(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandFailed(f"{path}: cannot read the env file: {exc}") from None
    added = []
    for name, value in values.items():
        if value is not None and name not in environ:
            environ[name] = value
            added.append(name)
    return added
