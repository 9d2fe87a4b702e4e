"""Every setting a serving command will use, checked before it starts anything.

``omnitrail up`` starts an embedded broker and PostgreSQL, migrates and prints its banner before the
HTTP app is built: a bad ``OMNITRAIL_API_TOKENS`` entry or a connector's half-configured credentials
must stop it first, as one line naming the variable, not after the whole stack came up.
"""

from __future__ import annotations

from omnitrail import registry, subscriptions
from omnitrail.settings import AppSettings
from schemas.config import load


def check(app_settings: AppSettings) -> None:
    """Raise FatalError naming the variable of the first setting that is wrong."""
    for settings_cls in registry.ROLE_SETTINGS:
        load(settings_cls)
    app_settings.tokens()
    registry.enabled(app_settings)  # each configured connector from its validated settings
    subscriptions.configured()
