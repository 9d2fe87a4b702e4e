from __future__ import annotations

from sinks import migrate


def test_every_migration_has_its_own_number() -> None:
    """Branches landing in parallel pick the next free number; a shared one would silently never run."""
    versions = [m.version for m in migrate.available()]
    assert len(versions) == len(set(versions))
