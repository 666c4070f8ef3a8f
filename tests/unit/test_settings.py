"""Settings refuse combinations that would silently double count or lose a late partner."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streamvane.settings import Settings

PROFILE = {"id": "wfm", "version": 1, "cadence": "PT15M", "time_zone": "UTC"}


def test_a_correction_horizon_beyond_the_dedupe_horizon_is_refused_with_both_numbers() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(
            profiles=({**PROFILE, "correction_horizon_ms": 12 * 3_600_000},),
            kpi={"dedupe_horizon_ms": 6 * 3_600_000},
        )
    message = str(caught.value)
    assert "kpi.dedupe_horizon_ms (21600000 ms)" in message
    assert "profile 'wfm'" in message and "43200000" in message


def test_a_pairing_horizon_shorter_than_the_correction_horizon_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"kpi\.pairing_horizon_ms"):
        Settings(
            profiles=({**PROFILE, "correction_horizon_ms": 3_600_000},),
            kpi={"pairing_horizon_ms": 3_600_000},
        )


def test_the_defaults_cover_a_24_hour_correction_horizon() -> None:
    settings = Settings(profiles=({**PROFILE, "correction_horizon_ms": 24 * 3_600_000},))
    assert settings.kpi.dedupe_horizon_ms >= 24 * 3_600_000
