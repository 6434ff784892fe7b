"""Celery entry points of lending, one module per stage; thin: each calls a service."""

from lending.tasks.applications import *  # noqa: F403
from lending.tasks.contracts import *  # noqa: F403
from lending.tasks.funding import *  # noqa: F403
from lending.tasks.repayments import *  # noqa: F403
from lending.tasks.servicing import *  # noqa: F403
