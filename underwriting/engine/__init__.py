"""The decision engine: a decision (``decision``) from the merchant's features, the policy rules (``rules``) and a
scorecard (``scoring``). It reads through the selectors and writes nothing; the services store what it decides.
"""
