"""Revision files, one per schema change; Alembic loads them by path (see core/migrations)."""
