"""``POST /api/v1/sessions/revoke`` (admin): end every console session of one staff member or token at once.

For a lost laptop, a session seen where it should not be: the staff member's email or the token's
fingerprint (``tok_...``), as the audit log names callers, is enough. A colleague who left is better
disabled (``omnitrail staff disable``: no new sign-in either). Bearer use of a token ends only when the
token is removed from ``OMNITRAIL_API_TOKENS``.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from console.auth import TokenAuth


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(
        pattern=r"^(tok_[0-9a-f]{12}|[^@\s]+@[^@\s]+)$",
        max_length=320,
        description="A staff member's email or a token's fingerprint, as in the audit log",
    )


class Revoked(BaseModel):
    actor: str
    revoked: int = Field(description="How many live sessions ended")


def router(auth: TokenAuth) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["sessions"])

    @api.post("/sessions/revoke", response_model=Revoked, dependencies=[auth.depends("admin")])
    async def revoke(body: Revocation) -> Revoked:
        """End every console session of that staff member or token; its next request gets 401."""
        actor = body.actor.lower()
        return Revoked(actor=actor, revoked=await auth.revoke(actor))

    return api
