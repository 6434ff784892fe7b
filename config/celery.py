import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("loanportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each app's ``tasks`` module, and each lending context's (they are packages inside the one ``lending`` app).
app.autodiscover_tasks()
app.autodiscover_tasks(["lending.origination", "lending.servicing"])
