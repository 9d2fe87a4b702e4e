"""Test secrets of every channel, as environment variables for ``omnitrail up``.

The session's shared ``webhook_stack`` (tests/integration/conftest.py) runs with all of them, so
every channel's contract and scenario tests talk to one stack. A channel adds its entries here.
"""

from __future__ import annotations

import json

from tests.channel_payloads import META_APP_SECRET, META_VERIFY_TOKEN, X_CONSUMER_SECRET
from tests.helpers import AUTH_TOKEN, SHARED_KEYS
from tests.livechat_payloads import CHATWOOT_SECRET, EVENTS_SECRET, IDENTITY_SECRET, LIVECHAT_SECRET
from tests.telegram_updates import BOT_TOKEN, WEBHOOK_SECRET

CHANNEL_ENV: dict[str, str] = {
    "OMNITRAIL_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "OMNITRAIL_TWILIO_SHARED_KEYS": json.dumps(SHARED_KEYS),
    "OMNITRAIL_LIVECHAT_SECRET": LIVECHAT_SECRET,
    "OMNITRAIL_LIVECHAT_CHATWOOT_SECRET": CHATWOOT_SECRET,
    "OMNITRAIL_LIVECHAT_IDENTITY_SECRET": IDENTITY_SECRET,
    "OMNITRAIL_EVENTS_SECRET": EVENTS_SECRET,
    "OMNITRAIL_META_APP_SECRET": META_APP_SECRET,
    "OMNITRAIL_META_VERIFY_TOKEN": META_VERIFY_TOKEN,
    "OMNITRAIL_X_CONSUMER_SECRET": X_CONSUMER_SECRET,
    "OMNITRAIL_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
    "OMNITRAIL_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
}
