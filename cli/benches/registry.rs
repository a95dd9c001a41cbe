//! Benchmark: sign then verify many distinct images in a local registry
//! (CNCF distribution from Debian's `docker-registry`), sequentially and
//! concurrently, with the release `sigil` binary; then verify keyless
//! cosign v2 signatures (certificate, chain and Rekor bundle from the test
//! Sigstore instance) on as many other images. Prints images per second and
//! peak memory of each run.
//!
//!     cargo bench -p sigil --bench registry            # 500 images
//!     cargo bench -p sigil --bench registry -- 100     # another count
//!     cargo bench -p sigil --bench registry -- one-image   # one image only
//!
//! The last row, one `sigil verify` of one image with process start, is also
//! run [`ONE_IMAGE_RUNS`] times more on its own: a single run of a 15 ms
//! process says little, and CPU time from `/proc` comes in 10 ms ticks. Its
//! wall time is the median of those runs and its CPU the mean, from the
//! children's CPU time this process collects (`cutime` + `cstime`). With
//! `one-image`, only that is measured, on one image, then again against a
//! TLS + basic-auth registry (`--registry-cacert`, credentials).
//!
//! Figures are recorded in docs/benchmarks.md.

mod common;
use sigil_testkit as support;

use std::sync::Arc;
use std::time::Instant;

use std::collections::BTreeMap;

use futures::{StreamExt as _, stream};
use sigil_verifier::cosign;
use sigil_verifier::digest::Digest;
use sigil_verifier::oci::Descriptor;
use sigil_verifier::reference::RegistryRef;
use sigil_verifier::registry::{
    Credential, RegistryClient, RegistryHost, RegistryOptions, RegistryStore, ScopedCredential, Secret,
};
use sigil_verifier::sample;
use sigil_verifier::store::Store as _;
use support::test_sigstore::{IDENTITY, ISSUED, ISSUER_URL, TestSigstore};

/// How many times the one-image verification runs for its median.
const ONE_IMAGE_RUNS: usize = 40;

fn main() {
    let count: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(500);
    let registry = support::Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key_path, pub_path) = common::key_files(dir.path());
    if std::env::args().any(|a| a == "one-image") {
        let (key_arg, pub_arg) = (key_path.to_str().expect("utf8"), pub_path.to_str().expect("utf8"));
        let image = registry.image("bench/one:v1");
        populate(std::slice::from_ref(&image), 0, None);
        common::run_sigil(&["sign", "--key", key_arg, &image], registry.pid());
        one_image("plain HTTP", &["verify", "--key", pub_arg, &image]);

        // The same over HTTPS with basic auth: TLS set up, once.
        let tls = support::Registry::start_tls_auth("bench", "bench-password");
        let image = tls.image("bench/one:v1");
        let ca = std::fs::read(tls.ca_cert_path()).expect("CA");
        let credential = ScopedCredential {
            host: RegistryHost::of(&tls.host()),
            credential: Credential::Basic {
                username: "bench".into(),
                password: Secret::new("bench-password"),
            },
        };
        populate_with(
            std::slice::from_ref(&image),
            0,
            None,
            RegistryOptions {
                ca_certs_pem: vec![ca],
                credential: Some(credential),
                ..RegistryOptions::default()
            },
        );
        let ca_path = tls.ca_cert_path();
        let flags = [
            "--registry-cacert",
            ca_path.to_str().expect("utf8"),
            "--registry-username",
            "bench",
            "--registry-password",
            "bench-password",
        ];
        let sign: Vec<&str> = ["sign", "--key", key_arg, &image]
            .iter()
            .copied()
            .chain(flags)
            .collect();
        common::run_sigil(&sign, tls.pid());
        let verify: Vec<&str> = ["verify", "--key", pub_arg, &image]
            .iter()
            .copied()
            .chain(flags)
            .collect();
        one_image("HTTPS + basic auth", &verify);
        return;
    }

    let sequential: Vec<String> = (0..count)
        .map(|i| registry.image(&format!("bench/seq{i}:v1")))
        .collect();
    let concurrent: Vec<String> = (0..count)
        .map(|i| registry.image(&format!("bench/par{i}:v1")))
        .collect();
    let keyless: Vec<String> = (0..count)
        .map(|i| registry.image(&format!("bench/keyless{i}:v1")))
        .collect();
    let sigstore = TestSigstore::new(&[]);
    let root_path = dir.path().join("trusted_root.json");
    std::fs::write(&root_path, sigstore.trusted_root()).expect("write root");
    let started = Instant::now();
    populate(&sequential, 0, None);
    populate(&concurrent, 1_000_000, None);
    populate(&keyless, 2_000_000, Some(&sigstore));
    eprintln!(
        "pushed {} sample images in {:.1} s",
        3 * count,
        started.elapsed().as_secs_f64()
    );

    println!("sigil registry benchmark: {count} distinct images, local docker-registry on loopback, release build");
    println!(
        "{:<44} {:>8} {:>9} {:>9} {:>10} {:>10} {:>12}",
        "run", "seconds", "images/s", "ms/image", "peak RSS", "sigil CPU", "registry CPU"
    );
    let registry_pid = registry.pid();
    let key_arg = key_path.to_str().expect("utf8");
    let pub_arg = pub_path.to_str().expect("utf8");
    let run = |title: &str, args: &[&str], images: &[String]| run(title, args, images, registry_pid);
    run(
        "sign, sequential (--concurrency 1)",
        &["sign", "--key", key_arg, "--concurrency", "1"],
        &sequential,
    );
    run(
        "sign, concurrent (--concurrency 16)",
        &["sign", "--key", key_arg, "--concurrency", "16"],
        &concurrent,
    );
    run(
        "verify, sequential (--concurrency 1)",
        &["verify", "--key", pub_arg, "--concurrency", "1"],
        &sequential,
    );
    run(
        "verify, concurrent (--concurrency 16)",
        &["verify", "--key", pub_arg, "--concurrency", "16"],
        &sequential,
    );
    run(
        "verify, concurrent (--concurrency 64)",
        &["verify", "--key", pub_arg, "--concurrency", "64"],
        &concurrent,
    );
    let root_arg = root_path.to_str().expect("utf8");
    run(
        "verify keyless, concurrent (--concurrency 64)",
        &[
            "verify",
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER_URL,
            "--trusted-root",
            root_arg,
            "--concurrency",
            "64",
        ],
        &keyless,
    );
    run(
        "verify one image (process start included)",
        &["verify", "--key", pub_arg],
        &sequential[..1],
    );
    one_image("plain HTTP", &["verify", "--key", pub_arg, &sequential[0]]);
}

/// Runs `sigil ARGS...` [`ONE_IMAGE_RUNS`] times (after one warm-up run) and
/// prints the median and fastest wall time and the mean CPU time of a run.
fn one_image(title: &str, args: &[&str]) {
    let once = || {
        let started = Instant::now();
        let status = std::process::Command::new(common::SIGIL)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("start sigil");
        assert!(status.success(), "sigil {args:?} exited with {status}");
        started.elapsed().as_secs_f64()
    };
    once();
    let cpu_before = children_cpu_seconds();
    let mut walls: Vec<f64> = (0..ONE_IMAGE_RUNS).map(|_| once()).collect();
    let cpu = (children_cpu_seconds() - cpu_before) / ONE_IMAGE_RUNS as f64;
    walls.sort_by(f64::total_cmp);
    println!(
        "verify one image ({title}), {ONE_IMAGE_RUNS} runs: wall median {:.1} ms (fastest {:.1} ms), CPU {:.1} ms per run",
        walls[walls.len() / 2] * 1000.0,
        walls[0] * 1000.0,
        cpu * 1000.0,
    );
}

/// User + system CPU time of this process's waited-for children so far, in
/// seconds (`cutime` and `cstime` of `/proc/self/stat`).
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    let rest = stat
        .rsplit_once(')')
        .expect("a stat line has the command in parentheses")
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[13].parse::<f64>().expect("cutime") + fields[14].parse::<f64>().expect("cstime");
    ticks / 100.0
}

/// Pushes one distinct sample image per reference; with `keyless`, also a
/// cosign v2 keyless signature layer for it from that Sigstore instance.
fn populate(images: &[String], seed: u64, keyless: Option<&TestSigstore>) {
    populate_with(images, seed, keyless, RegistryOptions::default());
}

/// [`populate`] through a client with these options.
fn populate_with(images: &[String], seed: u64, keyless: Option<&TestSigstore>, options: RegistryOptions) {
    let client = Arc::new(RegistryClient::new(options).expect("client"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(
        stream::iter(images.iter().enumerate()).for_each_concurrent(16, |(i, image)| {
            let client = client.clone();
            async move {
                let reference = RegistryRef::parse(image).expect("reference");
                let store = RegistryStore::new(client, &reference);
                let image = sample::write(&store, seed + i as u64, Some("v1"))
                    .await
                    .expect("push sample");
                if let Some(sigstore) = keyless {
                    sign_keyless(&store, &store.location(), &image.digest, sigstore).await;
                }
            }
        }),
    );
}

/// Stores what cosign v2 writes when signing keyless: the simple-signing
/// payload as a layer with the signature, certificate, chain and Rekor
/// bundle annotations.
async fn sign_keyless(store: &RegistryStore, repository: &str, digest: &Digest, sigstore: &TestSigstore) {
    let payload = sigil_verifier::simplesigning::payload(repository, digest, &BTreeMap::new());
    let logged = ISSUED + time::Duration::minutes(5);
    let (signature, rekor) = sigstore.sign_message(&payload, &payload, logged, &sigstore.log_key);
    let mut layer = Descriptor::of(cosign::SIMPLESIGNING_MEDIA_TYPE, &payload);
    layer.annotations = BTreeMap::from([
        (cosign::SIGNATURE_ANNOTATION.to_owned(), signature),
        (cosign::CERTIFICATE_ANNOTATION.to_owned(), sigstore.leaf_pem.clone()),
        (cosign::CHAIN_ANNOTATION.to_owned(), sigstore.intermediate_pem.clone()),
        (cosign::REKOR_BUNDLE_ANNOTATION.to_owned(), rekor),
    ]);
    store.push_blob(&layer, &payload).await.expect("payload");
    sigil_verifier::sign::append_layer(store, &cosign::signature_tag(digest), layer)
        .await
        .expect("signature");
}

/// Runs sigil once over `images`, printing wall time, rate, peak RSS and the
/// CPU time sigil and the registry spent.
fn run(title: &str, args: &[&str], images: &[String], registry_pid: u32) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(images.iter().map(String::as_str));
    let m = common::run_sigil(&all, registry_pid);
    let n = images.len() as f64;
    println!(
        "{title:<44} {:>8.2} {:>9.1} {:>9.2} {:>6.1} MiB {:>8.2} s {:>10.2} s",
        m.seconds,
        n / m.seconds,
        m.seconds * 1000.0 / n,
        m.peak_rss_mib,
        m.cpu_seconds,
        m.registry_cpu_seconds,
    );
}
