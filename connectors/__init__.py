"""Channel connectors: turn each channel's native payload into the v1 interaction and produce it.

What every connector shares lives once here: the emitter (broker ack before success),
the dead-letter path, the signed-webhook request handling and the connector base class.
"""
