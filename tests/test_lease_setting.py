"""KCC_LEASE_SECONDS sets both leases (routing's matcher, the callback scheduler); a lease so short
that its holder would do little but renew it is refused when the settings are read."""

from __future__ import annotations

import pytest

from services.callbacks.app import CallbacksApp
from services.common.config import Settings
from services.routing.app import RoutingApp


def test_the_lease_setting_reaches_both_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KCC_LEASE_SECONDS", raising=False)
    assert RoutingApp(Settings()).lease_ttl == CallbacksApp(Settings()).lease_ttl == 10.0
    monkeypatch.setenv("KCC_LEASE_SECONDS", "4")
    settings = Settings()
    assert RoutingApp(settings).lease_ttl == CallbacksApp(settings).lease_ttl == 4.0


@pytest.mark.parametrize("value", ["0", "0.5", "-3", "nan"])
def test_a_lease_under_a_second_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("KCC_LEASE_SECONDS", value)
    with pytest.raises(ValueError, match="KCC_LEASE_SECONDS must be 1 or more"):
        Settings()
