"""Read queries for merchants and their KYC documents."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.text import capfirst

from accounts.models import User
from merchants.choices import DocumentKind
from merchants.models import KycDocument, Merchant

DOCUMENT_VIEW_PERMISSION = "merchants.view_kycdocument"


@dataclass(frozen=True)
class KycChecklist:
    """What still stands between a merchant and submitting its KYC, as labels a person can read."""

    missing_fields: list[str]
    missing_documents: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing_fields and not self.missing_documents


def merchant_for_owner(*, owner: User) -> Merchant | None:
    return Merchant.objects.filter(owner=owner).first()


def merchant_documents(*, merchant: Merchant) -> QuerySet[KycDocument]:
    return KycDocument.objects.filter(merchant=merchant).select_related("uploaded_by")


def merchant_documents_by_kind(*, merchant: Merchant) -> dict[str, KycDocument]:
    return {document.kind: document for document in merchant_documents(merchant=merchant)}


def merchant_kyc_checklist(*, merchant: Merchant) -> KycChecklist:
    return KycChecklist(
        missing_fields=[
            capfirst(str(Merchant._meta.get_field(name).verbose_name)) for name in merchant.missing_profile_fields()
        ],
        missing_documents=[str(DocumentKind(kind).label) for kind in merchant.missing_documents()],
    )


def document_for_viewer(*, pk: int, user: User) -> KycDocument | None:
    """The document if ``user`` may see it (its merchant's owner, or staff allowed to view documents).

    Anyone else gets None, and the view answers 404, so that a document's existence is not revealed.
    """
    if not user.is_authenticated:
        return None
    document = KycDocument.objects.select_related("merchant").filter(pk=pk).first()
    if document is None:
        return None
    if document.merchant.owner_id == user.pk:
        return document
    if user.is_staff and user.has_perm(DOCUMENT_VIEW_PERMISSION):
        return document
    return None
