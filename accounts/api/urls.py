from django.urls import path

from accounts.api.views import TokenObtainApi, TokenRevokeApi

urlpatterns = [
    path("token/", TokenObtainApi.as_view(), name="auth-token"),
    path("token/revoke/", TokenRevokeApi.as_view(), name="auth-token-revoke"),
]
