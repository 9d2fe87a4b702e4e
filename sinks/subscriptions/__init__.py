"""Subscriptions: timeline events POSTed, signed, to downstream systems that do not speak Kafka.

The outgoing side. Providers calling us (Twilio, Meta...) are webhooks, in ``connectors/``; an
event a subscriber did not take after every attempt is *undelivered* (:mod:`.undelivered`, a
PostgreSQL table), not a dead letter (the ``omnitrail.deadletter.v1`` topic of what we refused).
The operator names stayed: ``omnitrail sink webhooks|deadletters|redeliver``, ``OMNITRAIL_WEBHOOKS_*``,
the ``omnitrail_webhook_sink_*`` metrics and the ``webhook_deadletters`` table.
"""
