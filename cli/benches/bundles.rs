//! Benchmark: Sigstore bundles verified per second in one process, sigil's
//! library against the Python `sigstore` verifier (4.x) on the same
//! production bundles with the same public-good trusted root, offline, in
//! the same run; prints both rates and their ratio.
//!
//!     cargo bench -p sigil --bench bundles            # 2000 rounds
//!     cargo bench -p sigil --bench bundles -- 500     # another count
//!
//! The bundles are the four that both verifiers accept (sigstore-python
//! refuses v0.1 bundles without an inclusion proof and intoto entries): each
//! is parsed from bytes and fully verified on every call (DSSE, no subject
//! check, as Python's `verify_dsse`). sigil is measured twice: cold (the
//! result memo cleared before every call, so every signature is checked)
//! and warm (the memo kept, as an admission controller seeing the same
//! evidence again). Figures are recorded in docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sigil_verifier::sigstore::{IdentityPolicy, Matcher, Signatory, TrustedRoot, clear_memo, verify_bundle};

const BUNDLES: [(&str, &str, &str); 4] = [
    (
        "sigstore-js/bundleV01-dsse-with-proof.sigstore",
        "brian@dehamer.com",
        "https://github.com/login/oauth",
    ),
    (
        "sigstore-js/bundleV02-dsse.sigstore",
        "brian@dehamer.com",
        "https://github.com/login/oauth",
    ),
    (
        "sigstore-js/bundleV03-dsse.sigstore",
        "brian@dehamer.com",
        "https://github.com/login/oauth",
    ),
    (
        "cosign/oci-attestation.sigstore.json",
        "cody@soyland.com",
        "https://github.com/login/oauth",
    ),
];

const PYTHON: &str = r#"
import sys, time
from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier, policy
verifier = Verifier(trusted_root=TrustedRoot.from_file(sys.argv[1]))
items = []
for arg in sys.argv[3:]:
    path, identity, issuer = arg.split("|")
    items.append((open(path).read(), policy.Identity(identity=identity, issuer=issuer)))
for text, pol in items:
    verifier.verify_dsse(Bundle.from_json(text), pol)
rounds = int(sys.argv[2])
start = time.perf_counter()
for _ in range(rounds):
    for text, pol in items:
        verifier.verify_dsse(Bundle.from_json(text), pol)
print(rounds * len(items), time.perf_counter() - start)
"#;

fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(path)
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    let root = TrustedRoot::public_good();
    let items: Vec<(Vec<u8>, Signatory)> = BUNDLES
        .iter()
        .map(|(path, identity, issuer)| {
            let bytes = std::fs::read(testdata(&format!("bundles/shared/{path}"))).expect("bundle");
            let who = Signatory::Identity(IdentityPolicy::new(Matcher::exact(*identity), Matcher::exact(*issuer)));
            (bytes, who)
        })
        .collect();
    let run = |rounds: usize, cold: bool| {
        let start = Instant::now();
        for _ in 0..rounds {
            for (bytes, who) in &items {
                if cold {
                    clear_memo();
                }
                verify_bundle(bytes, None, who, root).expect("production bundle verifies");
            }
        }
        (rounds * items.len()) as f64 / start.elapsed().as_secs_f64()
    };
    run(10, true);
    let cold = run(rounds / 4, true);
    let warm = run(rounds, false);

    let python_rounds = (rounds / 20).max(20);
    let mut python = Command::new("python3");
    python
        .current_dir(testdata("bundles/shared"))
        .args(["-c", PYTHON])
        .arg(testdata("trust/trusted_root.json"))
        .arg(python_rounds.to_string())
        .args(BUNDLES.iter().map(|(p, i, u)| format!("{p}|{i}|{u}")));
    let out = python.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "the Python sigstore verifier failed (pip install \"sigstore>=4,<5\"): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().expect("number"));
    let (count, seconds) = (fields.next().expect("count"), fields.next().expect("seconds"));
    let py = count / seconds;

    println!(
        "bundles verified per second, one process, {} production bundles:",
        items.len()
    );
    println!(
        "  sigil, cold (every signature checked): {cold:>10.0}/s  {:>8.1} µs each",
        1e6 / cold
    );
    println!(
        "  sigil, warm (result memo):             {warm:>10.0}/s  {:>8.1} µs each",
        1e6 / warm
    );
    println!(
        "  sigstore-python 4.x verify_dsse:       {py:>10.0}/s  {:>8.1} µs each",
        1e6 / py
    );
    println!("  ratio cold: {:.1}x   ratio warm: {:.1}x", cold / py, warm / py);
}
