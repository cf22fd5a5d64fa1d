"""Configuration from the environment (prefix ``LEADCOACH_``) or a ``.env`` file."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.rules.schedule import Round, parse_round


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADCOACH_", env_file=".env", extra="ignore")

    telegram_token: SecretStr | None = Field(default=None, description="Bot token from @BotFather")
    telegram_api_url: str = Field(default="https://api.telegram.org/bot", description="Bot API base URL")
    telegram_file_url: str = Field(default="https://api.telegram.org/file/bot", description="Bot API file URL")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    data_dir: Path = Field(default=Path("data"), description="where the embedded database and key live")
    encryption_key: SecretStr | None = Field(default=None, description="Fernet key for free text at rest")
    default_timezone: str = Field(default="Europe/London")
    log_level: str = Field(default="INFO")
    webhook_url: str | None = Field(default=None, description="public HTTPS URL; set it to use a webhook")
    webhook_secret: SecretStr | None = Field(default=None, description="X-Telegram-Bot-Api-Secret-Token")
    webhook_listen: str = Field(default="0.0.0.0")
    webhook_port: int = Field(default=8443)
    session_ttl_days: int = Field(default=14, ge=1, description="an unfinished conversation expires after this")
    appraisal_round: str | None = Field(
        default=None, description="default appraisal round MM-DD..MM-DD (e.g. 04-01..06-30) for users who set no date"
    )
    nudge_rate: float = Field(
        default=20.0, gt=0, le=30, description="nudges a second, all instances together (Telegram allows ~30 in all)"
    )
    feedback_min_raters: int = Field(
        default=3, ge=3, description="360° feedback: answers needed before any result is shown (never below 3)"
    )
    nudge_interval: int = Field(
        default=30, ge=0, description="seconds between dispatch passes in `leadcoach run`; 0: only `nudges send-due`"
    )

    @field_validator("appraisal_round")
    @classmethod
    def _round(cls, value: str | None) -> str | None:
        parse_round(value)
        return value or None

    @property
    def round(self) -> Round | None:
        return parse_round(self.appraisal_round)

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> Settings:
        if self.webhook_url:
            secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
            if len(secret) < 32 or not re.fullmatch(r"[A-Za-z0-9_-]+", secret):
                raise ValueError(
                    "webhook mode needs LEADCOACH_WEBHOOK_SECRET: at least 32 characters of A-Z, a-z, 0-9, _ and -"
                )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            for plain in ("postgresql://", "postgres://"):
                if url.startswith(plain):
                    return "postgresql+asyncpg://" + url[len(plain) :]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'leadcoach.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")
