from merchants.admin import merchants  # noqa: F401
