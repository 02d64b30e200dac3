#!/usr/bin/env bash
# Debian packages some tests drive for real (a browser for the dashboard, Slurm,
# sshd, ip). Installed only when a command is missing and we are root with apt;
# elsewhere the tests that need them say what is missing.
set -euo pipefail
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || exit 0
missing=()
while read -r command package; do
    case "$command" in ''|'#'*) continue ;; esac
    command -v "$command" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$command" >/dev/null 2>&1 || missing+=("$package")
done < system-packages.txt
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
