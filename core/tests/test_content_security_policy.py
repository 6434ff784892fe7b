"""Every answer carries the portal's Content-Security-Policy: pages, the back office, the API, errors."""

import pytest

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}


def directives(response) -> set[str]:
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


@pytest.mark.parametrize(
    "url",
    ["/loans/calculator/", "/accounts/login/", "/admin/login/", "/api/v1/products/", "/api/v1/docs/", "/no-such-page/"],
)
def test_every_kind_of_answer_carries_the_policy(client, url):
    response = client.get(url)

    assert directives(response) == POLICY


def test_a_signed_in_page_carries_it_too(client, merchant):
    client.force_login(merchant.owner)

    response = client.get("/merchant/")

    assert response.status_code == 200
    assert directives(response) == POLICY
    assert "<script>" not in response.content.decode()
