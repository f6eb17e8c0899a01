"""The shapes of the API's answers, as OpenAPI shows them (/api/docs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RefusalBody(BaseModel):
    """Every 4xx (and the rare 5xx) answer."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(description="a translation key naming the reason, e.g. reject.not_image, api.token_refused")
    message: str = Field(description="the reason in English")


class OperatingPointBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    threshold: float | None = Field(description="a crop is normal only when P(normal) >= threshold; null: arg-max")
    target_recall: float | None = None
    val_defect_recall: float | None = None
    val_false_alarm_rate: float | None = None


class FamiliarityBody(BaseModel):
    percentile: float = Field(description="distance to the nearest training photo, as a percentile of validation")
    unfamiliar: bool = Field(description="past the workspace's cut: the verdict is check, never pass")


class DiagnosisBody(BaseModel):
    label: str = Field(description="the decision at the operating point")
    defect: bool
    verdict: str = Field(
        description="pass | defect | check (check: the photo is unfit to judge, see unfit, or unfamiliar)"
    )
    top: str = Field(description="the likeliest class")
    probs: dict[str, float]
    unfit: list[str] = Field(description="why the photo is unfit (dark, blurry, small), empty when fit")
    familiarity: FamiliarityBody | None = Field(description="null when the model has no familiarity index")
    operating_point: OperatingPointBody
    run_id: int
    width: int
    height: int
    sha256: str


class AlignmentBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool
    score: float


class PositionRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    label: str | None
    defect: bool
    probs: dict[str, float]
    box: list[int]
    familiarity: FamiliarityBody | None = None


class InspectionBody(BaseModel):
    """The stored record, as the CLI's `inspect --json` prints it."""

    model_config = ConfigDict(extra="allow")
    inspection_id: int
    photo: str
    station: str
    asset: str
    verdict: str = Field(description="pass | defect | check")
    alignment: AlignmentBody
    positions: list[PositionRecord]


REFUSALS = {
    status: {"model": RefusalBody, "description": text}
    for status, text in (
        (401, "no token, or an unknown or revoked one"),
        (403, "the token's role may not do this"),
        (404, "unknown station or inspection"),
        (413, "the upload is over the limit"),
        (422, "bad input: a bad photo (with its reason) or a missing field"),
    )
}
