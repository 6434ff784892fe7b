"""Settings shared by every environment; each value can be set from the environment.

The embedded defaults (SQLite, eager Celery, console email) live in ``local.py``;
``production.py`` refuses to start without the secrets it needs.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from config.routers import NO_JIT, replica_database, with_session_options

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "core",
    "accounts",
    "merchants",
    "underwriting",
    "lending",
    "partners",
    "risk",
    # The sandbox rails (the bank and the platform played by tables): the demo and the tests; never production.
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.NulCharacterMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "core.middleware.RequestIdMiddleware",
    "accounts.middleware.StaffSecondFactorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"] = with_session_options(DATABASES["default"], NO_JIT)  # see config.routers.NO_JIT
# Read-only work (dashboards, stress runs, exports, monitoring) may read from "replica": a streaming replica when
# DATABASE_REPLICA_URL is set, the primary otherwise, always in read-only transactions on PostgreSQL. Nothing
# reads from it unless it asks by name (core.db.read_only); writes always go to the primary (config.routers).
DATABASES["replica"] = replica_database(
    DATABASES["default"], env.db("DATABASE_REPLICA_URL") if env("DATABASE_REPLICA_URL", default="") else None
)
DATABASE_ROUTERS = ["config.routers.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "merchants:dashboard"
LOGIN_URL = "account_login"

# Internationalisation: Simplified Chinese first, English second.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our own number formats first (Chinese pages group thousands too), then Django's.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media/"  # Never served directly: documents go through authorised views.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# Email.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="商户贷 Merchant Loans <no-reply@loanportal.example>")

# Cache: Redis when configured, which also backs login throttling across processes.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Celery.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
# Results are kept only where something waits for them: the chunks of a nightly run, whose chord records the run
# once every chunk has finished (a chord needs a result backend; core.checks says so when it is missing).
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TASK_IGNORE_RESULT = True
# The queue this deployment's tasks are sent to and its workers read (one Redis can serve several deployments).
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict = {
    "idempotency-keys-purge": {"task": "core.tasks.idempotency_keys_purge_task", "schedule": 60 * 60},
    "offers-expire": {"task": "lending.origination.tasks.offers_expire_task", "schedule": 60 * 60},
    "notices-email-unsent": {"task": "core.tasks.notices_email_unsent_task", "schedule": 10 * 60},
    # Nightly, in CELERY_TIMEZONE (Asia/Shanghai).
    "underwriting-preapproved-limits": {
        "task": "lending.origination.tasks.preapproved_limits_refresh_task",
        "schedule": crontab(hour=2, minute=0),
    },
    "lending-servicing-daily": {
        "task": "lending.servicing.tasks.servicing_daily_task",
        "schedule": crontab(hour=1, minute=0),
    },
    # After the nightly servicing job: each partner's settlement of the day before.
    "partners-settle-day": {
        "task": "partners.tasks.partners_settle_day_task",
        "schedule": crontab(hour=3, minute=0),
    },
    "disbursements-reconcile": {"task": "lending.origination.tasks.disbursements_reconcile_task", "schedule": 5 * 60},
    "collections-reconcile": {"task": "lending.servicing.tasks.collections_reconcile_task", "schedule": 5 * 60},
    "partner-offers-lapse": {"task": "partners.tasks.partner_offers_lapse_task", "schedule": 5 * 60},
    # Daily, ahead of the settlement feed: the sales history's monthly partitions exist before their first row.
    "merchants-sales-partitions": {
        "task": "merchants.tasks.sales_partitions_ensure_task",
        "schedule": crontab(hour=0, minute=30),
    },
    "applications-resume-stalled": {
        "task": "lending.origination.tasks.applications_resume_stalled_task",
        "schedule": 5 * 60,
    },
    # Partners' webhooks whose next attempt is due (retries with backoff, and any the broker missed at commit).
    "partner-webhooks-due": {"task": "partners.tasks.webhooks_due_task", "schedule": 60},
    # The risk firewall's watch, after servicing (01:00) and the limits (02:00) have run for the day.
    "risk-watch-after-payout": {"task": "risk.tasks.watch_after_payout_task", "schedule": crontab(hour=3, minute=0)},
    "risk-model-drift": {"task": "risk.tasks.model_drift_task", "schedule": crontab(hour=3, minute=30)},
    # Chunks of a nightly run that failed or whose worker died are run again; a run whose chunks are all done is
    # recorded (when its chord's last step was lost).
    "jobs-resume": {"task": "core.tasks.job_runs_resume_task", "schedule": 10 * 60},
    # After the servicing day (01:00) has counted days past due and defaulted loans.
    "insurance-claims-open": {
        "task": "partners.tasks.insurance_claims_open_task",
        "schedule": crontab(hour=1, minute=30),
    },
}
# Nightly jobs are cut into chunks of this many rows (loans, merchants) by primary key; each chunk is one task and
# one transaction. A failed chunk is tried again up to JOBS_CHUNK_MAX_ATTEMPTS times in all; one still running after
# JOBS_CHUNK_STALE_MINUTES is taken to have lost its worker and is run again (a chunk that is in fact still running
# holds its row lock, so the repeat waits for it and then finds it done).
JOBS_CHUNK_SIZE = env.int("JOBS_CHUNK_SIZE", default=2000)
JOBS_CHUNK_MAX_ATTEMPTS = env.int("JOBS_CHUNK_MAX_ATTEMPTS", default=3)
JOBS_CHUNK_STALE_MINUTES = env.int("JOBS_CHUNK_STALE_MINUTES", default=30)

# allauth: email as the login, verification by a code, passkeys for everyone.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_REAUTHENTICATION_REQUIRED = False
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# Failed logins are limited per IP and per account (allauth keeps the counters in the cache).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env("ACCOUNT_RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
    "login": "30/m/ip",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
}
# Behind a proxy the client's address is in X-Forwarded-For; without this every user shares one IP
# for the per-IP limits (allauth's failed-login limit and DRF's throttles).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_PASSKEY_SIGNUP_ENABLED = True
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False
# Staff must have a second factor (enforced by accounts.middleware) unless relaxed, as the demo does.
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=True)
# Staff add their first second factor only through a one-time link an administrator issues; it lasts this long.
STAFF_ENROLMENT_LINK_LIFETIME = timedelta(hours=env.int("STAFF_ENROLMENT_LINK_HOURS", default=24))
# While enrolling through such a link, the set-up pages stay open for this long.
STAFF_ENROLMENT_WINDOW = timedelta(minutes=30)

# Content-Security-Policy on every answer (django-csp): scripts only from the portal's own static files, no inline
# script, no eval, nothing from another site, never framed. Styles may be inline (Django's admin, Swagger UI and a
# few back-office templates use style attributes); a style cannot run code. An answer that sets its own policy
# (KYC documents: sandboxed) keeps it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# REST API.
# An API token answers for this long after it is issued; then the client signs in again for a new one.
API_TOKEN_LIFETIME = timedelta(days=env.int("API_TOKEN_LIFETIME_DAYS", default=30))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    # DRF's JSON parser with a nesting limit and no NUL characters; forms and multipart as DRF's defaults.
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.DefaultCursorPagination",
    "DEFAULT_THROTTLE_RATES": {
        "applications": env("API_RATE_APPLICATIONS", default="20/hour"),
        "applications_daily": env("API_RATE_APPLICATIONS_DAILY", default="100/day"),
    },
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "COERCE_DECIMAL_TO_STRING": True,
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0) or None,
    "EXCEPTION_HANDLER": "core.api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Merchant loan portal API",
    "DESCRIPTION": "Merchants, partner banks and officers use the same operations as the web portal.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The rail's callback is authenticated by its signature, not a token.
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "RailSignature": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Rail-Signature",
                "description": "sha256=<hex HMAC-SHA256 of '<X-Rail-Timestamp>.<raw body>' under the shared secret>",
            }
        }
    },
    "ENUM_NAME_OVERRIDES": {
        "ApplicationStateEnum": "lending.origination.models.ApplicationState",
        "LoanStateEnum": "lending.servicing.models.LoanState",
        "DisbursementStatusEnum": "lending.servicing.models.Disbursement.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.postprocess_error_responses",
        # The partner API's own chapter: authentication, request signing, webhooks with a verification example.
        "partners.api.schema.postprocess_partner_docs",
    ],
    # Swagger UI would otherwise send the schema's address to validator.swagger.io for its badge.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Domain settings.
# Above this amount a senior officer other than the approving officer must approve before funding.
FOUR_EYES_THRESHOLD = Decimal(env("FOUR_EYES_THRESHOLD", default="200000.00"))
# The rails money moves on (dotted paths). The sandbox's are for the demo and tests; `check --deploy` refuses them.
PAYOUT_ADAPTER = env("PAYOUT_ADAPTER", default="sandbox.rails.SandboxPayoutRail")
COLLECTION_ADAPTER = env("COLLECTION_ADAPTER", default="sandbox.rails.SandboxCollectionRail")
PAYOUT_SIMULATION = env("PAYOUT_SIMULATION", default="ok")  # ok | fail | timeout | timeout_after_paying
# How the sandbox settles a collection: manual (an officer confirms or fails it in the back office) | confirm | fail.
SANDBOX_COLLECTION_OUTCOME = env("SANDBOX_COLLECTION_OUTCOME", default="manual")
PAYOUT_RECONCILE_AFTER_MINUTES = env.int("PAYOUT_RECONCILE_AFTER_MINUTES", default=10)
COLLECTION_RECONCILE_AFTER_MINUTES = env.int("COLLECTION_RECONCILE_AFTER_MINUTES", default=10)
# The platform's rails (production): its API, the secret we sign our requests with, and the one it signs its
# callbacks with (the previous one is still accepted while rotating). Callbacks older than the window are refused.
PLATFORM_RAIL_URL = env("PLATFORM_RAIL_URL", default="")
PLATFORM_RAIL_SECRET = env("PLATFORM_RAIL_SECRET", default="")
PLATFORM_RAIL_TIMEOUT_SECONDS = env.float("PLATFORM_RAIL_TIMEOUT_SECONDS", default=10.0)
RAIL_CALLBACK_SECRET = env("RAIL_CALLBACK_SECRET", default="sandbox-callback-secret-not-for-production")
RAIL_CALLBACK_PREVIOUS_SECRET = env("RAIL_CALLBACK_PREVIOUS_SECRET", default="")
RAIL_CALLBACK_WINDOW_SECONDS = env.int("RAIL_CALLBACK_WINDOW_SECONDS", default=300)
# An officer's bank transfer above this amount books only when a second officer approves it.
BANK_TRANSFER_FOUR_EYES_AMOUNT = Decimal(env("BANK_TRANSFER_FOUR_EYES_AMOUNT", default="50000.00"))
# Underwriting: the credit line is a multiple of average monthly sales; above the ceiling an officer decides.
UNDERWRITING_LINE_MULTIPLE = Decimal(env("UNDERWRITING_LINE_MULTIPLE", default="1.5"))
UNDERWRITING_AUTO_APPROVE_CEILING = Decimal(env("UNDERWRITING_AUTO_APPROVE_CEILING", default="300000"))
UNDERWRITING_PREAPPROVAL_CAP = Decimal(env("UNDERWRITING_PREAPPROVAL_CAP", default="200000"))
MAX_OPEN_APPLICATIONS = env.int("MAX_OPEN_APPLICATIONS", default=1)
# Where the portal is reached, for full links in emails (empty: links are relative to the site).
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="")
CONTRACT_CONSENT_VERSION = env("CONTRACT_CONSENT_VERSION", default="2026-11")
PLATFORM_LEGAL_NAME = env("PLATFORM_LEGAL_NAME", default="示例支付科技有限公司 Example Payments Technology Co., Ltd.")
# The ceiling on the annualised all-in cost (APR, percent) of any loan: price grids, quotes, offers and
# restructures above it are refused. Penalty interest is at most 1.5 x the contract rate and late fees stay under it.
ANNUAL_COST_CEILING = Decimal(env("ANNUAL_COST_CEILING", default="24.00"))
# What the contract says of the lender and of disputes. The demo values are fictional; production requires real ones.
LENDER_REGISTERED_ADDRESS = env("LENDER_REGISTERED_ADDRESS", default="")
LENDER_REGISTRATION_NUMBER = env("LENDER_REGISTRATION_NUMBER", default="")
DISPUTE_RESOLUTION_VENUE = env("DISPUTE_RESOLUTION_VENUE", default="")
KYC_DOCUMENT_MAX_BYTES = env.int("KYC_DOCUMENT_MAX_BYTES", default=8 * 1024 * 1024)
# Images are refused above this many pixels, read from the file's header before anything is decoded; Pillow's own
# limit (Image.MAX_IMAGE_PIXELS) is set to the same number at start-up. 25 MP is a 6000 x 4000 photo (75 MB decoded).
KYC_IMAGE_MAX_PIXELS = env.int("KYC_IMAGE_MAX_PIXELS", default=25_000_000)
SALES_CSV_MAX_BYTES = env.int("SALES_CSV_MAX_BYTES", default=5 * 1024 * 1024)
# How many months ahead of this one the sales history's partitions are created (PostgreSQL; see
# merchants.services.sales_partitions). A row for a month without one is kept in the default partition.
SALES_PARTITION_MONTHS_AHEAD = env.int("SALES_PARTITION_MONTHS_AHEAD", default=3)
OCR_ENABLED = env.bool("OCR_ENABLED", default=True)
OCR_TIMEOUT_SECONDS = env.int("OCR_TIMEOUT_SECONDS", default=30)
# Partners' webhooks: how they are sent (a dotted path to a callable; the sandbox partner's in the demo), how long one
# request may take, how long a failing event is retried, and how long a rotated-out secret still signs.
PARTNER_WEBHOOK_TRANSPORT = env("PARTNER_WEBHOOK_TRANSPORT", default="partners.services.webhooks.requests_transport")
PARTNER_WEBHOOK_TIMEOUT_SECONDS = env.float("PARTNER_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
PARTNER_WEBHOOK_RETRY_HOURS = env.int("PARTNER_WEBHOOK_RETRY_HOURS", default=24)
PARTNER_WEBHOOK_ROTATION_HOURS = env.int("PARTNER_WEBHOOK_ROTATION_HOURS", default=72)
# Risk firewall: fraud watched after payout (``risk.selectors.watch_settings`` checks every one at start-up). A funded
# merchant's platform sales since the payout (the last RISK_WATCH_AFTER_DAYS days, once at least
# RISK_WATCH_MIN_DAYS_AFTER_PAYOUT have passed) are compared with its own RISK_WATCH_BASELINE_DAYS before it (needing
# RISK_WATCH_BASELINE_MIN_DAYS reported days).
RISK_WATCH_BASELINE_DAYS = env.int("RISK_WATCH_BASELINE_DAYS", default=90)
RISK_WATCH_BASELINE_MIN_DAYS = env.int("RISK_WATCH_BASELINE_MIN_DAYS", default=30)
RISK_WATCH_AFTER_DAYS = env.int("RISK_WATCH_AFTER_DAYS", default=30)
RISK_WATCH_MIN_DAYS_AFTER_PAYOUT = env.int("RISK_WATCH_MIN_DAYS_AFTER_PAYOUT", default=14)
# Loan-and-run: average daily sales since the payout below this fraction of the average before it.
RISK_WATCH_SALES_COLLAPSE_RATIO = Decimal(env("RISK_WATCH_SALES_COLLAPSE_RATIO", default="0.40"))
# Refunds spiking: refunds since the payout at least this share of sales, and this many times the share before it.
RISK_WATCH_REFUND_SPIKE_MIN_RATIO = Decimal(env("RISK_WATCH_REFUND_SPIKE_MIN_RATIO", default="0.10"))
RISK_WATCH_REFUND_SPIKE_FACTOR = Decimal(env("RISK_WATCH_REFUND_SPIKE_FACTOR", default="3"))
# Dormant: no platform sales at all for this many days, the payout being older than that.
RISK_WATCH_DORMANT_DAYS = env.int("RISK_WATCH_DORMANT_DAYS", default=14)
# A dismissed alert is raised again for the same loan and kind only if it still holds this many days later.
RISK_WATCH_REALERT_DAYS = env.int("RISK_WATCH_REALERT_DAYS", default=30)
# Model governance: the daily population stability of the active scorecard's score and features over the last
# RISK_DRIFT_WINDOW_DAYS of decisions; above RISK_DRIFT_PSI_THRESHOLD the risk managers get a drift alert.
RISK_DRIFT_PSI_THRESHOLD = Decimal(env("RISK_DRIFT_PSI_THRESHOLD", default="0.25"))
RISK_DRIFT_WINDOW_DAYS = env.int("RISK_DRIFT_WINDOW_DAYS", default=30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# Stress tests: how many loans each Celery task of a run sums over (a run is cut into chunks of loan ids). Each chunk
# reads its instalments by an index range: fewer, larger chunks cost less in all; smaller ones spread over more
# workers. bench/stress.py measures the default.
STRESS_CHUNK_SIZE = env.int("STRESS_CHUNK_SIZE", default=25000)
