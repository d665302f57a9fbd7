"""Admin building blocks shared by the domain apps."""
import functools

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Viewable in the admin, never added, changed or deleted there (superusers included): for rows
    that only the platform itself writes (uploads, model output, the audit trail)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BoundedDateHierarchyMixin:
    """A ChangeList whose date drill-down refuses impossible dates the way Django refuses any bad filter.

    Django builds the drill-down's range with datetime(int(year), ...) and from_date.replace(year + 1),
    catching only part of what that raises: ?at__year=99999999999 is an OverflowError, ?at__year=9999
    a ValueError outside its try, both 500s. As IncorrectLookupParameters the changelist answers
    with its usual redirect to ?e=1 instead.
    """

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as exc:
            raise IncorrectLookupParameters(exc) from exc


def admin_date_hierarchies_bound(site: admin.AdminSite = admin.site) -> None:
    """Give every registered admin with a date drill-down the bounded ChangeList (ours and third
    parties', e.g. django-axes'). Called from CoreConfig.ready, once every admin is registered."""
    for model_admin in site._registry.values():
        if model_admin.date_hierarchy and "get_changelist" not in vars(model_admin):
            model_admin.get_changelist = _bounded_get_changelist(model_admin.get_changelist)


def _bounded_get_changelist(get_changelist):
    def bounded(request, **kwargs):
        return _bounded_changelist(get_changelist(request, **kwargs))

    return bounded


@functools.cache
def _bounded_changelist(changelist: type) -> type:
    if issubclass(changelist, BoundedDateHierarchyMixin):
        return changelist
    return type(f"Bounded{changelist.__name__}", (BoundedDateHierarchyMixin, changelist), {})
