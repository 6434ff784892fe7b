"""Storing a merchant's KYC documents and reading its business licence.

OCR never runs inside the upload's request: the upload commits, then ``licence_read_task`` reads the licence in a
worker and leaves what it read on the document, where the merchant's pages find it.
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from core.services.audit import audit_record
from core.transactions import task_on_commit
from merchants.choices import DocumentKind, OcrStatus
from merchants.models import KycDocument, Merchant
from merchants.services.kyc import EDITABLE_STATES, KycError
from merchants.services.ocr import OcrUnavailableError, licence_read
from merchants.services.uploads import document_inspect

logger = logging.getLogger(__name__)

OCR_CONTENT_TYPES = ("image/png", "image/jpeg")


def document_upload(*, merchant: Merchant, kind: str, uploaded_file: File, by: User) -> KycDocument:
    """Store a checked PDF, PNG or JPEG as the merchant's document of ``kind``, replacing the previous one.

    A merchant has at most one document of each kind, and documents change only while the KYC is in
    draft or rejected: what an officer reviews cannot change under them. The replaced file is deleted
    from storage only after the transaction commits, so a failure never leaves the merchant with none.
    """
    if kind not in DocumentKind.values:
        raise ValidationError({"kind": _("Choose the business licence, the ID card front or the ID card back.")})
    # Reading and decoding the whole file is slow; it happens before any row is locked.
    inspected = document_inspect(uploaded_file)

    with transaction.atomic():
        locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if by.pk != locked.owner_id:
            raise PermissionDenied(_("Only the merchant's owner can upload its documents."))
        if locked.kyc_state not in EDITABLE_STATES:
            raise KycError(
                _("Documents cannot be changed while the KYC is %(state)s."),
                code="locked",
                params={"state": locked.get_kyc_state_display()},
            )
        previous = KycDocument.objects.filter(merchant=locked, kind=kind).first()
        replaced_name = previous.file.name if previous else ""
        if previous is not None:
            previous.delete()

        document = KycDocument(
            merchant=locked,
            kind=kind,
            content_type=inspected.content_type,
            extension=inspected.extension,
            size=inspected.size,
            sha256=inspected.sha256,
            original_name=inspected.original_name,
            uploaded_by=by,
            ocr_status=OcrStatus.PENDING if _is_ocr_candidate(kind, inspected.content_type) else OcrStatus.NONE,
        )
        # upload_to names the stored file from the merchant id, a random uuid and the detected extension.
        document.file.save("upload", uploaded_file, save=False)
        try:
            document.save()
            audit_record(
                subject=locked,
                action="document.upload",
                by=by,
                data={
                    "kind": kind,
                    "document_id": document.pk,
                    "sha256": inspected.sha256,
                    "size": inspected.size,
                    "replaced": bool(previous),
                },
            )
        except Exception:
            # The row was not written: the file stored a moment ago belongs to nothing.
            document.file.storage.delete(document.file.name)
            raise
        if replaced_name:
            storage = document.file.storage
            transaction.on_commit(lambda: storage.delete(replaced_name))
        if document.ocr_status == OcrStatus.PENDING:
            task_on_commit("merchants.tasks.licence_read_task", document.pk)
    return document


def _is_ocr_candidate(kind: str, content_type: str) -> bool:
    return kind == DocumentKind.BUSINESS_LICENCE and content_type in OCR_CONTENT_TYPES


def document_read_licence(*, document_id: int) -> KycDocument | None:
    """OCR a business licence photo that is waiting to be read and keep the reading on the document.

    Tesseract runs outside any transaction (it takes seconds); the result is written only if the document still
    exists and is still waiting, so a licence replaced meanwhile never gets its predecessor's reading. When OCR
    cannot run the document says so, and the merchant types the name and code instead. Returns the document, or
    None when there was nothing to read.
    """
    document = KycDocument.objects.filter(pk=document_id, ocr_status=OcrStatus.PENDING).first()
    if document is None:
        return None
    try:
        with document.file.open("rb") as stored:
            reading = licence_read(stored.read())
    except (OcrUnavailableError, OSError) as exc:
        logger.warning("Licence OCR unavailable for document %s: %s", document_id, exc)
        status, result = OcrStatus.UNAVAILABLE, {}
    else:
        status, result = OcrStatus.DONE, reading.as_dict()
    with transaction.atomic():
        locked = KycDocument.objects.select_for_update().filter(pk=document_id, ocr_status=OcrStatus.PENDING).first()
        if locked is None:
            return None
        locked.ocr_status = status
        locked.ocr_reading = result
        locked.save(update_fields=["ocr_status", "ocr_reading"])
    return locked
