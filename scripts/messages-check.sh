#!/usr/bin/env bash
# Every string of the portal has its Simplified Chinese translation: the strings are extracted from the code again
# (as `makemessages` does) into the catalogue, which must then hold no untranslated and no fuzzy entry (Django shows
# a fuzzy one in English), and must keep every message the committed catalogue has: one the code no longer has would
# be dropped from the next compiled catalogue, and a stored notice written with it would no longer change language
# (keep such a message in ``core.i18n.RETIRED_MESSAGES``). The catalogue is put back as it was afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
po=locale/zh_Hans/LC_MESSAGES/django.po
backup=$(mktemp)
cp "$po" "$backup"
trap 'cp "$backup" "$po"; rm -f "$backup"' EXIT

# The active (not obsolete) messages of a catalogue: each one's context and msgid on one line, sorted.
active_messages() {
  msgattrib --no-obsolete --no-location --no-wrap "$1" | sed '1,/^$/d' |
    awk '/^msgstr/ { if (id != "") print id; id = ""; keep = 0; next }
         /^msgctxt|^msgid / { keep = 1 }
         /^#/ || /^$/ { keep = 0 }
         keep { id = id $0 }' | sort
}
before=$(active_messages "$po")

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
dropped=$(comm -23 <(printf '%s\n' "$before") <(active_messages "$po"))
if [ -n "$dropped" ]; then
  echo "The code no longer has these messages of $po: run makemessages and commit the catalogue, keeping in" >&2
  echo "core.i18n.RETIRED_MESSAGES any that stored rows (notices, reasons) may still hold:" >&2
  printf '%s\n' "$dropped" >&2
  exit 1
fi
