"""Old import path of the migrations provider, for state written before the move (see __init__.py)."""
from database.migrations_resource import SqlMigrationsProvider

__all__ = ["SqlMigrationsProvider"]
