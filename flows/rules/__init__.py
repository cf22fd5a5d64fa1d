"""The coaching rules as pure functions: no database, no Telegram, no engine (local-time schedules and
quiet hours, GMTS statuses and shares)."""
