"""A loan's life after payout: schedules, payments and the waterfall, daily jobs, deferrals, restructures,
collections, statements, and the rails money moves through.
"""
