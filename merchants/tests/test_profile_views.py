"""The merchant's profile, documents and KYC submission pages, and who may download a document."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from core.selectors.audit import audit_trail
from merchants.choices import DocumentKind, KycState
from merchants.models import KycDocument, Merchant
from merchants.services import ocr
from merchants.services.kyc import kyc_reject, kyc_submit
from merchants.tests.files.samples import add_required_documents, jpeg_bytes, licence_png, pdf_bytes, png_bytes, upload

PROFILE_URL = reverse("merchants:profile")
DOCUMENTS_URL = reverse("merchants:documents")
SUBMIT_URL = reverse("merchants:kyc-submit")


def fresh(merchant: Merchant) -> Merchant:
    return Merchant.objects.get(pk=merchant.pk)


def profile_post_data(merchant: Merchant, **changes) -> dict:
    data = {
        "legal_name": merchant.legal_name,
        "credit_code": merchant.credit_code,
        "industry": merchant.industry,
        "province": merchant.province,
        "city": merchant.city,
        "founded_on": merchant.founded_on.isoformat(),
        "legal_rep_name": merchant.legal_rep_name,
        "legal_rep_id_number": merchant.legal_rep_id_number,
        "mobile": merchant.mobile,
        "settlement_bank_name": merchant.settlement_bank_name,
        "settlement_account_name": merchant.settlement_account_name,
        "settlement_account_number": merchant.settlement_account_number,
    }
    data.update(changes)
    return data


@pytest.fixture
def owner_client(client, merchant_owner, merchant):
    client.force_login(merchant_owner)
    return client


@pytest.fixture
def submitted_merchant(merchant, merchant_owner):
    add_required_documents(merchant)
    return kyc_submit(merchant=merchant, by=merchant_owner)


# Who reaches the pages.


def test_anonymous_visitor_is_sent_to_sign_in(client, db):
    response = client.get(PROFILE_URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_officer_has_no_merchant_profile_page(client, loan_officer):
    client.force_login(loan_officer)
    assert client.get(PROFILE_URL).status_code == 403
    assert not Merchant.objects.filter(owner=loan_officer).exists()


def test_new_owner_gets_a_draft_profile_on_first_visit(client, other_merchant_owner):
    client.force_login(other_merchant_owner)
    response = client.get(PROFILE_URL)
    assert response.status_code == 200
    assert Merchant.objects.get(owner=other_merchant_owner).kyc_state == KycState.DRAFT
    content = response.content.decode()
    assert 'class="status status-draft"' in content
    assert "Draft" in content
    assert "Legal name" in content  # listed under what is still needed


# Editing the profile.


def test_owner_saves_the_profile_and_codes_are_normalised(owner_client, merchant):
    data = profile_post_data(merchant, city="杭州", credit_code="91330100 799655058b")
    response = owner_client.post(PROFILE_URL, data, follow=True)
    assert response.status_code == 200
    assert "Your business profile is saved." in response.content.decode()
    stored = fresh(merchant)
    assert (stored.city, stored.credit_code) == ("杭州", "91330100799655058B")


def test_mistyped_credit_code_shows_the_check_character_error_and_saves_nothing(owner_client, merchant):
    response = owner_client.post(
        PROFILE_URL, profile_post_data(merchant, city="杭州", credit_code="91330100799655058C")
    )
    assert response.status_code == 200
    assert "The check character does not match: the last character should be B, not C." in response.content.decode()
    assert response.context["form"].errors["credit_code"]
    assert fresh(merchant).city == "深圳"


def test_mistyped_resident_id_shows_a_field_error(owner_client, merchant):
    response = owner_client.post(PROFILE_URL, profile_post_data(merchant, legal_rep_id_number="11010519491231003X"))
    assert "The check digit does not match" in response.context["form"].errors["legal_rep_id_number"][0]


def test_credit_code_of_another_merchant_is_a_field_error(owner_client, merchant, other_merchant):
    response = owner_client.post(PROFILE_URL, profile_post_data(merchant, credit_code=other_merchant.credit_code))
    assert response.context["form"].errors["credit_code"] == [
        "Another merchant has already registered this credit code. Check it against your licence."
    ]


def test_draft_profile_shows_the_id_number_in_full_for_editing(owner_client, merchant):
    content = owner_client.get(PROFILE_URL).content.decode()
    assert f'value="{merchant.legal_rep_id_number}"' in content


def test_submitted_profile_is_shown_locked_with_the_id_masked(owner_client, submitted_merchant):
    response = owner_client.get(PROFILE_URL)
    content = response.content.decode()
    assert 'class="status status-submitted"' in content
    assert "Submitted" in content
    assert submitted_merchant.legal_rep_id_number not in content
    assert submitted_merchant.masked_id_number in content
    assert 'name="legal_name"' not in content


def test_posting_to_a_locked_profile_changes_nothing(owner_client, submitted_merchant):
    response = owner_client.post(PROFILE_URL, profile_post_data(submitted_merchant, city="杭州"), follow=True)
    assert "The profile cannot be changed while its KYC is Submitted." in response.content.decode()
    assert fresh(submitted_merchant).city == "深圳"


def test_rejected_profile_shows_the_reason_and_is_editable(owner_client, submitted_merchant, loan_officer):
    kyc_reject(merchant=submitted_merchant, by=loan_officer, reason="The licence photo is blurred")
    content = owner_client.get(PROFILE_URL).content.decode()
    assert 'class="status status-rejected"' in content
    assert "The licence photo is blurred" in content
    assert 'name="legal_name"' in content


# Submitting for review.


def test_submit_shows_the_submitted_status(owner_client, merchant):
    add_required_documents(merchant)
    response = owner_client.post(SUBMIT_URL, follow=True)
    content = response.content.decode()
    assert response.redirect_chain[-1][0] == PROFILE_URL
    assert 'class="status status-submitted"' in content
    assert "Your KYC is submitted." in content
    assert fresh(merchant).kyc_state == KycState.SUBMITTED


def test_submit_with_missing_documents_lists_them(owner_client, merchant):
    response = owner_client.post(SUBMIT_URL, follow=True)
    assert "Before submitting, upload Business licence, ID card, front, ID card, back." in response.content.decode()
    assert fresh(merchant).kyc_state == KycState.DRAFT


def test_submit_is_post_only(owner_client):
    assert owner_client.get(SUBMIT_URL).status_code == 405


# Uploading documents.


def test_owner_uploads_an_id_card_and_sees_its_preview(owner_client, merchant):
    response = owner_client.post(
        DOCUMENTS_URL, {"kind": DocumentKind.ID_FRONT, "file": upload("身份证正面.jpg", jpeg_bytes())}, follow=True
    )
    document = KycDocument.objects.get(merchant=merchant, kind=DocumentKind.ID_FRONT)
    assert (document.content_type, document.extension, document.original_name) == (
        "image/jpeg",
        "jpg",
        "身份证正面.jpg",
    )
    assert document.file.name.startswith(f"kyc/{merchant.pk}/")
    assert document.file.name.endswith(".jpg")
    assert "身份证正面" not in document.file.name
    content = response.content.decode()
    assert f'src="{reverse("merchants:document", args=[document.pk])}"' in content
    assert [e.action for e in audit_trail(merchant)] == ["document.upload"]


def test_new_upload_replaces_the_old_file_after_commit(owner_client, merchant, django_capture_on_commit_callbacks):
    owner_client.post(DOCUMENTS_URL, {"kind": DocumentKind.ID_BACK, "file": upload("back.png", png_bytes())})
    old = KycDocument.objects.get(merchant=merchant, kind=DocumentKind.ID_BACK)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(DOCUMENTS_URL, {"kind": DocumentKind.ID_BACK, "file": upload("back.pdf", pdf_bytes())})
    [new] = KycDocument.objects.filter(merchant=merchant, kind=DocumentKind.ID_BACK)
    assert new.pk != old.pk
    assert new.content_type == "application/pdf"
    assert not default_storage.exists(old.file.name)
    assert default_storage.exists(new.file.name)


def test_refused_upload_shows_why_and_stores_nothing(owner_client, merchant):
    polyglot = jpeg_bytes() + pdf_bytes()
    response = owner_client.post(DOCUMENTS_URL, {"kind": DocumentKind.ID_FRONT, "file": upload("id.jpg", polyglot)})
    assert response.status_code == 200
    assert "This JPEG also contains a PDF document" in response.content.decode()
    assert not KycDocument.objects.filter(merchant=merchant).exists()


def test_upload_without_a_file_says_the_file_is_required(owner_client, merchant):
    response = owner_client.post(DOCUMENTS_URL, {"kind": DocumentKind.ID_FRONT})
    assert response.status_code == 200
    assert response.context["slots"][1]["form"].errors["file"] == ["This field is required."]
    assert not KycDocument.objects.filter(merchant=merchant).exists()


def test_upload_of_an_unknown_kind_is_refused(owner_client, merchant):
    response = owner_client.post(DOCUMENTS_URL, {"kind": "passport", "file": upload("p.png", png_bytes())}, follow=True)
    assert "Choose the business licence, the ID card front or the ID card back." in response.content.decode()
    assert not KycDocument.objects.filter(merchant=merchant).exists()


def test_documents_cannot_change_once_submitted(owner_client, submitted_merchant):
    before = set(KycDocument.objects.values_list("pk", flat=True))
    response = owner_client.post(
        DOCUMENTS_URL, {"kind": DocumentKind.ID_FRONT, "file": upload("id.png", png_bytes())}, follow=True
    )
    assert "Documents cannot be changed while the KYC is Submitted." in response.content.decode()
    assert set(KycDocument.objects.values_list("pk", flat=True)) == before


# OCR of the business licence.


def test_licence_photo_prefills_name_and_code_for_the_merchant_to_confirm(
    client, other_merchant_owner, django_capture_on_commit_callbacks
):
    client.force_login(other_merchant_owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            DOCUMENTS_URL, {"kind": DocumentKind.BUSINESS_LICENCE, "file": upload("licence.png", licence_png())}
        )
    response = client.get(DOCUMENTS_URL)
    assert "91330100799655058B" in response.content.decode()
    merchant = Merchant.objects.get(owner=other_merchant_owner)
    # Suggestions are not written to the profile until the merchant saves the form.
    assert (merchant.legal_name, merchant.credit_code) == ("", "")

    form = client.get(PROFILE_URL).context["form"]
    assert form.initial["credit_code"] == "91330100799655058B"
    assert form.initial["legal_name"] == "杭州甲商贸有限公司"

    client.post(PROFILE_URL, {"legal_name": "杭州甲商贸有限公司", "credit_code": "91330100799655058B"})
    stored = fresh(merchant)
    assert (stored.legal_name, stored.credit_code) == ("杭州甲商贸有限公司", "91330100799655058B")
    # Once saved, the suggestions are spent.
    assert client.get(PROFILE_URL).context["reading"] == {}


def test_misread_code_is_flagged_and_not_prefilled(client, other_merchant_owner, django_capture_on_commit_callbacks):
    client.force_login(other_merchant_owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            DOCUMENTS_URL,
            {
                "kind": DocumentKind.BUSINESS_LICENCE,
                "file": upload("licence.png", licence_png(credit_code="91330100799655058C")),
            },
        )
    response = client.get(PROFILE_URL)
    assert response.context["form"].initial["credit_code"] == ""
    assert (
        "OCR read a code whose check character does not match — please type it from the licence."
        in response.content.decode()
    )


def test_upload_works_and_says_ocr_is_unavailable_without_tesseract(
    client, other_merchant_owner, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(ocr, "TESSERACT_COMMAND", "/nonexistent/tesseract")
    client.force_login(other_merchant_owner)
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = client.post(
            DOCUMENTS_URL, {"kind": DocumentKind.BUSINESS_LICENCE, "file": upload("licence.png", licence_png())}
        )
    response = client.get(uploaded["Location"])
    content = response.content.decode()
    assert "Business licence uploaded." in content
    assert "OCR is unavailable right now" in content
    merchant = Merchant.objects.get(owner=other_merchant_owner)
    assert merchant.documents.filter(kind=DocumentKind.BUSINESS_LICENCE).exists()

    # The profile form still works: the merchant types the name and code.
    response = client.post(
        PROFILE_URL, {"legal_name": "杭州甲商贸有限公司", "credit_code": "91330100799655058B"}, follow=True
    )
    assert "Your business profile is saved." in response.content.decode()
    assert fresh(merchant).credit_code == "91330100799655058B"


# Downloading a document: the owner and officers only; anyone else is told it does not exist.


@pytest.fixture
def licence(merchant):
    return add_required_documents(merchant)[0]


def test_owner_downloads_own_document_inline_with_safe_headers(owner_client, licence):
    response = owner_client.get(reverse("merchants:document", args=[licence.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; img-src 'self'; sandbox"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_download_parameter_makes_it_an_attachment(owner_client, licence):
    response = owner_client.get(reverse("merchants:document", args=[licence.pk]) + "?download=1")
    assert response["Content-Disposition"] == 'attachment; filename="business_licence.png"'


def test_other_merchant_gets_404_for_a_document_that_exists(client, other_merchant_owner, licence):
    client.force_login(other_merchant_owner)
    assert client.get(reverse("merchants:document", args=[licence.pk])).status_code == 404


def test_loan_officer_can_view_documents(client, loan_officer, licence):
    client.force_login(loan_officer)
    assert client.get(reverse("merchants:document", args=[licence.pk])).status_code == 200


def test_staff_without_the_document_permission_gets_404(client, partner_user, licence):
    partner_user.is_staff = True
    partner_user.save()
    client.force_login(partner_user)
    assert client.get(reverse("merchants:document", args=[licence.pk])).status_code == 404


def test_anonymous_download_is_sent_to_sign_in(client, licence):
    response = client.get(reverse("merchants:document", args=[licence.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_a_pdf_is_always_served_to_an_officer_as_a_sandboxed_attachment(client, loan_officer, merchant):
    document = KycDocument.objects.create(
        merchant=merchant,
        kind=DocumentKind.BUSINESS_LICENCE,
        file=ContentFile(pdf_bytes(), name="licence.pdf"),
        content_type="application/pdf",
        extension="pdf",
        size=len(pdf_bytes()),
        sha256="0" * 64,
        original_name="营业执照.pdf",
        uploaded_by=merchant.owner,
    )
    client.force_login(loan_officer)

    response = client.get(reverse("merchants:document", args=[document.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Security-Policy"] == "default-src 'none'; img-src 'self'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


# OCR runs in a task after the upload commits, never in the request.


def test_the_upload_request_never_runs_ocr_and_the_page_says_it_is_still_reading(
    client, other_merchant_owner, monkeypatch, django_capture_on_commit_callbacks
):
    def no_ocr_in_the_request(image_bytes):
        raise AssertionError("OCR ran inside the upload request")

    monkeypatch.setattr(ocr, "licence_image_text", no_ocr_in_the_request)
    client.force_login(other_merchant_owner)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            DOCUMENTS_URL,
            {"kind": DocumentKind.BUSINESS_LICENCE, "file": upload("licence.png", licence_png())},
            follow=True,
        )

    html = response.content.decode()
    assert "Business licence uploaded." in html
    assert "We are still reading your business licence. This page refreshes by itself" in html
    assert '<meta http-equiv="refresh" content="3">' in html
    licence = KycDocument.objects.get(merchant__owner=other_merchant_owner, kind=DocumentKind.BUSINESS_LICENCE)
    assert licence.ocr_status == "pending"
    assert [callback.__qualname__ for callback in queued] == ["merchants.tasks.licence_read_task.delay"]
    profile = client.get(PROFILE_URL)
    assert "We are still reading your business licence; reload this page" in profile.content.decode()
    assert profile.context["form"].initial["credit_code"] == ""

    monkeypatch.undo()
    queued[0]()  # the worker picks the task up

    licence.refresh_from_db()
    assert licence.ocr_status == "done"
    assert licence.ocr_reading["credit_code"] == "91330100799655058B"
    page = client.get(DOCUMENTS_URL).content.decode()
    assert "91330100799655058B" in page
    assert 'http-equiv="refresh"' not in page
    assert client.get(PROFILE_URL).context["form"].initial["credit_code"] == "91330100799655058B"


def test_a_reading_that_finishes_after_the_licence_was_replaced_is_dropped(
    merchant, django_capture_on_commit_callbacks
):
    from merchants.services.documents import document_read_licence, document_upload

    with django_capture_on_commit_callbacks():
        first = document_upload(
            merchant=merchant,
            kind=DocumentKind.BUSINESS_LICENCE,
            uploaded_file=upload("a.png", licence_png()),
            by=merchant.owner,
        )
        document_upload(
            merchant=merchant,
            kind=DocumentKind.BUSINESS_LICENCE,
            uploaded_file=upload("b.png", png_bytes()),
            by=merchant.owner,
        )

    assert document_read_licence(document_id=first.pk) is None
    assert KycDocument.objects.get(merchant=merchant, kind=DocumentKind.BUSINESS_LICENCE).ocr_reading == {}


def test_a_reading_lost_for_five_minutes_stops_the_refreshing_and_says_ocr_is_unavailable(
    client, other_merchant_owner, django_capture_on_commit_callbacks
):
    import datetime

    from django.utils import timezone

    client.force_login(other_merchant_owner)
    with django_capture_on_commit_callbacks():  # the task is never run: the broker lost it
        client.post(
            DOCUMENTS_URL, {"kind": DocumentKind.BUSINESS_LICENCE, "file": upload("licence.png", licence_png())}
        )
    KycDocument.objects.filter(merchant__owner=other_merchant_owner).update(
        uploaded_at=timezone.now() - datetime.timedelta(minutes=5, seconds=1)
    )

    page = client.get(DOCUMENTS_URL).content.decode()

    assert 'http-equiv="refresh"' not in page
    assert "OCR is unavailable right now" in page
