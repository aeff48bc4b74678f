#!/usr/bin/env bash
# Run every `crm ...` example of README.md, in order, against a throwaway demo database.
# Usage: scripts/readme_examples.sh [WORKDIR]   (default: a new temporary directory)
# Prints one line per example: exit code, the command, and the first line of stderr.
# Paths such as ~/ and /srv/ are redirected into WORKDIR; small input files are created there.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work/srv/reports" "$work/srv/erp/in" "$work/srv/erp/out" "$work/srv/dw/crm" \
  "$work/srv/share" "$work/mnt/nas/crm" "$work/mail"
export PATH="$here/.venv/bin:$PATH" CRM_DB="$work/demo.db" CRM_TZ=Asia/Shanghai
export CRM_CONFIG="$work/config.toml" CRM_OUTBOX="$work/outbox" HOME="$work"
cd "$work" || exit 1
rm -f demo.db demo.db-wal demo.db-shm
crm demo --customers 500 >/dev/null || { echo "demo failed" >&2; exit 1; }

# Input files the examples name.
printf 'name,phone,email,tags\nAda Lovelace,13800138001,ada@example.com,vip\nNo Email,,bad@,\n' > leads.csv
printf 'external_id,name,email\nX-1,Erp One,erp1@example.com\n' > erp.csv
printf '客户代码,姓名,电话\nG-1,王芳,13900139000\n' | iconv -f utf-8 -t gbk > 客户.csv
cp erp.csv srv/erp/out/customers.csv
printf 'Hello, please send a quote.\n' > mail.txt
printf '# Meeting notes\nAgreed on price.\n' > notes.md
ext=$(crm --format json customer show 42 | python3 -c 'import json,sys; print(json.load(sys.stdin)["external_id"] or "")')
printf 'customer_external_id,occurred_at,channel,direction,subject\n%s,2024-03-05 14:30,phone,inbound,hi\n' \
  "$ext" > calls.csv
printf 'customer_external_id,subject,status,priority,created_at\n%s,Parcel lost,open,high,2024-03-01 10:00\n' \
  "$ext" > tickets.csv
printf 'external_id,customer_external_id,ordered_at,amount,currency\nSO-9,%s,2024-05-01,99.00,CNY\n' \
  "$ext" > erp_orders.csv
{ echo customer_id,result,revenue; for i in $(seq 1 500); do echo "$i,success,10"; done; } \
  > responses.csv   # the campaign's members are recorded, everybody else rejected
cat > mail/clients.mbox <<'MBOX'
From a@example.org Mon Mar  4 10:00:00 2024
From: Somebody <somebody@example.org>
To: sales@example.com
Subject: Hello
Date: Mon, 4 Mar 2024 10:00:00 +0800
Message-ID: <1@example.org>

Hi there.
MBOX
cp mail/clients.mbox inbox.mbox
mkdir -p Downloads/eml
printf 'BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:u1\nDTSTART:20240305T020000Z\nDTEND:20240305T030000Z\nSUMMARY:Review\nORGANIZER:mailto:me@example.com\nATTENDEE:mailto:ada@example.com\nEND:VEVENT\nEND:VCALENDAR\n' > team.ics
cp team.ics export.ics

# Extract the examples: lines of ```sh blocks that start with crm, CRM_MASK=1 crm or id=$(crm;
# a line ending in a backslash is joined with the next one.
awk '/^```sh/{b=1;next} /^```/{b=0} b' "$here/README.md" \
  | awk '{ if (sub(/\\$/, "")) { buf = buf $0; next } print buf $0; buf = "" }' \
  | sed -e 's/[[:space:]]\+#.*$//' \
  | grep -E '^(crm |CRM_MASK=1 crm |id=\$\(crm )' \
  | sed -e "s#~/#$work/#g" -e "s# /srv/# $work/srv/#g" -e "s# /mnt/# $work/mnt/#g" \
  > examples.txt

# One shell runs them all in order, so `id=$(crm ...)` carries over to the next lines.
{
  echo 'fails=0'
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    printf '{ %s ; } </dev/null >out.txt 2>err.txt\n' "$line"
    printf 'rc=$?; printf "%%s\\t%%s\\t%%s\\n" "$rc" %q "$(grep -m1 -E "^(Error|Usage)" err.txt)"\n' "$line"
    echo '[ "$rc" -ne 0 ] && fails=$((fails + 1))'
  done < examples.txt
  echo 'echo "non-zero exits: $fails (several are expected: see the comment on each in README.md)" >&2'
} > examples.sh
bash examples.sh
