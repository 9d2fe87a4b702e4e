"""Where this process finds Kafka and PostgreSQL: settings first, else the running embedded stack."""

from __future__ import annotations

from dataclasses import dataclass

from omnitrail.local_stack import read_state
from omnitrail.settings import AppSettings
from schemas.errors import FatalError
from sinks.kafka.settings import KafkaSettings


@dataclass(frozen=True)
class Addresses:
    kafka_bootstrap: str
    database_url: str
    #: The embedded broker refuses idempotent producers; settings say what real Kafka gets.
    idempotence: bool


def resolve(app_settings: AppSettings, kafka: KafkaSettings) -> Addresses:
    bootstrap = kafka.bootstrap
    database = app_settings.database_url.get_secret_value() if app_settings.database_url else None
    idempotence = kafka.idempotence
    if bootstrap is None or database is None:
        state = read_state(app_settings.data_dir)
        if state is None:
            missing = [
                name
                for name, value in (("OMNITRAIL_KAFKA_BOOTSTRAP", bootstrap), ("OMNITRAIL_DATABASE_URL", database))
                if value is None
            ]
            raise FatalError(
                f"{' and '.join(missing)} unset and no `omnitrail up` is running with "
                f"OMNITRAIL_DATA_DIR={app_settings.data_dir}: start it, or set the variable(s)"
            )
        if bootstrap is None:
            bootstrap = state.kafka_bootstrap
            idempotence = idempotence and not state.embedded_broker
        database = database or state.database_url
    return Addresses(bootstrap, database, idempotence)
