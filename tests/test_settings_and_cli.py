"""Settings from the environment, and the `multibot` command's start-up as a new user meets it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.config import Settings, SettingsError, load_settings
from tests.netguard.sitecustomize import child_pythonpath

ROOT = Path(__file__).resolve().parent.parent
CLEAN_ENV = {
    k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "ENCRYPTION_"))
}


def test_defaults_are_sqlite_and_paper(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "ENCRYPTION_KEY", "EXCHANGE_API_URL", "PRICE_FEED"):
        monkeypatch.delenv(key, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///multibot.db"
    assert settings.price_feed == "replay" and settings.exchange_api_url is None
    assert settings.telegram_bot_token is None


def test_env_example_lists_every_setting() -> None:
    listed = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert listed == {name.upper() for name in Settings.model_fields}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"ENCRYPTION_KEY": "not-a-key"}, "ENCRYPTION_KEY"),
        ({"TELEGRAM_BOT_TOKEN": "nocolon"}, "TELEGRAM_BOT_TOKEN"),
        ({"MAX_BOTS_PER_USER": "lots"}, "MAX_BOTS_PER_USER"),
        ({"PRICE_FEED": "yolo"}, "PRICE_FEED"),
        ({"EXCHANGE_API_URL": "ftp://bitget"}, "EXCHANGE_API_URL"),
        ({"ALLOWED_TELEGRAM_IDS": "12,abc"}, "ALLOWED_TELEGRAM_IDS"),
    ],
)
def test_malformed_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert named in str(err.value) and "\n" not in str(err.value)


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEY", key)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:SECRETTOKEN")
    settings = load_settings()
    assert "SECRETTOKEN" not in repr(settings) and key not in repr(settings) and key not in str(settings)


def test_allowlist_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_TELEGRAM_IDS", "12, 34;56")
    assert load_settings().allowed_telegram_ids == [12, 34, 56]


def test_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    settings = Settings(encryption_key_file=tmp_path / "k")
    first = settings.fernet_key()
    assert settings.fernet_key() == first
    assert oct((tmp_path / "k").stat().st_mode & 0o777) == "0o600"


def _multibot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**CLEAN_ENV, "PYTHONPATH": child_pythonpath(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_setting_stops_startup_with_one_line(tmp_path: Path) -> None:
    result = _multibot("run", cwd=tmp_path, DATABASE_URL="oracle://nope")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "DATABASE_URL" in result.stderr


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    result = _multibot("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "multibot.db").exists()
    assert _multibot("migrate", cwd=tmp_path).returncode == 0  # idempotent
