"""Configuration from the environment (prefix ``LEADCOACH_``) or a ``.env`` file."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

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
    webhook_listen: str = Field(default="0.0.0.0", description="an IP address of this machine (or localhost)")
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    health_port: int = Field(
        default=0, ge=0, le=65535, description="polling mode: serve /healthz, /readyz, /metrics here (0: off)"
    )
    health_listen: str = Field(default="127.0.0.1", description="the health server's IP address")
    webhook_max_connections: int = Field(
        default=8, ge=1, le=100, description="deliveries Telegram may make at once (setWebhook max_connections)"
    )
    session_ttl_days: int = Field(default=14, ge=1, description="an unfinished conversation expires after this")
    appraisal_round: str | None = Field(
        default=None, description="default appraisal round MM-DD..MM-DD (e.g. 04-01..06-30) for users who set no date"
    )
    telegram_rate: float = Field(
        default=30.0, gt=0, description="messages a second for the bot, all instances together (Telegram: ~30)"
    )
    telegram_chat_rate: float = Field(
        default=1.0, gt=0, description="messages a second to one chat after a burst of 3 (Telegram: about 1)"
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

    @field_validator("telegram_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", value.get_secret_value().strip()):
            raise ValueError("not a bot token (digits, a colon, then letters: as @BotFather gives it)")
        return value

    @field_validator("telegram_api_url", "telegram_file_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @field_validator("webhook_listen", "health_listen")
    @classmethod
    def _address(cls, value: str) -> str:
        if value != "localhost":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(
                    f"not an IP address of this machine: {value!r} (e.g. 0.0.0.0, 127.0.0.1 or ::)"
                ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value and not re.match(r"(sqlite(\+aiosqlite)?|postgres(ql)?(\+asyncpg)?)://", value):
            raise ValueError(
                "not a database URL LeadCoach can use: PostgreSQL (postgresql://...) or SQLite (sqlite+aiosqlite:///path)"
            )
        return value or None

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
    def token(self) -> str:
        return self.telegram_token.get_secret_value() if self.telegram_token else ""

    @property
    def bot_url(self) -> str:
        """The Bot API's address for this bot's methods (``<bot_url>/<method>``)."""
        return f"{self.telegram_api_url}{self.token}"

    @property
    def budget(self) -> tuple[float, float]:
        """The rate budget's arguments: messages a second for the bot, and to one chat."""
        return self.telegram_rate, self.telegram_chat_rate

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            for plain in ("postgresql://", "postgres://", "postgres+asyncpg://"):
                if url.startswith(plain):
                    return "postgresql+asyncpg://" + url[len(plain) :]
            return url.replace("sqlite://", "sqlite+aiosqlite://", 1) if url.startswith("sqlite://") else url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'leadcoach.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")
