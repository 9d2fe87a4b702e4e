"""Attachment content: the object store it is kept in, and its state on the interaction."""
