from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "cnsc.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from cnsc.core import checks  # noqa: F401 (registers the deploy checks)
        from cnsc.core.admin import headers_once_per_list

        headers_once_per_list()
