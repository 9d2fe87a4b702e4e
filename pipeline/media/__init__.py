"""The media stage: fetch each stored interaction's attachments from their provider and keep them."""
