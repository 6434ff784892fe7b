from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from django_fsm import TransitionNotAllowed
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class _Input(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class _ValidatingApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        _Input(data=request.data).is_valid(raise_exception=True)
        return Response({})


class _DomainErrorApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        raise DjangoValidationError({"term": ["Allowed terms are 3, 6 and 12 months."]})


class _RuleApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        raise DjangoValidationError("You already have an application in progress.", code="too_many_open_applications")


class _ConflictApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        raise TransitionNotAllowed("no")


urlpatterns = [
    path("validate/", _ValidatingApi.as_view()),
    path("domain/", _DomainErrorApi.as_view()),
    path("conflict/", _ConflictApi.as_view()),
    path("rule/", _RuleApi.as_view()),
]


def test_validation_error_names_each_field(client, settings):
    settings.ROOT_URLCONF = __name__
    response = client.post("/validate/", {"amount": "12.345"}, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["fields"]) == ["amount"]
    assert "amount" in body["message"]


def test_a_service_validation_error_becomes_a_400_with_its_field(client, settings):
    settings.ROOT_URLCONF = __name__
    response = client.post("/domain/", {}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"term": ["Allowed terms are 3, 6 and 12 months."]}


def test_wrong_state_is_a_409_conflict(client, settings):
    settings.ROOT_URLCONF = __name__
    response = client.post("/conflict/", {}, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_unauthenticated_requests_get_the_same_shape(client, db):
    response = client.get("/api/v1/merchant/")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"code", "message", "fields"}


def test_a_service_refusal_that_names_no_field_is_a_409_with_the_rules_code(client, settings):
    settings.ROOT_URLCONF = __name__
    response = client.post("/rule/", {}, content_type="application/json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "too_many_open_applications",
        "message": "You already have an application in progress.",
        "fields": {},
    }
