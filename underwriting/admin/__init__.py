from underwriting.admin import engine, fraud, monitoring  # noqa: F401
