"""Sinks: the timeline in PostgreSQL (migrations, batched idempotent writer, queries) and the topic publisher."""
