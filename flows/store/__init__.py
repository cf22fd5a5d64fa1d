"""The storage model: SQLAlchemy tables, with the encrypted columns. Migrations are in migrations/."""
