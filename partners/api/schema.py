"""The partner API's chapter of the OpenAPI description: how a partner authenticates, signs requests, and checks
our webhooks — with a worked example a partner can reproduce byte for byte (the suite checks it)."""

from partners.services.webhooks import (
    BACKOFF_CAP_SECONDS,
    BACKOFF_FIRST_SECONDS,
    SIGNATURE_TOLERANCE_SECONDS,
    WEBHOOK_DOCS_BODY,
    WEBHOOK_DOCS_SECRET,
    WEBHOOK_DOCS_TIMESTAMP,
)

# The signature of the example below: HMAC-SHA256 of "1767225600." + the body under the example secret.
WEBHOOK_DOCS_SIGNATURE = "571b6fe7517d08e93b92c51caaa5678260ee0486de8be6c8299008d95e73ae57"

PARTNER_DOCS = f"""

## Partner API (`/api/v1/partner/`)

**Authentication.** Send `Authorization: Token <key>` with the token of your partner API account. The platform
issues it from its back office and rotates it on request (a new token is issued and the old one revoked at once);
you may revoke your own at any time with `DELETE /api/v1/auth/token/revoke/`. A partner token answers only under
`/api/v1/partner/` (403 anywhere else). You see only your own offers and loans: anyone else's answers 404, exactly
as a missing one does.

**Request signing** (when it is switched on for you). Every request carries `X-Partner-Timestamp` (Unix seconds)
and `X-Partner-Signature: v1=<hex>`, the HMAC-SHA256 of `<timestamp>.<raw body>` (an empty body for GET) under your
webhook secret — the same scheme as our webhooks below, in the other direction. A timestamp more than five minutes
from our clock, or a signature that does not match, answers 403 with the code `signature_invalid`.

## Webhooks

We POST each event (`loan.offered`, `loan.funded`, `loan.repayment`, `loan.overdue`, `loan.defaulted`,
`settlement.ready`) as JSON to your webhook URL with these headers:

| header | value |
| --- | --- |
| `X-Webhook-Id` | the event's id, the same on every retry: ignore an id you have already processed |
| `X-Webhook-Event` | the event type |
| `X-Webhook-Timestamp` | Unix seconds when this attempt was signed |
| `X-Webhook-Signature` | `v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>" under your secret>` (see below) |

While a secret is being rotated, the signature header carries a second `v1=`, made with the previous secret,
after a comma: check each against each secret you hold.

Answer with any 2xx once you have stored the event. Anything else (or no answer within the timeout) is retried
after {BACKOFF_FIRST_SECONDS // 60} minute × 2^(attempt − 1), at most {BACKOFF_CAP_SECONDS // 3600} hours apart
(less a little jitter), for at least 24 hours; the platform's officers can send an event again after that.

**Verifying a delivery.** Compute the HMAC over the raw body exactly as received (before parsing the JSON), compare
in constant time with each `v1=` value against each secret you hold, and refuse timestamps more than
{SIGNATURE_TOLERANCE_SECONDS} seconds away from your clock:

```python
import hashlib, hmac, time

def webhook_signature_verify(body: bytes, timestamp: str, signature: str, secrets: list[str],
                             tolerance: int = {SIGNATURE_TOLERANCE_SECONDS}) -> bool:
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    offered = [part.strip()[3:] for part in signature.split(",") if part.strip().startswith("v1=")]
    for secret in secrets:
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return True
    return False
```

Worked example — with the secret `{WEBHOOK_DOCS_SECRET}`, the timestamp `{WEBHOOK_DOCS_TIMESTAMP}` and this body
(one line, no spaces):

```
{WEBHOOK_DOCS_BODY.decode()}
```

the signed text is `{WEBHOOK_DOCS_TIMESTAMP}.` followed by the body, and the header is

```
X-Webhook-Signature: v1={WEBHOOK_DOCS_SIGNATURE}
```
"""


def postprocess_partner_docs(result, generator, request, public):
    """Append the partner chapter to the API's description (once)."""
    info = result.setdefault("info", {})
    description = info.get("description", "")
    if "## Partner API" not in description:
        info["description"] = description + PARTNER_DOCS
    return result
