from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BotConfig(AppConfig):
    name = "cnsc.bot"
    label = "bot"
    verbose_name = _("Telegram bot")

    def ready(self) -> None:
        # The task queue's own admin lists raw task arguments (chat ids) of every commune,
        # unscoped; each broadcast shows its delivery state instead. The admin has discovered
        # every app's admin module by now (django.contrib.admin is earlier in INSTALLED_APPS).
        from django.contrib import admin
        from django_tasks_db.models import DBTaskResult

        if admin.site.is_registered(DBTaskResult):
            admin.site.unregister(DBTaskResult)
