#!/usr/bin/env bash
# Make sure the Debian packages the portal needs are present: WeasyPrint's font subsetting and CJK
# fonts, tesseract with Simplified Chinese, Chromium for browser tests, gettext for translations and
# libpq for psycopg2. As root on Debian they are installed; anyone else is told the exact command.
set -euo pipefail

packages=(libharfbuzz-subset0 fonts-noto-cjk tesseract-ocr tesseract-ocr-chi-sim chromium gettext libpq-dev poppler-utils)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

echo "These Debian packages are needed:" >&2
echo "  sudo apt-get install -y ${missing[*]}" >&2
exit 1
