from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccessConfig(AppConfig):
    name = "cnsc.access"
    label = "access"
    verbose_name = _("Users and access")

    def ready(self) -> None:
        from cnsc.access import signin

        signin.connect()
