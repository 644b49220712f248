from django.apps import AppConfig


class GridTokenXConfig(AppConfig):
    name = "gridtokenx"
    verbose_name = "GridTokenX"

    def ready(self):
        from gridtokenx import checks  # noqa: F401  (registers the system checks)
