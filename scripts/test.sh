#!/usr/bin/env bash
# Runs every check sigil's CI runs, installing what is missing first.
#   scripts/test.sh            format, lints, all tests
# Needs: the Rust toolchain (with the nightly toolchain for the fuzz smoke run;
# cargo-fuzz is installed when missing); installs the Debian packages
# docker-registry and skopeo (the real registry and the interop peer the
# end-to-end tests use) and kubernetes-client (kubectl, which renders
# deploy/kubernetes offline for tests/e2e/deploy.rs) and podman (a real client
# pulling through the registry gate, tests/e2e/gate.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
if ((${#need_apt[@]})); then
  echo "installing ${need_apt[*]} (Debian packages) ..." >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 -c 'import sigstore' 2>/dev/null || python3 -m pip install -q "sigstore>=4,<5"  # the verify-bundle peer (tests/e2e/verify_bundle.rs); it brings python-tuf, which writes the independent TUF repository of tests/e2e/trust.rs

# sigstore-js (@sigstore/verify), the second independent verifier of tests/e2e/sigstore_instance.rs (Node 20+)
npm ci --prefix tests/js --no-audit --no-fund >/dev/null

cargo fmt --all --check
scripts/check-judge.sh
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# Fuzz smoke: every parser target, a fixed number of runs from its seeds and
# past findings (fuzz/README.md). The differential target checks agreement
# (sigil and sigstore-rust never read a bundle both accept differently);
# inputs only sigil accepts are refused by sigstore-rust, so they fail closed.
SIGIL_FUZZ_AGREEMENT_ONLY=1 scripts/fuzz.sh smoke
