"""Signed outgoing webhooks: timeline events delivered to downstream systems that do not speak Kafka."""
