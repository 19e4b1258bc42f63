"""`.env` files: loaded beside the config or from --env-file, never over the real environment."""

from pathlib import Path

import pytest

from main import main
from service.cli_errors import CommandFailed
from service.env_files import load_env_files
from tests.conftest import SHIPPED_CONFIG


def test_an_env_file_fills_in_what_the_environment_lacks_and_never_overrides(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("BRAND_NAME='Acme Ltd'\nX_ACCOUNT=FromTheFile\n# a comment\nEMPTY=\n")
    environ = {"X_ACCOUNT": "FromTheEnvironment"}
    added = load_env_files(env_file, tmp_path / "config.yaml", environ)
    assert environ == {"X_ACCOUNT": "FromTheEnvironment", "BRAND_NAME": "Acme Ltd", "EMPTY": ""}
    assert sorted(added) == ["BRAND_NAME", "EMPTY"]


def test_a_dot_env_beside_the_config_is_loaded_when_present(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    environ: dict[str, str] = {}
    assert load_env_files(None, config, environ) == []
    (tmp_path / ".env").write_text("BRAND_NAME=Beside\n")
    assert load_env_files(None, config, environ) == ["BRAND_NAME"]
    assert environ == {"BRAND_NAME": "Beside"}


def test_a_missing_env_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match=r"--env-file .*nope\.env: no such file"):
        load_env_files(tmp_path / "nope.env", tmp_path / "config.yaml", {})


def test_main_reads_the_env_file_and_its_values_are_blamed_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Unset now, and unset again afterwards (main() sets it from the file).
    monkeypatch.setenv("SLA_FIRST_RESPONSE", "")
    monkeypatch.delenv("SLA_FIRST_RESPONSE")
    env_file = tmp_path / "brandpulse.env"
    env_file.write_text("SLA_FIRST_RESPONSE=45\n")
    argv = ["--env-file", str(env_file), "rules", "check", "--config", str(SHIPPED_CONFIG)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "sla.first_response: '45' has no unit" in out
    assert "environment variable SLA_FIRST_RESPONSE" in out


def test_main_with_a_missing_env_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--env-file", str(tmp_path / "none.env"), "health"]) == 2
    assert "error: --env-file" in capsys.readouterr().err
