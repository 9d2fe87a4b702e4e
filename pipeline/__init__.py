"""Stream processors: pure batch stages (dedupe, identity, timeline) wired to Kafka batch consumers."""
