"""The lending app's models, for Django's registry: each bounded context defines its own.

Code imports a model from its context (``lending.catalogue.models``, ``lending.origination.models``,
``lending.servicing.models``); this module only makes sure Django loads all three under the one ``lending`` label,
so tables, content types, permissions and the audit trail keep the names they have always had.
"""

from lending.catalogue import models as catalogue_models
from lending.origination import models as origination_models
from lending.servicing import models as servicing_models

__all__ = ["catalogue_models", "origination_models", "servicing_models"]
