"""Endpoints with no business in them, for measuring the framework itself (``bench/api_throughput.py``).

Not routed in ``config.urls``: the benchmark mounts them on its own URLconf, so production has no ping.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import IdempotentMixin

_PONG = inline_serializer("Pong", fields={"ping": serializers.CharField()})


class PingApi(APIView):
    """Authenticates like every endpoint, then answers at once: the floor under every API request."""

    @extend_schema(summary="Ping", responses={200: _PONG})
    def get(self, request):
        return Response({"ping": "pong"})

    @extend_schema(summary="Ping with a body", request=None, responses={201: _PONG})
    def post(self, request):
        return Response({"ping": "pong", "echo": request.data}, status=201)


class IdempotentPingApi(IdempotentMixin, PingApi):
    """The same ping, honouring Idempotency-Key: the mixin's cost with nothing else around it."""
