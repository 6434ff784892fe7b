"""``Idempotency-Key``: a retried POST gets the first answer again instead of doing the work twice.

Every POST that creates an object or moves money or state adopts it by putting ``IdempotentMixin`` first
in the view's bases::

    class ApplicationSubmitApi(IdempotentMixin, APIView): ...

The contract a client sees:

* same key, same request (method, path, canonical body) → the first answer's status, body and headers,
  plus ``Idempotent-Replayed: true``; nothing runs again;
* same key, different request → 422 ``idempotency_key_reused``;
* same key while the first request is still running → 409 ``idempotency_in_progress``;
* no key → the request runs as usual.

Keys belong to the authenticated user (an anonymous client cannot use one) and are kept for at least
24 hours; ``idempotency_keys_purge_task`` deletes them after 48.

How it stays correct under concurrency: the first request INSERTs the key and commits it before the view runs,
so the unique (user, key) constraint makes any concurrent request with the same key see the row and get 409.

How it stays correct under a crash: the view's work and the stored answer commit in **one** transaction
(``IdempotentMixin._answer_in_one_transaction``). The services' own ``atomic`` blocks become savepoints of it and
their after-commit tasks wait for it. So either the effect and its answer are both on file, and a retry is
answered from the row, or neither is, and the claim (committed alone, before) is released or, if the process died,
abandoned after ``ABANDONED_AFTER`` and taken by the retry, which then does the work for the first time. The claim
row is locked for the whole transaction, so releasing an abandoned claim waits for a request still answering.
A 5xx or an unhandled exception rolls the work back and deletes the claim, so the client may retry with the same
key. Every commit here is an ordinary, durable one: an earlier version let the claim and the answer commit
without waiting for the disk, which bench/README.md ("Idempotency-Key answered in the effect's transaction")
measured at well under the 30 % of a keyed request that would justify it.
"""

import hashlib
import json
from datetime import timedelta

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.api.exceptions import Conflict
from core.models import IdempotencyKey

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
# Clients are promised 24 hours; the purge keeps twice that so a key is never dropped while a slow retry
# loop is still using it.
RETENTION = timedelta(hours=48)
# A request that has held its key longer than this died without answering (gunicorn kills a worker after
# 30 seconds), so its key is released for the next attempt rather than answering 409 until the purge.
ABANDONED_AFTER = timedelta(minutes=10)
# Headers the framework sets on every answer; the replay gets fresh ones, not the stored ones.
_PER_RESPONSE_HEADERS = frozenset({"content-type", "content-length", "allow", "vary"})


class IdempotencyKeyReused(exceptions.APIException):
    """The key was first used for a different request: answering with the first answer would be a lie."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used for a different request. Use a new key.")
    default_code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    """The first request with this key has not answered yet."""

    default_detail = _("A request with this Idempotency-Key is still being processed. Retry in a moment.")
    default_code = "idempotency_in_progress"


class _Replay(Exception):  # noqa: N818 - not an error: it carries the stored answer out of ``initial``.
    def __init__(self, response: Response):
        super().__init__()
        self.response = response


def _key_error(message) -> exceptions.ValidationError:
    return exceptions.ValidationError({IDEMPOTENCY_HEADER: [message]})


def _validated_key(raw: str) -> str:
    key = raw.strip()
    if not key:
        raise _key_error(_("Idempotency-Key must not be empty."))
    if len(key) > KEY_MAX_LENGTH:
        raise _key_error(_("Idempotency-Key must be at most %(max)d characters.") % {"max": KEY_MAX_LENGTH})
    if not key.isascii() or not key.isprintable():
        raise _key_error(_("Idempotency-Key may contain only printable ASCII characters (a UUID is ideal)."))
    return key


def _canonical(value):
    """The request body as plain JSON-able data, independent of key order, whitespace and multipart boundaries."""
    if isinstance(value, MultiValueDict):
        return {name: [_canonical(item) for item in value.getlist(name)] for name in value}
    if isinstance(value, dict):
        return {str(name): _canonical(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, UploadedFile):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)  # the view reads the file after us
        return {"file": value.name, "size": value.size, "sha256": digest.hexdigest()}
    return value


def request_fingerprint(request) -> str:
    """SHA-256 of the method, the path with its sorted query and the canonical body."""
    query = sorted((name, item) for name in request.query_params for item in request.query_params.getlist(name))
    payload = {
        "method": request.method,
        "path": request.path,
        "query": query,
        "body": _canonical(request.data),
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _replay_response(record: IdempotencyKey) -> Response:
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    return Response(record.response_body, status=record.response_status, headers=headers)


# One statement, committed by itself when the view runs outside any transaction (as views do): the claim is one
# round trip instead of four through a transaction of its own.
_CLAIM_SQL = (
    'INSERT INTO "core_idempotencykey" ("user_id", "key", "request_hash", "state", "response_headers", "created_at") '
    "VALUES (%s, %s, %s, %s, '{}'::jsonb, %s) "
    'ON CONFLICT ("user_id", "key") DO NOTHING RETURNING "id"'
)


def _one_statement() -> bool:
    """True where the claim can be one self-committing statement: PostgreSQL, autocommit."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block and connection.get_autocommit()


def _insert_claim(*, user, key: str, request_hash: str) -> IdempotencyKey | None:
    """The claim, committed before the view runs so that concurrent requests see it at once; None if taken."""
    if _one_statement():
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, [user.pk, key, request_hash, IdempotencyKey.State.IN_PROGRESS, now])
            row = cursor.fetchone()
        if row is None:
            return None
        return IdempotencyKey(pk=row[0], user=user, key=key, request_hash=request_hash, created_at=now)
    try:
        # Inside a caller's transaction (tests) a savepoint keeps a duplicate key from aborting it.
        with transaction.atomic():
            return IdempotencyKey.objects.create(user=user, key=key, request_hash=request_hash)
    except IntegrityError:
        return None


def idempotency_key_claim(*, user, key: str, request_hash: str) -> IdempotencyKey:
    """Take ``key`` for this request, or raise: a replay of the stored answer, 422 or 409.

    The INSERT commits on its own (the view runs outside any transaction, see ``IdempotentMixin.as_view``),
    so the unique constraint is what decides between two concurrent requests: exactly one inserts.
    """
    # Two rounds: the second runs only after a holder released the key (failed or abandoned) in between.
    for _round in range(2):
        claimed = _insert_claim(user=user, key=key, request_hash=request_hash)
        if claimed is not None:
            return claimed
        existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is None:
            continue
        if existing.request_hash != request_hash:
            raise IdempotencyKeyReused()
        if existing.state == IdempotencyKey.State.DONE:
            raise _Replay(_replay_response(existing))
        if existing.created_at < timezone.now() - ABANDONED_AFTER:
            # Deleting by state as well keeps a finished answer that was stored meanwhile.
            IdempotencyKey.objects.filter(pk=existing.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()
            continue
        raise IdempotencyInProgress()
    raise IdempotencyInProgress()


def _stored_body(response: Response):
    if response.data is None:
        return None
    if isinstance(response.accepted_renderer, JSONRenderer):
        # Keep exactly what the client was sent; rendering now saves Django from rendering it again.
        response.render()
        return json.loads(response.content) if response.content else None
    return json.loads(JSONRenderer().render(response.data))


def answer_replayable(response) -> bool:
    """Whether ``response`` is kept as the key's answer: a DRF answer below 500.

    A server error did not happen "once": the client may retry with the same key. A plain Django response
    (a file) cannot be replayed faithfully, so it is not kept either.
    """
    return isinstance(response, Response) and response.status_code < status.HTTP_500_INTERNAL_SERVER_ERROR


def idempotency_key_answer(*, record: IdempotencyKey, response: Response) -> None:
    """Store the answer on the claimed row, inside the transaction of the work it answers for.

    Raises ``IdempotencyInProgress`` if the claim is no longer held (released as abandoned meanwhile): the caller's
    transaction then rolls back, so no effect is left without its answer.
    """
    record.state = IdempotencyKey.State.DONE
    record.response_status = response.status_code
    record.response_body = _stored_body(response)
    record.response_headers = {
        name: value for name, value in response.items() if name.lower() not in _PER_RESPONSE_HEADERS
    }
    stored = IdempotencyKey.objects.filter(pk=record.pk, state=IdempotencyKey.State.IN_PROGRESS).update(
        state=record.state,
        response_status=record.response_status,
        response_body=record.response_body,
        response_headers=record.response_headers,
    )
    if not stored:
        raise IdempotencyInProgress()


def idempotency_key_release(*, record: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=record.pk, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_keys_purge(*, older_than: timedelta = RETENTION) -> int:
    """Delete keys older than ``older_than``; returns how many went."""
    deleted, _by_model = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


class _NotAnswered(Exception):  # noqa: N818 - not an error: it rolls back work whose answer is not kept.
    def __init__(self, response):
        super().__init__()
        self.response = response


class IdempotentMixin:
    """Honour ``Idempotency-Key`` on this view's POSTs. Put it before ``APIView``/``GenericAPIView`` in the bases.

    The key is claimed after authentication, permission and throttle checks (a refused request uses up no
    key) and before the handler runs; the stored answer is whatever the client was sent, errors included,
    except 5xx, and it commits in the same transaction as the handler's work.
    """

    idempotent_methods: tuple[str, ...] = ("POST",)
    _idempotency_record: IdempotencyKey | None = None

    @classmethod
    def as_view(cls, *args, **initkwargs):
        # The claim must commit before the view runs, or a concurrent request could not see it; so this view
        # never runs inside ATOMIC_REQUESTS' request-wide transaction. The work opens its own, below.
        return transaction.non_atomic_requests(super().as_view(*args, **initkwargs))

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency_record = None
        raw_key = request.headers.get(IDEMPOTENCY_HEADER)
        if raw_key is None or request.method not in self.idempotent_methods:
            return
        key = _validated_key(raw_key)
        if not request.user.is_authenticated:
            raise _key_error(_("Only an authenticated client can use an Idempotency-Key."))
        self._idempotency_record = idempotency_key_claim(
            user=request.user, key=key, request_hash=request_fingerprint(request)
        )

    def dispatch(self, request, *args, **kwargs):
        """``APIView.dispatch``, step for step, except that a claimed key's work and answer share one transaction."""
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            if self._idempotency_record is not None:
                record, self._idempotency_record = self._idempotency_record, None
                self.response = self._answer_in_one_transaction(record, request, *args, **kwargs)
                return self.response
            response = self._handle(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - as APIView.dispatch: handle_exception re-raises what it cannot answer
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def _handle(self, request, *args, **kwargs):
        if request.method.lower() in self.http_method_names:
            handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
        else:
            handler = self.http_method_not_allowed
        return handler(request, *args, **kwargs)

    def _answer_in_one_transaction(self, record: IdempotencyKey, request, *args, **kwargs):
        """Run the handler, render its answer and store it, all in one transaction.

        A 5xx or an unhandled error rolls the work back and releases the key, so the client may retry it.
        """
        try:
            with transaction.atomic():
                # Held to the commit: an abandoned-claim release by a retry waits for this request's answer.
                list(IdempotencyKey.objects.select_for_update().filter(pk=record.pk).values_list("pk", flat=True))
                try:
                    response = self._handle(request, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - an unhandled error re-raises here: everything rolls back
                    response = self.handle_exception(exc)
                response = self.finalize_response(request, response, *args, **kwargs)
                if response.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
                    raise _NotAnswered(response)
                if answer_replayable(response):
                    idempotency_key_answer(record=record, response=response)
        except _NotAnswered as not_answered:
            idempotency_key_release(record=record)
            return not_answered.response
        except BaseException:
            idempotency_key_release(record=record)
            raise
        if not answer_replayable(response):
            # A file answer cannot be replayed faithfully: the work stands, and the key is free for a new request.
            idempotency_key_release(record=record)
        return response

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)
