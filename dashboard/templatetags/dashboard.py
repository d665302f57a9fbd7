from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.timesince import timesince

from backend.alerts.definitions import STATUS_LABELS
from backend.moods.definitions import VALENCE_ARROWS, valence_direction

register = template.Library()
ZONED_FORMAT = "Y-m-d H:i T"  # the `date` filter's format for the same thing, in older templates


@register.filter
def signed(value) -> str:
    return "—" if value is None else f"{value:+.2f}".replace("-", "−")


@register.filter
def percent(value) -> str:
    return f"{value * 100:.0f}%" if isinstance(value, int | float) else "—"


@register.simple_tag
def valence_class(value) -> str:
    return valence_direction(value)


@register.simple_tag
def arrow(value) -> str:
    return VALENCE_ARROWS[valence_direction(value)]


@register.simple_tag(takes_context=True)
def sort_link(context, key: str, label: str):
    request = context["request"]
    current, descending = context.get("sort"), context.get("descending")
    params = request.GET.copy()
    params["sort"] = key
    params.pop("page", None)  # a new order starts on the first page
    params["dir"] = "asc" if current == key and descending else "desc" if current == key else "asc"
    marker = (" ▼" if descending else " ▲") if current == key else ""
    return format_html('<a class="sort" href="?{}">{}{}</a>', params.urlencode(), label, marker)


@register.filter
def qs(params: dict) -> str:
    return urlencode(params)


@register.simple_tag(takes_context=True)
def page_query(context, number: int) -> str:
    """The current query string (search, sort) with another page number."""
    params = context["request"].GET.copy()
    params["page"] = number
    return params.urlencode()


@register.filter
def zoned(moment) -> str:
    """A time as every page writes it, '2026-12-05 22:57 EST': in the page's zone (the one its
    {% timezone %} block sets, else the clinician's), named by its abbreviation."""
    return "—" if moment is None else date_format(timezone.localtime(moment), ZONED_FORMAT)


@register.filter
def ago(moment) -> str:
    """'just now', '5 minutes ago', '2 days, 3 hours ago'."""
    if moment is None:
        return "never"
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"


@register.filter
def alert_status_label(status: str) -> str:
    """An alert's status (alerts.selectors.alert_status_expression) as a person reads it."""
    return STATUS_LABELS.get(status, status)


@register.filter
def refusal_for(refusal, alert):
    """The refused step of this alert (views/alerts.py AlertRefusal, on `request.alert_refusal`), else None."""
    return refusal if getattr(refusal, "alert_id", None) == alert.pk else None
