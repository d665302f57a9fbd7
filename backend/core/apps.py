from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "backend.core"
    label = "core"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from . import checks  # noqa: F401  (registers the deploy checks)
        from .admin import admin_date_hierarchies_bound

        admin_date_hierarchies_bound()  # admin's ready (first app) has registered every admin by now
        from .throttling import login_failure_record, login_success_record

        user_login_failed.connect(login_failure_record, dispatch_uid="moodwatch-login-failure-throttle")
        user_logged_in.connect(login_success_record, dispatch_uid="moodwatch-login-device-cookie")

        from .scheduler import embedded_scheduler_start

        embedded_scheduler_start()  # only where MOODWATCH_EMBEDDED_SCHEDULER is on (the embedded default)
