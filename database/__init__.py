"""Tonsurance database operations: versioned migrations, verified backups and restore.

The logic lives here as plain functions over a DSN; the Pulumi dynamic resources beside it
(migrations_resource.py, backup_resource.py) and the operator CLI (`python -m database.restore`) are thin
layers over it.
"""
