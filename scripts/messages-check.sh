#!/usr/bin/env bash
# Every string of the portal has its Simplified Chinese translation: the strings are extracted from the code again
# (as `makemessages` does) into the catalogue, which must then hold no untranslated and no fuzzy entry (Django shows
# a fuzzy one in English). The catalogue is put back as it was afterwards, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
po=locale/zh_Hans/LC_MESSAGES/django.po
backup=$(mktemp)
cp "$po" "$backup"
trap 'cp "$backup" "$po"; rm -f "$backup"' EXIT

DATABASE_URL=sqlite://:memory: .venv/bin/python manage.py makemessages -l zh_Hans \
  --ignore '.venv/*' --ignore 'bench/*' -v 0
statistics=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$po" 2>&1) || {
  echo "zh_Hans: the catalogue does not compile: $statistics" >&2
  exit 1
}
echo "zh_Hans: $statistics"
if grep -qE 'fuzzy|untranslated' <<<"$statistics"; then
  echo "Strings without a Chinese translation (translate them in $po, or run makemessages and fill them in):" >&2
  # Each listing opens with the catalogue's header entry: left out.
  msgattrib --untranslated --no-fuzzy --no-location "$po" | sed '1,/^$/d' >&2
  msgattrib --only-fuzzy --no-location "$po" | sed '1,/^$/d' >&2
  exit 1
fi
