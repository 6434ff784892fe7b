"""Lending: one Django app (label ``lending``) in three bounded contexts, each laid out like every other app.

- ``catalogue``: loan products, the pure money engine (``catalogue.money``), quotes and the public calculator.
- ``origination``: applications, offers, contracts and signing, funding and payouts; the officers' referral and
  four-eyes pages.
- ``servicing``: loans, instalments, payments and the waterfall, the daily jobs, deferrals, restructures,
  collections, statements, and the money rails (payouts out, collections in).

Dependencies point one way: origination → servicing → catalogue → underwriting → merchants → accounts/core.
The contexts are packages of the one app rather than apps of their own, so tables, content types, permission names
and the audit trail's references keep the names they have always had, and the migrations stay one history.
"""
