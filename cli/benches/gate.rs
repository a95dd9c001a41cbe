//! Benchmark: pulling a ~100 MB image (4 layers of 25 MiB) with skopeo
//! through `sigil gate` against pulling it from the registry directly, in
//! the same run, alternating, as a ratio of wall times; the gate's peak
//! memory; then manifest requests per second through the gate for an image
//! already decided (4 client threads, keep-alive).
//!
//!     cargo bench -p sigil --bench gate            # 5 pulls each way
//!     cargo bench -p sigil --bench gate -- 9       # another count
//!
//! Figures are recorded in docs/benchmarks.md.

mod common;
use sigil_testkit as support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sigil_verifier::digest::{Algorithm, Hasher};
use sigil_verifier::oci::{self, Descriptor, ImageManifest};
use sigil_verifier::reference::{RegistryRef, Target};
use sigil_verifier::registry::{RegistryClient, RegistryOptions, RegistryStore};
use sigil_verifier::store::Store as _;

const LAYERS: u64 = 4;
const LAYER_BYTES: u64 = 25 << 20;
const CHUNK: usize = 1 << 20;

fn chunk(layer: u64, i: u64) -> Vec<u8> {
    let mut state = (layer << 32 | i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..CHUNK)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn push_image(registry: &support::Registry) {
    let reference = RegistryRef::parse(&registry.image("bench/big:v1")).expect("reference");
    let client = std::sync::Arc::new(RegistryClient::new(RegistryOptions::default()).expect("client"));
    let store = RegistryStore::new(client, &reference);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut layers = Vec::new();
        for layer in 0..LAYERS {
            let mut hasher = Hasher::new(Algorithm::Sha256);
            let count = LAYER_BYTES / CHUNK as u64;
            for i in 0..count {
                hasher.update(&chunk(layer, i));
            }
            let descriptor = Descriptor {
                size: LAYER_BYTES,
                digest: hasher.finish(),
                ..Descriptor::of(oci::OCI_LAYER_GZIP, b"")
            };
            let stream = futures::stream::iter((0..count).map(move |i| Ok(chunk(layer, i))));
            store
                .push_blob_stream(&descriptor, Box::pin(stream))
                .await
                .expect("push a layer");
            layers.push(descriptor);
        }
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let config_descriptor = Descriptor::of(oci::OCI_CONFIG, config);
        store.push_blob(&config_descriptor, config).await.expect("config");
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(oci::OCI_MANIFEST.into()),
            artifact_type: None,
            config: config_descriptor,
            layers,
            subject: None,
            annotations: Default::default(),
        };
        store
            .push_manifest(&Target::Tag("v1".into()), oci::OCI_MANIFEST, &oci::to_bytes(&manifest))
            .await
            .expect("manifest");
    });
}

/// One `skopeo copy docker://IMAGE dir:...`, timed.
fn pull(image: &str, dir: &std::path::Path) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let started = Instant::now();
    let status = Command::new("skopeo")
        .args(["--insecure-policy", "copy", "--src-tls-verify=false"])
        .arg(format!("docker://{image}"))
        .arg(format!("dir:{}", dir.display()))
        .stdout(Stdio::null())
        .status()
        .expect("run skopeo");
    assert!(status.success(), "skopeo copy {image}");
    started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn vm_hwm_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    kib / 1024.0
}

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let registry = support::Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = common::key_files(dir.path());
    push_image(&registry);
    let image = registry.image("bench/big:v1");
    let signed = common::run_sigil(&["sign", "--key", key.to_str().expect("utf8"), &image], registry.pid());
    println!(
        "signed in {:.3} s (peak {:.1} MiB, CPU {:.3} s, registry CPU {:.3} s)",
        signed.seconds, signed.peak_rss_mib, signed.cpu_seconds, signed.registry_cpu_seconds
    );
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  bench: {{key: {}}}\nrules:\n  - name: bench\n    images: [\"{}/bench/**\"]\n    signatures: {{anyOf: [bench]}}\n",
            public.display(),
            registry.host()
        ),
    )
    .expect("policy");
    let log = dir.path().join("gate.log");
    let mut gate = Command::new(common::SIGIL)
        .args([
            "gate",
            "--policy",
            policy.to_str().expect("utf8"),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--upstream", &registry.host()])
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start the gate");
    let address = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = text.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let through = format!("{address}/bench/big:v1");
    let out = dir.path().join("pulled");
    // Warm both (page cache, the gate's decision), then alternate.
    pull(&image, &out);
    pull(&through, &out);
    let (mut direct, mut gated) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        direct.push(pull(&image, &out));
        gated.push(pull(&through, &out));
    }
    let (direct, gated) = (median(direct), median(gated));
    let size_mb = (LAYERS * LAYER_BYTES) as f64 / 1e6;
    println!("pull of a {size_mb:.0} MB image ({LAYERS} layers), skopeo, median of {runs}:");
    println!("  direct        {direct:.3} s  ({:.0} MB/s)", size_mb / direct);
    println!("  through gate  {gated:.3} s  ({:.0} MB/s)", size_mb / gated);
    println!("  ratio         {:.2}x", gated / direct);
    println!("  gate peak RSS {:.1} MiB", vm_hwm_mib(gate.id()));

    // Manifest requests per second for the decided image.
    let url = format!("http://{address}/v2/bench/big/manifests/v1");
    let seconds = 5.0;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder().no_proxy().build().expect("client");
                let started = Instant::now();
                let mut n = 0u64;
                while started.elapsed().as_secs_f64() < seconds {
                    let r = client
                        .get(&url)
                        .header("Accept", oci::OCI_MANIFEST)
                        .send()
                        .expect("manifest");
                    assert!(r.status().is_success());
                    let _ = r.bytes();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    println!(
        "manifest GET by tag, decided image, 4 clients: {:.0} requests/s ({total} in {seconds} s)",
        total as f64 / seconds
    );
    println!("  gate peak RSS {:.1} MiB", vm_hwm_mib(gate.id()));
    let _ = gate.kill();
    let _ = gate.wait();
}
