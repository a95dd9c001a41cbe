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
//! is parsed from bytes and fully verified on every call (DSSE, bound to its
//! statement's subject as an image digest, as sigil binds every bundle). sigil is measured cold (the result memo
//! off, so every signature is checked) on one thread and on every core, and
//! warm (the memo on, as an admission controller seeing the same evidence
//! again). The run also times the signature checks alone (one P-384 and four
//! P-256 ECDSA verifications, what a keyless bundle needs at least), the
//! floor under any verifier on this machine; cold and floor are timed in
//! alternating slices, best slice kept, and their ratio printed. Figures
//! are recorded in docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use sigil_verifier::bundle::Bundle;
use sigil_verifier::digest::Digest;
use sigil_verifier::intoto::Statement;
use sigil_verifier::sigstore::{
    Artifact, IdentityPolicy, Matcher, Signatory, TrustedRoot, set_memo_enabled, verify_bundle,
};

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

/// The digest (sha256, else sha512) of a DSSE bundle's first statement
/// subject: what the caller (who knows the image) would pass as the artifact.
/// The sigstore-js bundles name their subject by sha512 only.
fn statement_subject(bundle: &[u8]) -> Digest {
    let envelope = Bundle::parse(bundle).expect("bundle").dsse_envelope.expect("dsse");
    let statement = Statement::parse(&envelope.payload_bytes().expect("payload")).expect("statement");
    let digests = &statement.subject[0].digest;
    let (algorithm, hex) = ["sha256", "sha512"]
        .into_iter()
        .find_map(|a| digests.get(a).map(|hex| (a, hex)))
        .expect("a sha256 or sha512 subject");
    format!("{algorithm}:{hex}").parse().expect("digest")
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    let root = TrustedRoot::public_good();
    let now = time::OffsetDateTime::now_utc();
    let items: Vec<(Vec<u8>, Signatory, Digest)> = BUNDLES
        .iter()
        .map(|(path, identity, issuer)| {
            let bytes = std::fs::read(testdata(&format!("bundles/shared/{path}"))).expect("bundle");
            let who = Signatory::Identity(IdentityPolicy::new(Matcher::exact(*identity), Matcher::exact(*issuer)));
            let subject = statement_subject(&bytes);
            (bytes, who, subject)
        })
        .collect();
    let run = |rounds: usize| {
        let start = Instant::now();
        for _ in 0..rounds {
            for (bytes, who, subject) in &items {
                verify_bundle(bytes, Artifact::Digest(subject.clone()), who, root, now)
                    .expect("production bundle verifies");
            }
        }
        (rounds * items.len()) as f64 / start.elapsed().as_secs_f64()
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let run_parallel = |rounds: usize| {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| run(rounds / threads));
            }
        });
        (rounds / threads * threads * items.len()) as f64 / start.elapsed().as_secs_f64()
    };
    set_memo_enabled(false);
    run(10);
    // Cold and floor alternate in short slices and each keeps its best
    // slice, so that both are measured under the same load: on a shared
    // machine one long slice of each can see very different neighbours.
    let slices = 8;
    let (mut cold, mut floor) = (0f64, 0f64);
    let mut ratios = Vec::new();
    for _ in 0..slices {
        let c = run((rounds / 4 / slices).max(1));
        let f = signature_floor((rounds / 4 / slices).max(1));
        ratios.push(f / c);
        cold = cold.max(c);
        floor = floor.max(f);
    }
    ratios.sort_by(f64::total_cmp);
    let median_ratio = ratios[ratios.len() / 2];
    let cold_parallel = run_parallel(rounds / 4);
    set_memo_enabled(true);
    let warm = run(rounds);

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
    let row = |what: &str, rate: f64| println!("  {what:<44} {rate:>10.0}/s  {:>8.1} µs each", 1e6 / rate);
    row("sigil, cold, 1 thread (every signature):", cold);
    row(&format!("sigil, cold, {threads} threads:"), cold_parallel);
    row("sigil, warm (result memo):", warm);
    row("sigstore-python 4.x verify_dsse:", py);
    row("floor: 1 P-384 + 4 P-256 ECDSA verifies:", floor);
    println!(
        "  ratio cold: {:.1}x   cold, {threads} threads: {:.1}x   warm: {:.1}x   floor: {:.1}x",
        cold / py,
        cold_parallel / py,
        warm / py,
        floor / py
    );
    println!(
        "  cold, 1 thread, against the floor: {:.2}x (best slices), {:.2}x (median of {slices} paired slices)",
        floor / cold,
        median_ratio
    );
}

/// Bundles per second if verifying one cost nothing but its signature
/// checks: one P-384 (the leaf under Fulcio's intermediate) and four P-256
/// (signature, SET, checkpoint, SCT) ECDSA verifications, with aws-lc-rs.
fn signature_floor(rounds: usize) -> f64 {
    let rng = SystemRandom::new();
    let message = b"sigstore bundle";
    let signed = |signing: &'static signature::EcdsaSigningAlgorithm,
                  verifying: &'static signature::EcdsaVerificationAlgorithm| {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).expect("key");
        let sig = pair.sign(&rng, message).expect("sign");
        let public = signature::UnparsedPublicKey::new(verifying, pair.public_key().as_ref().to_vec());
        (public, sig.as_ref().to_vec())
    };
    let p384 = signed(
        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        &signature::ECDSA_P384_SHA384_ASN1,
    );
    let p256 = signed(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &signature::ECDSA_P256_SHA256_ASN1,
    );
    let start = Instant::now();
    for _ in 0..rounds {
        p384.0.verify(message, &p384.1).expect("verifies");
        for _ in 0..4 {
            p256.0.verify(message, &p256.1).expect("verifies");
        }
    }
    rounds as f64 / start.elapsed().as_secs_f64()
}
