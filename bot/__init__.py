"""The runtime: settings, database, Telegram and terminal adapters, nudges, CLI."""
