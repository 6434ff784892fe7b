# Chinese pages group thousands with a comma, as Chinese business documents and the portal's English pages do
# ("300,000.00 元"); Django's zh_Hans formats group nothing (and by ten thousands when asked). Everything else is
# Django's own zh_Hans formats.
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
