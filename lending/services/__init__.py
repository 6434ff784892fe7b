"""Lending services, one module per stage: applications, contracts, funding (loans and payouts)."""
