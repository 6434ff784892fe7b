"""The lending app's back office, for Django's admin: each bounded context registers its own pages."""

from lending.catalogue import admin as catalogue_admin
from lending.origination import admin as origination_admin
from lending.servicing import admin as servicing_admin

__all__ = ["catalogue_admin", "origination_admin", "servicing_admin"]
