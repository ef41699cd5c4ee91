#!/usr/bin/env bash
# Build the published rulebook strictly, then look at it as a reader would: serve the site, open the
# home page and one rule page in headless Chromium, check the DOM for the rule text and navigation,
# and keep screenshots under artifacts/.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-}
if [[ -z "$PY" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi
export NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true PYTHONDONTWRITEBYTECODE=1
SITE="$ROOT/site"
ART="$ROOT/artifacts"
mkdir -p "$ART"

echo "docs: mkdocs build --strict"
start=$(date +%s)
rc=0
"$PY" -m mkdocs build --strict -d "$SITE" >"$ART/docs-build.log" 2>&1 || rc=$?
grep -Ev '^\s*$' "$ART/docs-build.log" | tail -n 40 || true
if [[ $rc -ne 0 ]]; then
  echo "docs: build failed (see $ART/docs-build.log)" >&2
  exit "$rc"
fi
echo "docs: built in $(( $(date +%s) - start )) s"

# The rule page to open: the first rule of the registry (every rule has a page).
RULE_ID=$("$PY" -c 'from hedgespec.spec.rulebook import all_rules; print(sorted(r.id for r in all_rules())[0])')
RULE_TEXT=$("$PY" -c "
from hedgespec.spec.rulebook import all_rules
rule = next(r for r in all_rules() if r.id == '$RULE_ID')
print(rule.statement[:60])")
for page in index.html "rules/$RULE_ID/index.html"; do
  [[ -f "$SITE/$page" ]] || { echo "docs: $page missing from the site" >&2; exit 1; }
done

CHROMIUM=${CHROMIUM:-}
if [[ -z "$CHROMIUM" ]]; then
  for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
    [[ -x "$candidate" ]] && CHROMIUM=$candidate && break
  done
fi
if [[ -z "$CHROMIUM" ]]; then
  echo "docs: installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
  CHROMIUM=/usr/bin/chromium
fi

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$PY" -m http.server "$PORT" --bind 127.0.0.1 --directory "$SITE" >"$ART/docs-http.log" 2>&1 &
SERVER=$!
PROFILES=()
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  for d in "${PROFILES[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
for _ in $(seq 50); do
  "$PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/')" 2>/dev/null && break
  sleep 0.1
done

browse() {  # browse URL DOM_OUT [SCREENSHOT]
  local url=$1 dom=$2 shot=${3:-} profile
  profile=$(mktemp -d)
  PROFILES+=("$profile")
  local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
               --disable-component-update --disable-sync --user-data-dir="$profile" --window-size=1280,900)
  timeout 90 "$CHROMIUM" "${flags[@]}" --dump-dom "$url" >"$dom" 2>>"$ART/docs-chromium.log"
  if [[ -n "$shot" ]]; then
    timeout 90 "$CHROMIUM" "${flags[@]}" --hide-scrollbars --screenshot="$shot" "$url" \
      >>"$ART/docs-chromium.log" 2>&1
    [[ -s "$shot" ]] || { echo "docs: no screenshot for $url" >&2; exit 1; }
  fi
}

BASE="http://127.0.0.1:$PORT"
browse "$BASE/" "$ART/docs-home.html" "$ART/docs-home.png"
browse "$BASE/rules/$RULE_ID/" "$ART/docs-rule.html" "$ART/docs-rule.png"
browse "$BASE/hedge-mode/" "$ART/docs-hedge-mode.html" "$ART/docs-hedge-mode.png"

"$PY" - "$ART" "$RULE_ID" "$RULE_TEXT" <<'PYEOF'
import html
import re
import sys
from pathlib import Path

art, rule_id, rule_text = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
failures = []


def text_of(dom: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))


def need(page: str, dom: str, what: str, ok: bool) -> None:
    if not ok:
        failures.append(f"{page}: {what}")


home = (art / "docs-home.html").read_text(encoding="utf-8")
rule = (art / "docs-rule.html").read_text(encoding="utf-8")
guide = (art / "docs-hedge-mode.html").read_text(encoding="utf-8")
for name, dom in (("home", home), ("rule", rule), ("hedge-mode", guide)):
    need(name, dom, "Material navigation rendered", 'class="md-nav' in dom)
    need(name, dom, "nav links to the rule catalogue", 'href="' in dom and "rules/" in dom)
    need(name, dom, "nav lists the rules", "HM-NET-001" in text_of(dom))
need("home", home, "title", "the hedge-mode rulebook" in text_of(home))
need("home", home, "autoref to HM-NET-001 resolved", re.search(r'href="[^"]*rules/HM-NET-001/#HM-NET-001"', home))
need("rule", rule, f"heading anchor {rule_id}", f'id="{rule_id}"' in rule)
need("rule", rule, "statement text", " ".join(rule_text.split()) in text_of(rule))
for section in ("Statement", "Rationale", "Sources", "Check", "Verification"):
    need("rule", rule, f"section {section}", f">{section}<" in rule or f"{section}" in text_of(rule))
need("hedge-mode", guide, "worked example tables", guide.count("<table") >= 3)
need("hedge-mode", guide, "charts", "legs-margin.svg" in guide and "account-equity.svg" in guide)
if failures:
    print("docs: reader check failed:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
print("docs: reader check passed (home, rule page, hedge-mode guide); screenshots in artifacts/")
PYEOF
