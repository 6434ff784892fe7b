"""From a merchant's application to a loan paid out: decisions, offers, contracts and signing, funding, payouts."""
