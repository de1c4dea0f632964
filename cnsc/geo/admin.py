from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from cnsc.core.admin import ScopedAdmin
from cnsc.core.params import filter_id
from cnsc.geo.models import AdminUnit, Hamlet, Hierarchy, Level, UnitMapping


class ProvinceFilter(admin.SimpleListFilter):
    title = _("province")
    parameter_name = "province"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        provinces = AdminUnit.objects.visible_to(request.user).filter(level=Level.PROVINCE)
        return [(str(p.pk), str(p)) for p in provinces.order_by("hierarchy", "name")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value():
            return queryset.filter(province_id=filter_id(self.value()))
        return queryset


def commune_filter(field: str = "commune") -> type[admin.SimpleListFilter]:
    """A list filter offering only the communes the user may see, on ``field`` (a path to a
    current commune, such as ``"hamlet__commune"``)."""

    class CommuneFilter(admin.SimpleListFilter):
        title = _("commune")
        parameter_name = "commune"

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            communes = AdminUnit.objects.visible_to(request.user).filter(
                hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE
            )
            return [(str(c.pk), c.name) for c in communes.order_by("name")[:500]]

        def queryset(self, request: HttpRequest, queryset: Any) -> Any:
            if self.value():
                return queryset.filter(**{f"{field}_id": filter_id(self.value())})
            return queryset

    return CommuneFilter


class MappedFromInline(admin.TabularInline):
    model = UnitMapping
    fk_name = "current"
    extra = 0
    can_delete = False
    fields = ("former", "is_main")
    readonly_fields = fields
    verbose_name = _("former unit that went into it")
    verbose_name_plural = _("former units that went into it")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MappedToInline(MappedFromInline):
    fk_name = "former"
    fields = ("current", "is_main")
    readonly_fields = fields
    verbose_name = _("current commune it went into")
    verbose_name_plural = _("current communes it went into")


@admin.register(AdminUnit)
class AdminUnitAdmin(ScopedAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "level",
        "hierarchy",
        "parent",
        "valid_from",
        "valid_to",
    )
    list_filter = ("hierarchy", "level", "kind", ProvinceFilter)
    list_select_related = ("parent",)
    search_fields = ("code",)
    normalized_search_fields = ("search_name",)
    readonly_fields = (
        "hierarchy",
        "level",
        "code",
        "name",
        "short_name",
        "kind",
        "parent",
        "province",
        "valid_from",
        "valid_to",
        "latitude",
        "longitude",
    )
    inlines = (MappedFromInline, MappedToInline)

    # Official units come from load_units only.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        if obj is None:
            return ()
        if obj.hierarchy == Hierarchy.CURRENT:
            return (MappedFromInline,)
        return (MappedToInline,)


@admin.register(Hamlet)
class HamletAdmin(ScopedAdmin):
    list_display = ("name", "kind", "commune", "former_commune", "created_on", "retired_on")
    list_filter = (
        "kind",
        commune_filter(),
        ("retired_on", admin.EmptyFieldListFilter),
    )
    list_select_related = ("commune", "former_commune")
    search_fields = ("code",)
    normalized_search_fields = ("search_name",)
    fields = (
        "name",
        "kind",
        "commune",
        "former_commune",
        ("latitude", "longitude"),
        "created_on",
        "retired_on",
        "code",
    )
    readonly_fields = ("code",)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        communes = AdminUnit.objects.visible_to(request.user).filter(
            hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE
        )[:2]
        if "commune" not in initial and len(communes) == 1:
            initial["commune"] = communes[0].pk  # an official of one commune: no need to pick
        return initial

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Hamlets are retired, not deleted: teams and households keep pointing at them.
        return request.user.is_superuser and super().has_delete_permission(request, obj)
