"""Rows of a contact file that name an erased person are not imported (GDPR art. 17).

Contact ids are deterministic, so a re-run of a CRM export after an erasure (a routine sync) would
otherwise land the person back on her old contact: her name set again, her identifiers linked again.
The erasure kept only keyed hashes of her identifiers (:mod:`sinks.erasure`); each row's identifiers
are hashed the same way (the key ``OMNITRAIL_GDPR_HASH_KEY``, as the worker's erasure guard does) and a
row naming any erased identifier is rejected as a whole, with a reason that holds no personal data.
Unlike an interaction after the erasure (the person writing again, by her own act), a CRM record is
the controller's copy of her past, so there is no "after": it is rejected whenever it names her.

Without the key nobody can have been erased, so there is nothing to check; a database that holds
erasures while the key is missing (it was removed) stops the import instead of letting them back.
"""

from __future__ import annotations

from collections.abc import Sequence

from omnitrail.imports.contact_rows import ContactRow
from schemas.errors import FatalError
from sinks.connection import Conn
from sinks.erasure import IdentifierHasher, erased_since

#: The rejection reason of such a row (never the identifier: it is personal data).
REASON = "names an erased person's identifier: not imported (GDPR erasure)"


async def check_configured(conn: Conn, hasher: IdentifierHasher | None) -> None:
    """Refuse to import when people were erased but their hashes cannot be compared (no key)."""
    if hasher is not None:
        return
    cur = await conn.execute("SELECT EXISTS (SELECT 1 FROM erased_identifiers)")
    row = await cur.fetchone()
    if row and row[0]:
        raise FatalError(
            "people were erased from this database but OMNITRAIL_GDPR_HASH_KEY is not set: set it (the key the "
            "erasures used) so that rows naming them are not imported back"
        )


async def erased(conn: Conn, rows: Sequence[ContactRow], hasher: IdentifierHasher | None) -> set[int]:
    """Indexes of the ``rows`` naming at least one erased identifier (one statement for all of them)."""
    if hasher is None or not rows:
        return set()
    hashes = [[hasher(i.key) for i in row.identifiers] for row in rows]
    found = await erased_since(conn, sorted({h for hs in hashes for h in hs}))
    return {n for n, hs in enumerate(hashes) if any(h in found for h in hs)}
