"""Request bodies of HubSpot's specs (`PublicApiSpecs/Communication Preferences/…`), camelCase.

Unknown fields are ignored, as HubSpot does; every string is bounded and refuses NUL, every
integer fits Assent's columns. Channels beyond HubSpot's EMAIL (SMS, WHATSAPP) are Assent's.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assent.domain.model import Channel, LegalBasis, Status

#: HubSpot documents no batch limit; its batch APIs take 100. Assent takes ten times that.
MAX_BATCH_INPUTS = 1000
MAX_ID = 2**31 - 1

Subscriber = Annotated[str, Field(min_length=1, max_length=320)]
Explanation = Annotated[str, Field(max_length=4000)]
SubscriptionId = Annotated[int, Field(ge=0, le=MAX_ID)]


class HubSpotIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # Runs for every field of every input of a batch: the common cases first, cheaply.
        if type(value) is str:
            found = "\x00" in value
        elif isinstance(value, list):
            found = any(isinstance(v, str) and "\x00" in v for v in value)
        else:
            found = isinstance(value, str) and "\x00" in value
        if found:
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


class UpdateSubscriptionStatusRequest(HubSpotIn):
    """v3 `PublicUpdateSubscriptionStatusRequest` (subscribe, unsubscribe, 2025-09 resubscribe)."""

    email_address: Subscriber = Field(alias="emailAddress")
    subscription_id: Annotated[str, Field(min_length=1, max_length=20)] = Field(alias="subscriptionId")
    legal_basis: LegalBasis | None = Field(None, alias="legalBasis")
    legal_basis_explanation: Explanation | None = Field(None, alias="legalBasisExplanation")

    @field_validator("subscription_id")
    @classmethod
    def _numeric(cls, value: str) -> str:
        if not value.strip().isdecimal() or int(value) > MAX_ID:
            raise ValueError("must be the id of a subscription (a number) as a string")
        return value.strip()


class PartialPublicStatusRequest(HubSpotIn):
    channel: Channel
    status_state: Status = Field(alias="statusState")
    subscription_id: SubscriptionId = Field(alias="subscriptionId")
    legal_basis: LegalBasis | None = Field(None, alias="legalBasis")
    legal_basis_explanation: Explanation | None = Field(None, alias="legalBasisExplanation")


class PublicStatusRequest(PartialPublicStatusRequest):
    subscriber_id_string: Subscriber = Field(alias="subscriberIdString")


class BatchInputPublicStatusRequest(HubSpotIn):
    inputs: Annotated[list[PublicStatusRequest], Field(min_length=1, max_length=MAX_BATCH_INPUTS)]


class BatchInputString(HubSpotIn):
    inputs: Annotated[list[Subscriber], Field(min_length=1, max_length=MAX_BATCH_INPUTS)]


class LinkGenerationRequest(HubSpotIn):
    subscriber_id_string: Subscriber = Field(alias="subscriberIdString")
    language: Annotated[str, Field(max_length=35)] | None = None
    subscription_id: SubscriptionId | None = Field(None, alias="subscriptionId")
