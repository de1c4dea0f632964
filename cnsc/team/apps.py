from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TeamConfig(AppConfig):
    name = "cnsc.team"
    label = "team"
    verbose_name = _("Teams and members")

    def ready(self) -> None:
        from cnsc.core.identity import register_cccd_holder
        from cnsc.team.models import Member

        register_cccd_holder(Member, hash_field="cccd_hash", key_field="cccd_key_id")
