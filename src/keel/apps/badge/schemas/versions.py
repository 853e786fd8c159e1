"""The badge API's firmware versions, rollouts and deployments bodies (spec 004); the types every area uses are in the package."""

from datetime import datetime
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from keel.apps.badge.schemas import DeploymentState, RolloutStatus, Semver, bounded_text
from keel.core.params import Schema
from keel.core.schemas import ORM


class VersionOut(ORM):
    id: int
    version_number: str
    version_type: str
    release_notes: str | None
    download_url: str | None
    file_size: int | None
    checksum: str | None
    is_force_update: bool
    min_compatible_version: str | None
    created_at: datetime
    released_at: datetime | None
    is_active: bool
    rollout_percentage: int
    rollout_status: RolloutStatus
    # Issue 17 item 5: the rollout's stages (the last is its target), the stage it is at and
    # since when, what stops it, why it stopped, and where a rollback sent its badges.
    rollout_waves: list[dict[str, int]] | None = None
    rollout_wave: int = 0
    wave_started_at: datetime | None = None
    failure_threshold_percent: int | None = None
    failure_min_reports: int = 1
    auto_rollback: bool = False
    paused_reason: str | None = None
    rollback_version_id: int | None = None


class UpdateInfo(BaseModel):
    version_id: int
    version: str
    version_type: str
    release_notes: str | None
    download_url: str
    file_size: int | None
    checksum: str | None
    force_update: bool
    min_compatible_version: str | None
    released_at: datetime | None


class UpdateCheck(BaseModel):
    current_version: str
    has_update: bool
    latest_version: str | None = None
    force_update: bool = False
    min_compatible_version: str | None = None
    update_info: UpdateInfo | None = None


class Wave(Schema):
    percentage: int = Field(ge=1, le=99, description="The share of badges this wave reaches")
    soak_minutes: int = Field(
        ge=0, le=30 * 24 * 60, description="How long it runs, at least, before the next wave starts"
    )


class Rollout(Schema):
    percentage: int = Field(ge=0, le=100, description="The share of badges the rollout ends at")
    waves: list[Wave] | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="Stages before `percentage`, increasing and below it: the rollout starts at the "
        "first, and each next one (then `percentage`) starts once the current one has run its "
        "`soak_minutes` with the failed share at or under the threshold",
    )
    failure_threshold_percent: int | None = Field(
        None,
        ge=0,
        le=100,
        description="When more than this share of the badges that reported an outcome failed, the "
        "rollout pauses itself",
    )
    failure_min_reports: int = Field(
        1, ge=1, le=1_000_000, description="Outcomes needed before the threshold applies"
    )
    auto_rollback: bool = Field(
        False,
        description="Past the threshold, roll back instead of pausing: the previous stable version "
        "is pushed, forced, to the badges that took this one",
    )

    @model_validator(mode="after")
    def _waves_climb_to_the_target(self) -> "Rollout":
        steps = [wave.percentage for wave in self.waves or ()]
        if any(later <= earlier for earlier, later in pairwise(steps)):
            raise ValueError("waves must have increasing percentages")
        if steps and steps[-1] >= self.percentage:
            raise ValueError("every wave must be below the rollout's percentage, where it ends")
        if self.auto_rollback and self.failure_threshold_percent is None:
            raise ValueError("auto_rollback needs a failure_threshold_percent")
        return self


class RolloutOut(VersionOut):
    notified_devices: int


class RollbackOut(BaseModel):
    rolled_back: VersionOut
    target: VersionOut
    notified_devices: int


class UpdateReportIn(Schema):
    # Every deployment state but `queued`, which is keel's until the badge reports.
    status: Literal["downloading", "installing", "success", "failed", "rolled_back"]
    from_version: Semver | None = None
    error: bounded_text(10_000) | None = None


class UpdateReportOut(ORM):
    id: int
    device_id: str
    version_id: int
    from_version: str | None
    status: str
    error: str | None
    reported_at: datetime


class DeploymentOut(ORM):
    device_id: str
    state: DeploymentState
    round: int
    from_version: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime


class DeploymentPage(BaseModel):
    version_id: int
    # Every state, zeros included.
    counts: dict[str, int]
    # Of the badges that reported an outcome (success, failed, rolled_back), the share that
    # failed or rolled back, in percent; null before any outcome.
    failed_percent: float | None
    items: list[DeploymentOut]
    total: int
    page: int
    limit: int
    total_pages: int


class VersionStatistics(BaseModel):
    version_id: int
    version_number: str
    reports: int
    success: int
    failed: int
    success_rate: float | None
