from lending.catalogue.admin import products  # noqa: F401
