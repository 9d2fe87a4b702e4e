"""Consumer lag per partition as a Prometheus gauge, for every consumer group we run.

Lag is the high watermark (the offset the next produced record will get) minus the next
offset this consumer will process: records waiting on the partition. Both the pipeline
worker and the webhook sink report through :class:`LagGauge`, so one alert rule covers all.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Gauge

CONSUMER_LAG = Gauge(
    "omnitrail_consumer_lag",
    "Records on the partition not yet processed by this consumer group (high watermark minus position)",
    ["group", "topic", "partition"],
)

TopicPartitionKey = tuple[str, int]


class LagGauge:
    """The lag series of one consumer group in this process; forgets partitions it lost."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._shown: set[TopicPartitionKey] = set()

    def report(self, highwaters: Mapping[TopicPartitionKey, int], positions: Mapping[TopicPartitionKey, int]) -> None:
        """Set the lag of every partition in ``highwaters``; a partition without a position lags fully."""
        for (topic, partition), end in highwaters.items():
            lag = max(0, end - positions.get((topic, partition), 0))
            CONSUMER_LAG.labels(self.group, topic, str(partition)).set(lag)
        # After a rebalance another member reports those partitions: drop ours, or they would freeze.
        for topic, partition in self._shown - set(highwaters):
            CONSUMER_LAG.remove(self.group, topic, str(partition))
        self._shown = set(highwaters)

    def clear(self) -> None:
        self.report({}, {})
