"""Data access: the ``Database`` port and its adapters (asyncpg, supabase-py, embedded)."""

from app.db.port import Database

__all__ = ["Database"]
