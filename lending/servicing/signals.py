"""What servicing tells the layers above it, inside the transaction that makes the change.

Lending never imports the apps above it; they listen here. A receiver runs in the sender's transaction, so what
it writes (a partner's distribution, a webhook's outbox row) commits or rolls back with the change itself.
"""

from django.dispatch import Signal

# Allocations were added to a loan's payments: a payment booked through the waterfall, held credit spent, or
# interest paid ahead credited back. Sent once per service call with ``loan`` (locked) and ``on`` (a date).
allocations_booked = Signal()

# Loans moved between states by the daily job, in one batch: ``action`` (an audit action such as
# "loan.mark_overdue" or "loan.default"), ``loan_ids`` and ``on``.
loans_transitioned = Signal()

# A loan's payout was confirmed by the rail and the loan is now active: ``loan`` (locked) and ``paid_on``.
loan_activated = Signal()
