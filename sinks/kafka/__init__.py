"""Kafka plumbing: how every process of ours puts records on the broker and takes them off.

================  ===========================================================================
``settings``      ``OMNITRAIL_KAFKA_*``: brokers, security, group timeouts, partitions
``clients``       client options and producers built from those settings; topic creation
``partitioner``   which partition a keyed record goes to (Kafka's murmur2, faster)
``publisher``     many records at once, acknowledged; the record headers every producer sets
``consumer``      one consumer-group member handing whole batches to a handler, committing after it
``lag``           consumer lag per partition as one Prometheus gauge for every group
``reader``        reading a whole topic once, for operator commands
``backoff``       the capped, jittered exponential delay of every loop that sits out a fault
================  ===========================================================================

Why here, under ``sinks``: connectors produce, the pipeline consumes and publishes, the webhook
sink consumes, the shell creates topics, so all of them need this, and the top-level packages
are fixed. ``schemas`` is importable by all but holds the contract only (models, topic names,
errors), not clients. ``omnitrail`` wires everything and nothing may import it. ``pipeline``
and ``connectors`` each sit beside the other and must not import each other. ``sinks`` is the
lowest layer above the contract (it imports ``schemas`` and nothing else of ours), and a topic
is where records are written, the sinks' job. So this subpackage imports only ``schemas`` and
third-party libraries, and it is the one part of ``sinks`` connectors may import: connectors
get the Kafka plumbing without the database sinks (``tests/unit/test_layers.py`` holds both
rules). The backoff lives here too because every loop that uses it waits for the broker (or
the database behind the same batch) and this is the one package all of those loops may import.
"""
