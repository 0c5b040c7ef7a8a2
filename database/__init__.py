"""Tonsurance database operations: versioned migrations, verified backups and restore.

The logic lives here as plain functions over a DSN; the Pulumi dynamic providers in
dynamic_providers/ and the operator CLI (`python -m database.restore`) are thin layers over it.
"""
