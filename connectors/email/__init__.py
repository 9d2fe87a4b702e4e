"""Email over IMAP: a pull connector reading support mailboxes by UID (see ``connector``)."""

from connectors.email.connector import EmailConnector

__all__ = ["EmailConnector"]
