"""Template context for every dashboard page."""
from backend.alerts.selectors import alert_attention_count


def alert_badge(request) -> dict:
    """The header's count of alerts needing attention. A callable: the query runs only on pages
    whose template shows the badge (the dashboard's header), not on the admin's."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"alert_badge_count": lambda: alert_attention_count(user=user)}
