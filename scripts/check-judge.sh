#!/usr/bin/env bash
# sigil-judge must stay pure (DESIGN §1): its normal dependency tree may hold
# no async runtime, HTTP client or TLS stack. (Its clippy.toml forbids file,
# environment, thread and clock calls; clippy runs in scripts/test.sh.)
#
# futures-io is allowed: sigstore-crypto names its AsyncRead traits and
# nothing in the judge runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

forbidden='^(tokio|tokio-.*|futures|futures-util|futures-executor|futures-channel|async-std|smol|mio|reqwest|hyper|hyper-.*|h2|h3|ureq|isahc|surf|curl|attohttpc|tower|tower-.*|axum|rustls|native-tls|openssl)$'
crates=$(cargo tree -p sigil-judge -e normal --prefix none --locked | awk '{print $1}' | sort -u)
found=$(grep -E "$forbidden" <<<"$crates" || true)
if [[ -n "$found" ]]; then
    echo "sigil-judge must not depend on an async runtime, HTTP client or TLS stack; found:" >&2
    for crate in $found; do
        echo "  $crate, through:" >&2
        cargo tree -p sigil-judge -e normal -i "$crate" --locked >&2
    done
    exit 1
fi
echo "sigil-judge: $(wc -l <<<"$crates") crates in its normal tree, none of them I/O"
