"""The base every back-office page is built on: scoped rows, 404 for the rest, change history,
and search without diacritics."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.functional import Promise, cached_property
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin

from cnsc.core.scoping import OUT_OF_SCOPE, note_denial
from cnsc.core.text import search_key


def visible(model: type[models.Model], request: HttpRequest) -> QuerySet[Any]:
    """``model.objects.visible_to(request.user)``: the one way the back office reads rows."""
    manager: Any = model._default_manager
    if not hasattr(manager, "visible_to"):
        raise TypeError(f"{model.__name__} has no visible_to(): it cannot be shown scoped")
    return manager.visible_to(request.user)


def headers_once_per_list() -> None:
    """Make unfold work out a list's column headers once per page instead of once per row.

    unfold labels each cell with its column's header (the label shown beside a value on narrow
    screens) and, to get it, builds every header again for each row: three sort links per
    sortable column, so about 2,000 query strings for a page of 100 rows of seven columns, a
    tenth of the time the page takes. The headers depend only on the list (its columns, order
    and filters), so the first answer is kept on the list and given back for the rows. Header
    labels translated lazily are turned into text once, in the language of the request, instead
    of in every cell. Called once when the project starts (``CoreConfig.ready``)."""
    from unfold.templatetags import unfold_list

    build = unfold_list.result_headers
    if getattr(build, "once_per_list", False):
        return

    @functools.wraps(build)
    def result_headers(cl: Any) -> Any:
        headers = getattr(cl, "_headers_once", None)
        if headers is None:
            headers = []
            for header in build(cl):
                if isinstance(header.get("text"), Promise):
                    header = {**header, "text": str(header["text"])}
                headers.append(header)
            cl._headers_once = headers
        return iter(headers)

    result_headers.once_per_list = True  # type: ignore[attr-defined]
    unfold_list.result_headers = result_headers


class EstimatedCountPaginator(Paginator):
    """Avoids a full COUNT(*) of a multi-million-row table on PostgreSQL when the list is not
    filtered: the planner's estimate is enough to draw page links."""

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and not qs.query.where and qs.db:
            from django.db import connections

            conn = connections[qs.db]
            if conn.vendor == "postgresql":
                with conn.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                        [qs.model._meta.db_table],
                    )
                    row = cursor.fetchone()
                if row and row[0] > 100_000:
                    return int(row[0])
        return super().count


class ScopedAdmin(SimpleHistoryAdmin, ModelAdmin):
    """Rows come from ``visible_to(user)``; another unit's row answers 404; foreign-key choices
    are limited to what the user may see; every change is kept in the history."""

    paginator: Any = EstimatedCountPaginator
    show_full_result_count = False
    # unfold's list template asks each row twice for the admin's expandable sections, which its
    # ModelAdmin no longer defines; Django's templates answer a missing attribute by listing every
    # attribute of the admin (dir()) to tell it from a failing property, about 10 ms for a page of
    # 100 rows. None here, so no row expands, as before.
    list_sections: tuple[Any, ...] = ()
    # Fields holding a diacritic-free search key (see cnsc.core.text.search_key).
    normalized_search_fields: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = visible(self.model, request)
        ordering = self.get_ordering(request)
        if ordering:
            qs = qs.order_by(*ordering)
        return qs

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            field = self.model._meta.get_field(from_field) if from_field else self.model._meta.pk
            try:
                exists = self.model._base_manager.filter(
                    **{field.name: field.to_python(object_id)}
                ).exists()
            except (ValidationError, ValueError):
                exists = False
            if exists:
                note_denial(request, OUT_OF_SCOPE)
            # The admin would redirect with "does not exist"; an outsider gets a plain 404.
            raise Http404
        return obj

    # django-simple-history falls back to the history table when a row is not in the queryset,
    # which would show another unit's data: check scope first.
    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> Any:
        if not hasattr(self.model._meta, "simple_history_manager_attribute"):
            raise Http404  # a model without a change history (the audit log itself)
        self.get_object(request, unquote(object_id))
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        if not hasattr(self.model._meta, "simple_history_manager_attribute"):
            raise Http404  # a model without a change history (the audit log itself)
        obj = self.get_object(request, unquote(object_id))
        if not self.has_change_permission(request, obj):
            # django-simple-history saves a posted past version (a revert) without asking for
            # the change permission: a user who may only look is refused it.
            if request.method == "POST":
                raise PermissionDenied
            # It also builds the version's form as if adding a row: for a user who may only
            # look, every field is shown read-only, as on the change page.
            request._cnsc_look_only = True  # type: ignore[attr-defined]
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not getattr(request, "_cnsc_look_only", False):
            return fields
        declared = (
            flatten_fieldsets(self.fieldsets)
            if self.fieldsets
            else self.fields or [f.name for f in self.model._meta.fields]
        )
        return fields + tuple(f for f in declared if f not in fields)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if getattr(request, "_cnsc_look_only", False):
            change = True  # no editable field in the form, as on the change page
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.remote_field.model
        if "queryset" not in kwargs and hasattr(related._default_manager, "visible_to"):
            kwargs["queryset"] = related._default_manager.visible_to(request.user).complex_filter(
                db_field.get_limit_choices_to() or {}
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.remote_field.model
        if "queryset" not in kwargs and hasattr(related._default_manager, "visible_to"):
            kwargs["queryset"] = related._default_manager.visible_to(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if not search_term or not self.normalized_search_fields:
            return super().get_search_results(request, queryset, search_term)
        key = search_key(search_term)
        matches = models.Q()
        for field in self.normalized_search_fields:
            matches |= models.Q(**{f"{field}__contains": key})
        if not self.search_fields:
            return queryset.filter(matches), False
        # Plain search fields (codes, phone numbers) still match as typed.
        qs, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return (queryset.filter(matches) | qs), may_have_duplicates
