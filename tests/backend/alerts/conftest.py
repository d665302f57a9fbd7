"""The alert tests written for the absolute rule (a fixed negative share) run under it: they set the
option, as a care team would. test_baseline_rule.py overrides this fixture with the product default."""
import pytest


@pytest.fixture(autouse=True)
def alert_rule(settings):
    settings.MOODWATCH_ALERTS = {**settings.MOODWATCH_ALERTS, "RULE": "absolute"}
    return "absolute"
