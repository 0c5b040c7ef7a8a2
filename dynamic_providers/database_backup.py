"""Old import path of the backup provider, for state written before the move (see __init__.py)."""
from database.backup_resource import DatabaseBackupProvider

__all__ = ["DatabaseBackupProvider"]
