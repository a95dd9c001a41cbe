//! `sigil gate` between real clients (skopeo, podman, sigil itself, plain
//! HTTP requests) and the real registry: what the policy allows comes
//! through byte for byte, what it denies is refused with the gate's reason
//! whatever way it is asked for (tag, digest, child of an index, layer by
//! digest), writes are refused, an upstream that is down is a 5xx, and a
//! large layer streams through in bounded memory.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::Value;
use sigil_verifier::digest::{Digest, Hasher};
use sigil_verifier::oci::{self, Descriptor, ImageManifest};
use sigil_verifier::reference::Target;
use sigil_verifier::store::Store as _;
use tempfile::TempDir;

use crate::fixtures::{self, block_on, keypair, push_index, push_sample, s, write_policy};
use crate::support::sigil::SIGIL;
use crate::support::{Registry, Skopeo, sigil, skopeo};

/// A running `sigil gate`, killed when dropped.
struct Gate {
    child: Child,
    address: String,
    log: PathBuf,
    _home: TempDir,
}

impl Gate {
    /// `sigil gate --policy POLICY --listen 127.0.0.1:0 --upstream UPSTREAM EXTRA...`.
    fn start(policy: &Path, upstream: &str, extra: &[&str]) -> Gate {
        let home = TempDir::new().expect("temporary HOME");
        let log = home.path().join("gate.log");
        let child = Command::new(SIGIL)
            .args([
                "gate",
                "--policy",
                s(policy),
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                upstream,
            ])
            .args(extra)
            .env_clear()
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("gate log"))
            .spawn()
            .expect("start sigil gate");
        let started = Instant::now();
        let mut gate = Gate {
            child,
            address: String::new(),
            log,
            _home: home,
        };
        loop {
            let text = gate.log();
            if let Some(rest) = text
                .split("listening on http://")
                .nth(1)
                .or(text.split("listening on https://").nth(1))
            {
                gate.address = rest.split_whitespace().next().expect("an address").to_owned();
                return gate;
            }
            if let Ok(Some(status)) = gate.child.try_wait() {
                panic!("sigil gate exited ({status}) before listening\n{text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "sigil gate did not start\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The gate's image reference for repository `name_and_tag`.
    fn image(&self, name_and_tag: &str) -> String {
        format!("{}/{name_and_tag}", self.address)
    }

    /// The most resident memory the gate process has used, in bytes.
    fn peak_memory(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc status");
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kb * 1024
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

/// `GET` (or another method) of a gate path with the manifest Accept types.
fn request(method: reqwest::Method, url: &str) -> reqwest::blocking::Response {
    let mut r = client().request(method, url);
    for t in oci::ACCEPTED_MANIFESTS {
        r = r.header("Accept", t);
    }
    r.send().expect("the gate answers")
}

fn get(url: &str) -> reqwest::blocking::Response {
    request(reqwest::Method::GET, url)
}

fn json_of(response: reqwest::blocking::Response) -> Value {
    let body = response.bytes().expect("a body");
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
}

/// The `errors[0]` of a distribution error answer: (code, message).
fn error_of(response: reqwest::blocking::Response) -> (String, String) {
    let json = json_of(response);
    (
        json["errors"][0]["code"].as_str().unwrap_or_default().to_owned(),
        json["errors"][0]["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn sign(image: &str, key: &Path) {
    sigil(&["sign", image, "--key", s(key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
}

/// An upstream with `prod/app:signed` (signed by release), `:stranger`
/// (signed by another key) and `:unsigned`, and a policy requiring
/// release's signature on `UPSTREAM/prod/**`.
struct World {
    registry: Registry,
    dir: TempDir,
    policy: PathBuf,
    release: PathBuf,
    release_pub: PathBuf,
    signed: Digest,
    stranger: Digest,
    unsigned: Digest,
}

fn world() -> World {
    let registry = Registry::start();
    let dir = TempDir::new().expect("tempdir");
    let (release, release_pub) = keypair(dir.path(), "release");
    let (stranger_key, _) = keypair(dir.path(), "stranger");
    let signed = push_sample(&registry, "prod/app", "signed", 1);
    let stranger = push_sample(&registry, "prod/app", "stranger", 2);
    let unsigned = push_sample(&registry, "prod/app", "unsigned", 3);
    sign(&registry.image("prod/app:signed"), &release);
    sign(&registry.image("prod/app:stranger"), &stranger_key);
    let host = registry.host();
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n"
        ),
    );
    World {
        registry,
        dir,
        policy,
        release,
        release_pub,
        signed,
        stranger,
        unsigned,
    }
}

impl World {
    fn gate(&self, extra: &[&str]) -> Gate {
        Gate::start(&self.policy, &self.registry.host(), extra)
    }
}

#[test]
fn skopeo_copies_a_signed_image_through_the_gate_and_is_denied_the_others() {
    let w = world();
    let gate = w.gate(&[]);
    let out = w.dir.path().join("signed");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}", gate.image("prod/app:signed")),
        &format!("dir:{}", out.display()),
    ])
    .assert_success();
    // Digests identical to the upstream: the manifest and every blob.
    let manifest = std::fs::read(out.join("manifest.json")).expect("manifest copied");
    assert_eq!(Digest::sha256_of(&manifest), w.signed);
    let (_, upstream) = fixtures::manifest(&w.registry, "prod/app", Target::Tag("signed".into()));
    let json: Value = serde_json::from_slice(&manifest).expect("manifest JSON");
    assert_eq!(json, upstream);
    let layer = json["layers"][0]["digest"].as_str().expect("a layer").to_owned();
    let copied = std::fs::read(out.join(layer.trim_start_matches("sha256:"))).expect("layer copied");
    assert_eq!(Digest::sha256_of(&copied).to_string(), layer);

    for (tag, reason) in [
        ("unsigned", "no valid signature by any of [release]"),
        ("stranger", "no valid signature by any of [release]"),
    ] {
        let copy = skopeo(&[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{}", gate.image(&format!("prod/app:{tag}"))),
            &format!("dir:{}", w.dir.path().join(tag).display()),
        ]);
        assert_ne!(copy.code, Some(0), "{tag} must be refused\n{copy}");
        let expected = format!("{}/prod/app:{tag}", w.registry.host());
        assert!(
            copy.stderr.contains(&expected) && copy.stderr.contains("rule prod") && copy.stderr.contains(reason),
            "skopeo should show the gate's reason for {tag} ({expected}: rule prod: …{reason}…)\n{copy}"
        );
        assert!(!w.dir.path().join(tag).join("manifest.json").exists());
    }
    assert_ne!(w.unsigned, w.stranger);
}

#[test]
fn denied_images_are_refused_by_digest_as_index_children_and_layer_by_layer() {
    let w = world();
    let host = w.registry.host();
    let (signed_index, signed_children) = push_index(&w.registry, "prod/multi", "signed");
    sign(&w.registry.image("prod/multi:signed"), &w.release);
    let (unsigned_index, children) = push_index(&w.registry, "prod/bare", "v1");
    let gate = w.gate(&[]);

    // A digest reference to a denied image, by GET and by HEAD (no body).
    let by_digest = get(&gate.url(&format!("/v2/prod/app/manifests/{}", w.unsigned)));
    assert_eq!(by_digest.status(), StatusCode::FORBIDDEN);
    let (code, message) = error_of(by_digest);
    assert_eq!(code, "DENIED");
    assert!(
        message.starts_with(&format!("{host}/prod/app@{}: rule prod: ", w.unsigned)),
        "{message}"
    );
    let head = request(
        reqwest::Method::HEAD,
        &gate.url(&format!("/v2/prod/app/manifests/{}", w.unsigned)),
    );
    assert_eq!(head.status(), StatusCode::FORBIDDEN);
    assert!(head.bytes().expect("HEAD body").is_empty());
    // Its twin, signed, by digest and by HEAD: the exact bytes and headers.
    let allowed = get(&gate.url(&format!("/v2/prod/app/manifests/{}", w.signed)));
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        allowed.headers()["docker-content-digest"],
        w.signed.to_string().as_str()
    );
    assert_eq!(allowed.headers()["content-type"], oci::OCI_MANIFEST);
    assert_eq!(Digest::sha256_of(&allowed.bytes().expect("body")), w.signed);
    let head = request(
        reqwest::Method::HEAD,
        &gate.url(&format!("/v2/prod/app/manifests/{}", w.signed)),
    );
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["docker-content-digest"], w.signed.to_string().as_str());
    assert_ne!(head.headers()["content-length"], "0");

    // A denied image's layer by digest: refused, even after its manifest was asked for.
    let (unsigned_manifest, _) = fixtures::manifest(&w.registry, "prod/app", Target::Tag("unsigned".into()));
    let unsigned_layer = layer_of(&w.registry, "prod/app", &unsigned_manifest.digest);
    let layer = get(&gate.url(&format!("/v2/prod/app/blobs/{unsigned_layer}")));
    assert_eq!(layer.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_of(layer).0, "DENIED");
    // The allowed image's layer: served after its manifest, checked bytes.
    let signed_layer = layer_of(&w.registry, "prod/app", &w.signed);
    let served = get(&gate.url(&format!("/v2/prod/app/blobs/{signed_layer}")));
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(Digest::sha256_of(&served.bytes().expect("layer")), signed_layer);
    // ...but not from another repository, where no allowed manifest named it.
    push_sample(&w.registry, "prod/other", "unsigned", 1);
    let elsewhere = get(&gate.url(&format!("/v2/prod/other/blobs/{signed_layer}")));
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);

    // A child fetched with no parent known is judged on its own (unsigned: denied).
    let alone = get(&gate.url(&format!("/v2/prod/bare/manifests/{}", children[0])));
    assert_eq!(alone.status(), StatusCode::FORBIDDEN);
    // A denied index, then its child: 403 naming the index's reason, not 404.
    let index = get(&gate.url("/v2/prod/bare/manifests/v1"));
    assert_eq!(index.status(), StatusCode::FORBIDDEN);
    let child = get(&gate.url(&format!("/v2/prod/bare/manifests/{}", children[1])));
    assert_eq!(child.status(), StatusCode::FORBIDDEN);
    let (code, message) = error_of(child);
    assert_eq!(code, "DENIED");
    assert!(
        message.contains("listed by a denied index")
            && message.contains(&format!("{host}/prod/bare:v1@{unsigned_index}")),
        "{message}"
    );
    // The twin: a signed index's children (unsigned themselves) are served.
    let index = get(&gate.url("/v2/prod/multi/manifests/signed"));
    assert_eq!(index.status(), StatusCode::OK);
    assert_eq!(
        index.headers()["docker-content-digest"],
        signed_index.to_string().as_str()
    );
    for child in &signed_children {
        let served = get(&gate.url(&format!("/v2/prod/multi/manifests/{child}")));
        assert_eq!(served.status(), StatusCode::OK, "child {child}");
        let layer = layer_of(&w.registry, "prod/multi", child);
        assert_eq!(
            get(&gate.url(&format!("/v2/prod/multi/blobs/{layer}"))).status(),
            StatusCode::OK
        );
    }
}

/// The first layer of manifest `digest` in `repo`.
fn layer_of(registry: &Registry, repo: &str, digest: &Digest) -> Digest {
    let (_, manifest) = fixtures::manifest(registry, repo, Target::Digest(digest.clone()));
    manifest["layers"][0]["digest"]
        .as_str()
        .expect("a layer")
        .parse()
        .expect("a digest")
}

#[test]
fn attachments_of_allowed_images_pass_through_and_a_verifier_downstream_checks_again() {
    let w = world();
    let gate = w.gate(&[]);
    // sigil verify through the gate: the signature tag and its blobs come through.
    sigil(&["verify", &gate.image("prod/app:signed"), "--key", s(&w.release_pub)])
        .run()
        .assert_exit(0);
    let sig = sigil_verifier::cosign::signature_tag(&w.signed);
    let attachment = get(&gate.url(&format!("/v2/prod/app/manifests/{sig}")));
    assert_eq!(attachment.status(), StatusCode::OK);
    // The twin: the signature tag of a denied image is refused, and so the verify fails.
    let sig = sigil_verifier::cosign::signature_tag(&w.stranger);
    let refused = get(&gate.url(&format!("/v2/prod/app/manifests/{sig}")));
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, message) = error_of(refused);
    assert!(message.contains("attached to a denied image"), "{message}");
    let out = sigil(&["verify", &gate.image("prod/app:stranger"), "--key", s(&w.release_pub)]).run();
    assert_ne!(out.code, Some(0), "{out}");
    // Referrers of an allowed image pass through (distribution 2.8 has no
    // API: its 404 comes back, so clients read the fallback tag); of a denied one, 403.
    let referrers = get(&gate.url(&format!("/v2/prod/app/referrers/{}", w.signed)));
    assert_eq!(referrers.status(), StatusCode::NOT_FOUND);
    let referrers = get(&gate.url(&format!("/v2/prod/app/referrers/{}", w.unsigned)));
    assert_eq!(referrers.status(), StatusCode::FORBIDDEN);

    // Tag lists pass through with their paging parameters, as the upstream
    // answers them (distribution 2.8 ignores `n`; later ones page).
    for query in ["", "?n=2", "?n=2&last=signed"] {
        let path = format!("/v2/prod/app/tags/list{query}");
        let through = client().get(gate.url(&path)).send().expect("tags");
        assert_eq!(through.status(), StatusCode::OK, "{path}");
        let link = through.headers().get("link").cloned();
        let direct = w
            .registry
            .client()
            .get(format!("{}{path}", w.registry.url()))
            .send()
            .expect("tags");
        assert_eq!(link, direct.headers().get("link").cloned(), "{path}");
        let (through, direct) = (json_of(through), json_of(direct));
        assert_eq!(through, direct, "{path}");
        assert!(through["tags"].as_array().expect("tags").len() >= 3, "{through}");
    }
}

#[test]
fn the_gate_holds_base_images_to_the_policy_too() {
    let w = crate::base_images::world();
    let gate = Gate::start(&w.policy, &w.registry.host(), &[]);
    let dir = TempDir::new().expect("tempdir");
    let copy = |repo: &str| {
        skopeo(&[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{}", gate.image(&format!("{repo}:1"))),
            &format!("dir:{}", dir.path().join(repo.replace('/', "-")).display()),
        ])
    };
    copy("apps/shallow").assert_success();
    let refused = copy("apps/unsigned-base");
    assert_ne!(refused.code, Some(0), "{refused}");
    assert!(
        refused.stderr.contains("bases/unsigned@sha256:"),
        "skopeo shows the gate's reason, naming the base\n{refused}"
    );
}

#[test]
fn writes_are_refused() {
    let w = world();
    let gate = w.gate(&[]);
    for (method, path) in [
        (reqwest::Method::PUT, "/v2/prod/app/manifests/new".to_owned()),
        (reqwest::Method::POST, "/v2/prod/app/blobs/uploads/".to_owned()),
        (reqwest::Method::PATCH, "/v2/prod/app/blobs/uploads/x".to_owned()),
        (reqwest::Method::DELETE, format!("/v2/prod/app/manifests/{}", w.signed)),
    ] {
        let response = client()
            .request(method.clone(), gate.url(&path))
            .body("{}")
            .send()
            .expect("answer");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(error_of(response).0, "UNSUPPORTED", "{method} {path}");
    }
    let copy = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}", w.registry.image("prod/app:signed")),
        &format!("docker://{}", gate.image("prod/app:copied")),
    ]);
    assert_ne!(copy.code, Some(0), "a push through the gate must fail\n{copy}");
    // Nothing reached the upstream; the signed image is still there, unchanged.
    let tags = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}", w.registry.image("prod/app")),
    ]);
    assert!(!tags.stdout.contains("copied"), "{tags}");
    assert_eq!(
        get(&gate.url(&format!("/v2/prod/app/manifests/{}", w.signed))).status(),
        StatusCode::OK
    );
}

#[test]
fn an_upstream_that_is_down_is_a_5xx_never_a_served_manifest() {
    let w = world();
    let gate = w.gate(&["--registry-timeout", "5s"]);
    // The twin first: up, allowed (and the decision cached).
    assert_eq!(get(&gate.url("/v2/prod/app/manifests/signed")).status(), StatusCode::OK);
    let World { registry, dir, .. } = w;
    drop(registry);
    for path in [
        "/v2/prod/app/manifests/signed".to_owned(),
        "/v2/prod/app/manifests/unsigned".to_owned(),
        "/v2/prod/app/tags/list".to_owned(),
    ] {
        let response = get(&gate.url(&path));
        let status = response.status();
        assert!(
            [
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::GATEWAY_TIMEOUT
            ]
            .contains(&status),
            "{path}: {status}"
        );
        let (code, message) = error_of(response);
        assert_eq!(code, "UNAVAILABLE", "{path}");
        assert!(message.starts_with("upstream: "), "{path}: {message}");
    }
    let copy = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}", gate.image("prod/app:signed")),
        &format!("dir:{}", dir.path().join("down").display()),
    ]);
    assert_ne!(copy.code, Some(0), "{copy}");
}

#[test]
fn a_tls_hello_on_the_plain_port_does_not_break_the_gate() {
    let w = world();
    let gate = w.gate(&[]);
    // A TLS ClientHello's first bytes, on a connection left open.
    let mut probe = TcpStream::connect(&gate.address).expect("connect");
    probe
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03])
        .expect("write");
    // A client that tries HTTPS first gets an error, not a hang.
    let https = Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(format!("https://{}/v2/", gate.address))
        .send();
    assert!(
        https.is_err_and(|e| !e.is_timeout()),
        "HTTPS to the plain port fails fast"
    );
    // Everyone else is served meanwhile.
    let base = get(&gate.url("/v2/"));
    assert_eq!(base.status(), StatusCode::OK);
    assert_eq!(base.headers()["docker-distribution-api-version"], "registry/2.0");
    assert_eq!(base.text().expect("body"), "{}");
    assert_eq!(get(&gate.url("/v2/prod/app/manifests/signed")).status(), StatusCode::OK);
    let mut rest = Vec::new();
    probe.set_read_timeout(Some(Duration::from_secs(40))).expect("timeout");
    let _ = probe.read_to_end(&mut rest);
}

#[test]
fn with_htpasswd_only_the_gates_users_are_served() {
    let w = world();
    let htpasswd = w.dir.path().join("htpasswd");
    std::fs::write(&htpasswd, crate::support::tls::htpasswd_line("alice", "s3cret")).expect("htpasswd");
    let gate = w.gate(&["--htpasswd", s(&htpasswd)]);
    let anonymous = client().get(gate.url("/v2/")).send().expect("answer");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .expect("text")
            .starts_with("Basic realm=")
    );
    let wrong = client()
        .get(gate.url("/v2/prod/app/manifests/signed"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .expect("answer");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = client()
        .get(gate.url("/v2/"))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .expect("answer");
    assert_eq!(right.status(), StatusCode::OK);
    let out = w.dir.path().join("copied");
    Skopeo::new()
        .run(&[
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            "alice:s3cret",
            &format!("docker://{}", gate.image("prod/app:signed")),
            &format!("dir:{}", out.display()),
        ])
        .assert_success();
    let anonymous_copy = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}", gate.image("prod/app:signed")),
        &format!("dir:{}", w.dir.path().join("anon").display()),
    ]);
    assert_ne!(anonymous_copy.code, Some(0), "{anonymous_copy}");
}

#[test]
fn podman_pulls_through_the_gate_as_the_registrys_location() {
    let podman = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("podman"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!("`podman` is not installed, and this test needs it: run `apt-get install -y podman`")
        });
    let w = world();
    let gate = w.gate(&[]);
    let root = w.dir.path().join("podman");
    // The gate as the registry itself (`location`), never as a mirror.
    let conf = root.join("registries.conf");
    std::fs::create_dir_all(&root).expect("podman dir");
    std::fs::write(
        &conf,
        format!(
            "unqualified-search-registries = []\n\n[[registry]]\nprefix = \"registry.example/prod\"\nlocation = \"{}/prod\"\ninsecure = true\n",
            gate.address
        ),
    )
    .expect("registries.conf");
    let podman = |args: &[&str]| {
        crate::support::Proc::new(&podman)
            .args([
                "--root",
                s(&root.join("storage")),
                "--runroot",
                s(&root.join("run")),
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "none",
            ])
            .args(args)
            .env("CONTAINERS_REGISTRIES_CONF", &conf)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .timeout(Duration::from_secs(120))
            .run()
    };
    let pull = |image: &str| podman(&["pull", "--tls-verify=false", image]);
    let allowed = pull("registry.example/prod/app:signed");
    assert_eq!(allowed.code, Some(0), "podman pull of the signed image\n{allowed}");
    let inspect = podman(&[
        "image",
        "inspect",
        "--format",
        "{{.Digest}}",
        "registry.example/prod/app:signed",
    ]);
    assert_eq!(inspect.stdout.trim(), w.signed.to_string(), "{inspect}");
    let denied = pull("registry.example/prod/app:unsigned");
    assert_ne!(denied.code, Some(0), "{denied}");
    assert!(
        denied.stderr.contains("prod/app:unsigned@sha256:")
            && denied
                .stderr
                .contains("rule prod: no valid signature by any of [release]"),
        "podman should show the gate's reason\n{denied}"
    );
}

#[test]
fn a_large_layer_streams_through_in_bounded_memory() {
    const SIZE: u64 = 256 << 20;
    const CHUNK: usize = 1 << 20;
    let w = world();
    // A 256 MiB layer, generated, pushed as a stream; its image signed.
    let chunk = |i: u64| -> Vec<u8> {
        let mut state = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..CHUNK)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    let count = SIZE / CHUNK as u64;
    let mut hasher = Hasher::new(sigil_verifier::digest::Algorithm::Sha256);
    for i in 0..count {
        hasher.update(&chunk(i));
    }
    let layer = Descriptor {
        size: SIZE,
        digest: hasher.finish(),
        ..Descriptor::of(oci::OCI_LAYER_GZIP, b"")
    };
    let store = fixtures::store(&w.registry, "prod/big");
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config = (Descriptor::of(oci::OCI_CONFIG, config), config.to_vec());
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config.0.clone(),
        layers: vec![layer.clone()],
        subject: None,
        annotations: Default::default(),
    };
    block_on(async {
        let stream = futures::stream::iter((0..count).map(move |i| Ok(chunk(i))));
        store
            .push_blob_stream(&layer, Box::pin(stream))
            .await
            .expect("push the layer");
        store.push_blob(&config.0, &config.1).await.expect("push the config");
        store
            .push_manifest(&Target::Tag("v1".into()), oci::OCI_MANIFEST, &oci::to_bytes(&manifest))
            .await
            .expect("push the manifest");
    });
    sign(&w.registry.image("prod/big:v1"), &w.release);
    let gate = w.gate(&[]);
    assert_eq!(get(&gate.url("/v2/prod/big/manifests/v1")).status(), StatusCode::OK);
    let before = gate.peak_memory();
    let mut response = get(&gate.url(&format!("/v2/prod/big/blobs/{}", layer.digest)));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(SIZE));
    let mut hasher = Hasher::new(sigil_verifier::digest::Algorithm::Sha256);
    let mut buffer = vec![0u8; CHUNK];
    let mut seen = 0u64;
    loop {
        let n = response.read(&mut buffer).expect("read the layer");
        if n == 0 {
            break;
        }
        seen += n as u64;
        hasher.update(&buffer[..n]);
    }
    assert_eq!(seen, SIZE);
    assert_eq!(hasher.finish(), layer.digest);
    let peak = gate.peak_memory();
    assert!(
        peak < 96 << 20,
        "the gate's peak memory grew from {before} to {peak} bytes streaming a {SIZE}-byte layer"
    );
    // The twin: the same layer under a denied image costs nothing and sends nothing.
    let denied = get(&gate.url(&format!("/v2/prod/app/blobs/{}", layer.digest)));
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(gate.log().contains("listening"), "{}", gate.log());
}

#[test]
fn a_blob_the_upstream_corrupted_breaks_the_connection_instead_of_ending_cleanly() {
    let w = world();
    let gate = w.gate(&[]);
    let layer = layer_of(&w.registry, "prod/app", &w.signed);
    assert_eq!(get(&gate.url("/v2/prod/app/manifests/signed")).status(), StatusCode::OK);
    // The twin first: intact, served whole.
    let intact = get(&gate.url(&format!("/v2/prod/app/blobs/{layer}")))
        .bytes()
        .expect("the intact layer");
    assert_eq!(Digest::sha256_of(&intact), layer);
    // The same bytes' length, one bit flipped, in the registry's own storage.
    let data = w
        .registry
        .storage_dir()
        .join("docker/registry/v2/blobs/sha256")
        .join(&layer.hex()[..2])
        .join(layer.hex())
        .join("data");
    let mut corrupt = std::fs::read(&data).expect("the stored layer");
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    std::fs::write(&data, &corrupt).expect("corrupt the stored layer");
    // A small layer is one chunk: held back, so the connection breaks
    // before even the headers leave; a large one breaks mid-body.
    match client().get(gate.url(&format!("/v2/prod/app/blobs/{layer}"))).send() {
        Err(e) => assert!(!e.is_timeout(), "{e}"),
        Ok(mut response) => {
            let mut received = Vec::new();
            let read = response.read_to_end(&mut received);
            assert!(
                read.is_err(),
                "the body must not end cleanly ({} bytes read)",
                received.len()
            );
            assert!(received.len() < corrupt.len(), "the last bytes are held back");
        }
    }
    assert!(gate.log().contains("the connection is broken off"), "{}", gate.log());
    // The gate goes on serving.
    assert_eq!(get(&gate.url("/v2/")).status(), StatusCode::OK);
}
