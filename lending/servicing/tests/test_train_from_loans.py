import pytest
from django.core.management import CommandError, call_command

from lending.catalogue.tests.factories import LoanProductFactory
from lending.origination.services.funding import application_fund, disbursement_send
from lending.origination.tests.factories import signed_application


def test_training_from_loans_reads_lendings_loans_and_says_when_none_is_old_enough(db, merchant):
    loan = application_fund(application=signed_application(merchant, LoanProductFactory()))
    disbursement_send(disbursement_id=loan.disbursement.pk)

    # A loan paid out today has neither defaulted nor been on the books for a year: nothing to learn from yet.
    with pytest.raises(CommandError, match="none has defaulted or been on the books for 12 months"):
        call_command("train_scorecard", "--from-loans", "--target", "defaulted")
