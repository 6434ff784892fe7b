"""Production: every secret comes from the environment; nothing here has a production default."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Production runs behind one reverse proxy unless told otherwise.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": ALLAUTH_TRUSTED_PROXY_COUNT}

# The contract names the lender's registered address and number and the dispute venue: no default here.
LENDER_REGISTERED_ADDRESS = env("LENDER_REGISTERED_ADDRESS")
LENDER_REGISTRATION_NUMBER = env("LENDER_REGISTRATION_NUMBER")
DISPUTE_RESOLUTION_VENUE = env("DISPUTE_RESOLUTION_VENUE")

# The platform's own rails; the sandbox app (its tables and admin) does not exist in production.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "sandbox"]
PAYOUT_ADAPTER = env("PAYOUT_ADAPTER", default="lending.servicing.services.rails.PlatformPayoutRail")
COLLECTION_ADAPTER = env("COLLECTION_ADAPTER", default="lending.servicing.services.rails.PlatformWithholdingRail")
PLATFORM_RAIL_URL = env("PLATFORM_RAIL_URL")
PLATFORM_RAIL_SECRET = env("PLATFORM_RAIL_SECRET")
RAIL_CALLBACK_SECRET = env("RAIL_CALLBACK_SECRET")
