"""``omnitrail import ...``: bulk imports from files, streamed row by row through the normal emitter."""
