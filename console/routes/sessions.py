"""``POST /api/v1/sessions/revoke`` (admin): end every console session of one token at once.

For a colleague who left, a lost laptop, a session seen where it should not be: the token's
fingerprint (``tok_...``, as the audit log names callers) is enough. Bearer use of the token itself
ends only when the token is removed from ``OMNITRAIL_API_TOKENS``.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from console.auth import TokenAuth


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(pattern=r"^tok_[0-9a-f]{12}$", description="The token's fingerprint, as in the audit log")


class Revoked(BaseModel):
    actor: str
    revoked: int = Field(description="How many live sessions ended")


def router(auth: TokenAuth) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["sessions"])

    @api.post("/sessions/revoke", response_model=Revoked, dependencies=[auth.depends("admin")])
    async def revoke(body: Revocation) -> Revoked:
        """End every console session signed in with that token; its next request gets 401."""
        return Revoked(actor=body.actor, revoked=await auth.revoke(body.actor))

    return api
