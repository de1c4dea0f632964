from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutreachConfig(AppConfig):
    name = "cnsc.outreach"
    label = "outreach"
    verbose_name = _("Households, residents and visits")

    def ready(self) -> None:
        from cnsc.core.identity import register_cccd_holder
        from cnsc.outreach.models import Resident

        register_cccd_holder(Resident, hash_field="cccd_hash", key_field="cccd_key_id")
