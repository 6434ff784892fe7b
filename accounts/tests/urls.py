"""The project's URLs with the back-office sign-in wired the way config/urls.py is asked to wire it."""

from django.urls import path

from accounts.web.views import admin_login
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("admin/login/", admin_login), *project_urlpatterns]
