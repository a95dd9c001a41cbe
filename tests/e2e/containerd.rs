//! `sigil containerd-verifier` called exactly as containerd 2.x's bindir
//! image verifier calls its executables (`pkg/imageverifier/bindir/bindir.go`):
//! `BIN -name REF -digest DIGEST -stdin-media-type
//! application/vnd.oci.descriptor.v1+json` after the wrapper's own flags, the
//! descriptor JSON and a newline written to stdin by another thread and then
//! closed (or, here, left open), stdout read up to 32 KiB and one byte more,
//! exit 0 allowing and anything else blocking. Against a real registry; every
//! allowed pull has blocked twins, each with a one-line reason naming the
//! image.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sigil_verifier::reference::Target;

use crate::fixtures::{self, keypair, push_sample, s, write_policy};
use crate::support::sigil::SIGIL;
use crate::support::{Hostile, Mode, Registry, sample_layout, sigil};

const MEDIA_TYPE: &str = "application/vnd.oci.descriptor.v1+json";
/// containerd's `outputLimitBytes`.
const OUTPUT_LIMIT: usize = 32 * 1024;
/// containerd's default `per_verifier_timeout`.
const CONTAINERD_TIMEOUT: Duration = Duration::from_secs(10);

/// What containerd writes on the verifier's stdin.
#[derive(Clone)]
enum Stdin {
    /// `json.NewEncoder(stdin).Encode(desc)`, then close.
    Descriptor(String),
    /// These bytes, then close.
    Bytes(Vec<u8>),
    /// These bytes, and the pipe held open until the verifier exits.
    Open(Vec<u8>),
}

/// What containerd sees of one verifier run.
#[derive(Debug)]
struct Judged {
    /// `None`: killed by a signal (containerd: an error, no judgement).
    code: Option<i32>,
    /// The bytes containerd reads: at most 32 KiB.
    stdout: String,
    /// More than 32 KiB was written (containerd appends "(stdout truncated)").
    truncated: bool,
    stderr: String,
    took: Duration,
}

impl Judged {
    #[track_caller]
    fn allowed(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected the pull allowed\n{self:?}");
        assert!(self.stderr.is_empty(), "an allowed pull logs nothing\n{self:?}");
        self.reason()
    }

    /// Asserts a block with exit `code` and a one-line reason naming `image`.
    #[track_caller]
    fn blocked(&self, code: i32, image: &str) -> &str {
        assert_eq!(
            self.code,
            Some(code),
            "expected the pull blocked with exit {code}\n{self:?}"
        );
        let reason = self.reason();
        assert!(reason.contains(image), "the reason does not name {image}\n{self:?}");
        if code == 2 {
            // Not judged: an error, also as one line on stderr (DESIGN §2).
            assert_eq!(self.stderr.trim(), format!("error: {reason}"), "{self:?}");
        }
        reason
    }

    /// The reason as containerd reports it, asserted to be one non-empty line.
    #[track_caller]
    fn reason(&self) -> &str {
        assert!(!self.truncated, "more than 32 KiB on stdout\n{self:?}");
        let reason = self.stdout.trim();
        assert!(
            !reason.is_empty() && !reason.contains('\n'),
            "expected one line on stdout\n{self:?}"
        );
        assert!(
            self.took < CONTAINERD_TIMEOUT,
            "containerd would have killed it\n{self:?}"
        );
        reason
    }
}

/// Runs `sigil containerd-verifier WRAPPER_FLAGS... -name NAME -digest DIGEST
/// -stdin-media-type ...` as containerd does, hermetic (fresh `HOME`, a
/// cleared environment plus `env`).
fn containerd_runs(program: &Path, wrapper: &[&str], bindir: &[&str], stdin: Stdin, env: &[(&str, &str)]) -> Judged {
    let home = tempfile::tempdir().expect("home");
    let mut command = Command::new(program);
    command
        .args(wrapper)
        .args(bindir)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("start the verifier");
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let (bytes, keep_open) = match stdin {
        Stdin::Descriptor(json) => (format!("{json}\n").into_bytes(), false),
        Stdin::Bytes(bytes) => (bytes, false),
        Stdin::Open(bytes) => (bytes, true),
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    // Written asynchronously, as bindir.go's goroutine does; a verifier that
    // does not read gives EPIPE, which containerd only logs.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&bytes);
        if keep_open {
            let _ = done_rx.recv();
        }
        drop(pipe);
    });
    let mut stdout_pipe = child.stdout.take().expect("stdout pipe");
    let mut stderr_pipe = child.stderr.take().expect("stderr pipe");
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = (&mut stdout_pipe).take(OUTPUT_LIMIT as u64 + 1).read_to_end(&mut out);
        let _ = std::io::copy(&mut stdout_pipe, &mut std::io::sink());
        out
    });
    let deadline = started + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the verifier hung (containerd would kill it)"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = started.elapsed();
    let _ = done_tx.send(());
    let _ = writer.join();
    let mut out = reader.join().expect("stdout reader");
    let truncated = out.len() > OUTPUT_LIMIT;
    out.truncate(OUTPUT_LIMIT);
    Judged {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        truncated,
        stderr: stderr.join().expect("stderr reader"),
        took,
    }
}

/// A signed image, an unsigned one and one signed by a stranger, in `prod/`,
/// and a policy that allows `prod/**` signed by `release`.
struct Setup {
    registry: Registry,
    dir: tempfile::TempDir,
    policy: PathBuf,
    release: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let registry = Registry::start();
        let dir = tempfile::tempdir().expect("tempdir");
        let (release, _) = keypair(dir.path(), "release");
        let (stranger, _) = keypair(dir.path(), "stranger");
        for (tag, seed) in [("signed", 41), ("unsigned", 42), ("stranger", 43)] {
            push_sample(&registry, "prod/app", tag, seed);
        }
        push_sample(&registry, "elsewhere", "v1", 44);
        sign(&registry.image("prod/app:signed"), &release);
        sign(&registry.image("prod/app:stranger"), &stranger);
        let policy = policy(dir.path(), &registry.host(), "prod", "enforce");
        Setup {
            registry,
            dir,
            policy,
            release,
        }
    }

    /// `HOST/REPO:TAG` and its descriptor JSON as containerd encodes it.
    fn resolved(&self, repo_and_tag: &str) -> (String, String, String) {
        let (repo, tag) = repo_and_tag.split_once(':').expect("repo:tag");
        resolved(&self.registry, repo, tag)
    }

    /// containerd's call for `name` resolved to `digest`, stdin as given.
    fn pull(&self, name: &str, digest: &str, stdin: Stdin) -> Judged {
        self.pull_with(&[], name, digest, stdin)
    }

    fn pull_with(&self, extra: &[&str], name: &str, digest: &str, stdin: Stdin) -> Judged {
        pull(&self.policy, extra, name, digest, stdin)
    }
}

/// `sigil containerd-verifier --policy POLICY EXTRA...` as containerd runs
/// it for `name` resolved to `digest`.
fn pull(policy: &Path, extra: &[&str], name: &str, digest: &str, stdin: Stdin) -> Judged {
    let mut wrapper = vec!["containerd-verifier", "--policy", s(policy)];
    wrapper.extend_from_slice(extra);
    containerd_runs(
        Path::new(SIGIL),
        &wrapper,
        &["-name", name, "-digest", digest, "-stdin-media-type", MEDIA_TYPE],
        stdin,
        &[],
    )
}

fn sign(image: &str, key: &Path) {
    sigil(&["sign", image, "--key", s(key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
}

/// `RULE` over `HOST/prod/**`, signed by `release`, in `mode`.
fn policy(dir: &Path, host: &str, rule: &str, mode: &str) -> PathBuf {
    write_policy(
        dir,
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: {rule}\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n    mode: {mode}\n"
        ),
    )
}

/// (`HOST/REPO:TAG`, digest, descriptor JSON) of a pushed image.
fn resolved(registry: &Registry, repo: &str, tag: &str) -> (String, String, String) {
    let (descriptor, _) = fixtures::manifest(registry, repo, Target::Tag(tag.into()));
    let json = descriptor_json(&descriptor.media_type, &descriptor.digest.to_string(), descriptor.size);
    (
        registry.image(&format!("{repo}:{tag}")),
        descriptor.digest.to_string(),
        json,
    )
}

/// An `ocispec.Descriptor` as Go's encoding/json writes it.
fn descriptor_json(media_type: &str, digest: &str, size: u64) -> String {
    format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size}}}"#)
}

#[test]
fn signed_pulls_are_allowed_and_unsigned_or_wrongly_signed_ones_blocked() {
    let setup = Setup::new();
    let (name, digest, descriptor) = setup.resolved("prod/app:signed");
    let reason = setup
        .pull(&name, &digest, Stdin::Descriptor(descriptor))
        .allowed()
        .to_owned();
    assert_eq!(reason, format!("sigil allowed {name}@{digest} by rule prod (enforce)"));

    let (name, digest, descriptor) = setup.resolved("prod/app:unsigned");
    let judged = setup.pull(&name, &digest, Stdin::Descriptor(descriptor));
    let reason = judged.blocked(1, &format!("{name}@{digest}"));
    assert!(
        reason.contains("by rule prod (enforce)") && reason.contains("[no-signatures]"),
        "{judged:?}"
    );

    let (name, digest, descriptor) = setup.resolved("prod/app:stranger");
    let judged = setup.pull(&name, &digest, Stdin::Descriptor(descriptor));
    let reason = judged.blocked(1, &name);
    assert!(
        reason.contains("no valid signature by any of [release] [signature-invalid]"),
        "{judged:?}"
    );

    // No rule matches: denied without a rule.
    let (name, digest, descriptor) = resolved(&setup.registry, "elsewhere", "v1");
    let judged = setup.pull(&name, &digest, Stdin::Descriptor(descriptor));
    let reason = judged.blocked(1, &name);
    assert!(reason.contains("[no-matching-rule]"), "{judged:?}");

    // A pull by digest (containerd's name is then REPO@DIGEST) is the same question.
    let (name, digest, descriptor) = setup.resolved("prod/app:signed");
    let by_digest = format!("{}@{digest}", name.trim_end_matches(":signed"));
    setup
        .pull(&by_digest, &digest, Stdin::Descriptor(descriptor.clone()))
        .allowed();
    let (unsigned, unsigned_digest, _) = setup.resolved("prod/app:unsigned");
    let by_digest = format!("{}@{unsigned_digest}", unsigned.trim_end_matches(":unsigned"));
    let unsigned_descriptor = descriptor.replace(&digest, &unsigned_digest);
    setup
        .pull(&by_digest, &unsigned_digest, Stdin::Descriptor(unsigned_descriptor))
        .blocked(1, &by_digest);
}

#[test]
fn the_stdin_descriptor_must_name_the_digest_judged() {
    let setup = Setup::new();
    let (name, digest, descriptor) = setup.resolved("prod/app:signed");
    let (_, unsigned_digest, unsigned_descriptor) = setup.resolved("prod/app:unsigned");
    setup
        .pull(&name, &digest, Stdin::Descriptor(descriptor.clone()))
        .allowed();

    // -digest the signed image, stdin another: blocked whichever is signed.
    let judged = setup.pull(&name, &digest, Stdin::Descriptor(unsigned_descriptor));
    let reason = judged.blocked(2, &name);
    assert!(
        reason.contains(&format!("names {unsigned_digest}, not -digest {digest}")),
        "{judged:?}"
    );
    let judged = setup.pull(&name, &unsigned_digest, Stdin::Descriptor(descriptor.clone()));
    assert!(judged.blocked(2, &name).contains("not -digest"), "{judged:?}");

    // Empty stdin: still judged, by -digest.
    setup.pull(&name, &digest, Stdin::Bytes(Vec::new())).allowed();
    let (unsigned, _, _) = setup.resolved("prod/app:unsigned");
    setup
        .pull(&unsigned, &unsigned_digest, Stdin::Bytes(Vec::new()))
        .blocked(1, &unsigned);

    // Not a descriptor, or larger than any descriptor: blocked.
    for bad in [
        b"not json\n".to_vec(),
        b"{\"mediaType\":\"x\"}\n".to_vec(),
        format!("{{\"digest\":\"{digest}\"").into_bytes(),
        format!(
            "{{\"digest\":\"{digest}\",\"annotations\":{{\"a\":\"{}\"}}}}\n",
            "x".repeat(70_000)
        )
        .into_bytes(),
    ] {
        let judged = setup.pull(&name, &digest, Stdin::Bytes(bad));
        assert!(judged.blocked(2, &name).contains("stdin"), "{judged:?}");
    }
}

#[test]
fn a_stdin_never_closed_does_not_hang_the_verifier() {
    let setup = Setup::new();
    let (name, digest, descriptor) = setup.resolved("prod/app:signed");
    let (unsigned, unsigned_digest, unsigned_descriptor) = setup.resolved("prod/app:unsigned");
    let bound = Duration::from_secs(6);

    // Nothing written, never closed: judged by -digest after a short wait.
    let judged = setup.pull(&name, &digest, Stdin::Open(Vec::new()));
    judged.allowed();
    assert!(judged.took < bound, "{judged:?}");
    let judged = setup.pull(&unsigned, &unsigned_digest, Stdin::Open(Vec::new()));
    judged.blocked(1, &unsigned);

    // The whole descriptor written, never closed: used.
    let open = |json: &str| Stdin::Open(format!("{json}\n").into_bytes());
    let judged = setup.pull(&name, &digest, open(&descriptor));
    judged.allowed();
    assert!(judged.took < bound, "{judged:?}");
    let judged = setup.pull(&name, &digest, open(&unsigned_descriptor));
    assert!(judged.blocked(2, &name).contains("not -digest"), "{judged:?}");

    // Half a descriptor, never closed: blocked, not waited for forever.
    let judged = setup.pull(&name, &digest, Stdin::Open(descriptor.as_bytes()[..30].to_vec()));
    assert!(judged.blocked(2, &name).contains("incomplete descriptor"), "{judged:?}");
    assert!(judged.took < bound, "{judged:?}");
}

#[test]
fn the_digest_containerd_resolved_is_judged_never_the_tag_again() {
    let setup = Setup::new();
    let registry = &setup.registry;
    // app:v1 is signed when containerd resolves it, then moved to an unsigned image.
    push_sample(registry, "prod/moving", "v1", 51);
    sign(&registry.image("prod/moving:v1"), &setup.release);
    let (name, signed_digest, signed_descriptor) = resolved(registry, "prod/moving", "v1");
    push_sample(registry, "prod/moving", "v1", 52);
    let (_, moved_digest, moved_descriptor) = resolved(registry, "prod/moving", "v1");
    assert_ne!(signed_digest, moved_digest);
    let reason = setup
        .pull(&name, &signed_digest, Stdin::Descriptor(signed_descriptor))
        .allowed()
        .to_owned();
    assert!(reason.contains(&signed_digest), "{reason}");
    setup
        .pull(&name, &moved_digest, Stdin::Descriptor(moved_descriptor.clone()))
        .blocked(1, &moved_digest);

    // And the other way: resolved while unsigned, the tag then moved to a
    // signed image: still the unsigned digest judged, still blocked.
    push_sample(registry, "prod/moving", "v1", 53);
    sign(&registry.image("prod/moving:v1"), &setup.release);
    let (_, now_signed, _) = resolved(registry, "prod/moving", "v1");
    assert_ne!(now_signed, moved_digest);
    setup
        .pull(&name, &moved_digest, Stdin::Descriptor(moved_descriptor))
        .blocked(1, &moved_digest);
}

#[test]
fn an_unknown_digest_is_blocked() {
    let setup = Setup::new();
    let (name, digest, descriptor) = setup.resolved("prod/app:signed");
    setup.pull(&name, &digest, Stdin::Descriptor(descriptor)).allowed();
    let unknown = format!("sha256:{}", "0".repeat(64));
    let judged = setup.pull(&name, &unknown, Stdin::Bytes(Vec::new()));
    let reason = judged.blocked(2, &format!("{name}@{unknown}"));
    assert!(
        reason.contains("not found") || reason.contains("not exist"),
        "{judged:?}"
    );
    // The digest of an image of another repository is unknown in this one.
    let (_, elsewhere, _) = resolved(&setup.registry, "elsewhere", "v1");
    setup
        .pull(&name, &elsewhere, Stdin::Bytes(Vec::new()))
        .blocked(2, &elsewhere);
}

#[test]
fn a_registry_down_or_stalled_blocks_within_the_deadline() {
    let setup = Setup::new();
    let (name, digest, descriptor) = setup.resolved("prod/app:signed");
    setup
        .pull(&name, &digest, Stdin::Descriptor(descriptor.clone()))
        .allowed();

    // Nothing listens there any more.
    let Setup { registry, dir, .. } = setup;
    let host = registry.host();
    drop(registry);
    // (Each policy below replaces dir/policy.yaml, next to release.pub.)
    let enforce = policy(dir.path(), &host, "prod", "enforce");
    let judged = pull(&enforce, &[], &name, &digest, Stdin::Descriptor(descriptor.clone()));
    let reason = judged.blocked(2, &name);
    assert!(reason.contains("by rule prod (enforce)"), "{judged:?}");
    // A warn rule never blocks, not even then, and says why it would.
    let warn = policy(dir.path(), &host, "prod", "warn");
    let judged = pull(&warn, &[], &name, &digest, Stdin::Descriptor(descriptor));
    assert!(judged.allowed().contains("could not be evaluated"), "{judged:?}");

    // A registry that accepts and never answers: the own deadline.
    let stall = Hostile::start(Mode::Stall);
    let image = stall.image("prod/app:v1");
    let stalled = policy(dir.path(), &stall.host(), "prod", "enforce");
    let digest = stall.tiny_image().manifest.digest.clone();
    let judged = pull(
        &stalled,
        &["--timeout", "2s"],
        &image,
        &digest,
        Stdin::Bytes(Vec::new()),
    );
    let reason = judged.blocked(2, &image);
    assert!(reason.contains("not judged within --timeout 2s"), "{judged:?}");
    assert!(judged.took < Duration::from_secs(4), "{judged:?}");
    // The default deadline is inside containerd's 10 s too.
    let judged = pull(&stalled, &[], &image, &digest, Stdin::Bytes(Vec::new()));
    assert!(judged.blocked(2, &image).contains("--timeout 8s"), "{judged:?}");
}

#[test]
fn credentials_come_from_the_nodes_docker_config() {
    let registry = Registry::start_tls_auth("node", "s3cret");
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("layout");
    let digest = sample_layout(&layout).manifest.digest;
    let image = registry.image("prod/app:v1");
    let ca = registry.ca_cert_path();
    let docker = dir.path().join("docker");
    registry.write_docker_config(&docker);
    let config = [("DOCKER_CONFIG", s(&docker))];
    let source = format!("oci:{}:v1", s(&layout));
    sigil(&["copy", &source, &image, "--registry-cacert", s(&ca)])
        .env("DOCKER_CONFIG", &docker)
        .run()
        .assert_exit(0);
    let (key, _) = keypair(dir.path(), "release");
    sigil(&["sign", &image, "--key", s(&key), "--registry-cacert", s(&ca)])
        .env("DOCKER_CONFIG", &docker)
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    let policy = policy(dir.path(), &registry.host(), "prod", "enforce");
    let run = |wrapper: &[&str], env: &[(&str, &str)]| {
        let mut flags = vec![
            "containerd-verifier",
            "--policy",
            s(&policy),
            "--registry-cacert",
            s(&ca),
        ];
        flags.extend_from_slice(wrapper);
        containerd_runs(
            Path::new(SIGIL),
            &flags,
            &["-name", &image, "-digest", &digest, "-stdin-media-type", MEDIA_TYPE],
            Stdin::Bytes(Vec::new()),
            env,
        )
    };
    run(&[], &config).allowed();
    let host = registry.host();
    run(
        &[
            "--registry-host",
            &host,
            "--registry-username",
            "node",
            "--registry-password",
            "s3cret",
        ],
        &[],
    )
    .allowed();
    // No credentials, or wrong ones: blocked, saying so.
    let judged = run(&[], &[]);
    judged.blocked(2, &image);
    let judged = run(
        &[
            "--registry-host",
            &host,
            "--registry-username",
            "node",
            "--registry-password",
            "wrong",
        ],
        &[],
    );
    judged.blocked(2, &image);
    // Credentials without the one registry they are for: not sent anywhere.
    let judged = run(&["--registry-username", "node", "--registry-password", "s3cret"], &[]);
    assert!(judged.blocked(2, &image).contains("--registry-host"), "{judged:?}");
}

#[test]
fn a_reason_is_never_longer_than_containerd_reads() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, _) = keypair(dir.path(), "release");
    push_sample(&registry, "prod/app", "signed", 61);
    push_sample(&registry, "prod/app", "unsigned", 62);
    sign(&registry.image("prod/app:signed"), &release);
    // A rule name of 40,000 characters: every reason names it.
    let rule = "r".repeat(40_000);
    let policy = policy(dir.path(), &registry.host(), &rule, "enforce");
    let run = |policy: &Path, tag: &str| {
        let (name, digest, descriptor) = resolved(&registry, "prod/app", tag);
        let judged = pull(policy, &[], &name, &digest, Stdin::Descriptor(descriptor));
        (name, judged)
    };
    let (name, judged) = run(&policy, "unsigned");
    let reason = judged.blocked(1, &name);
    assert!(reason.len() < OUTPUT_LIMIT && reason.ends_with('…'), "{}", reason.len());
    let (_, judged) = run(&policy, "signed");
    assert!(judged.allowed().ends_with('…'), "{judged:?}");
    // A broken policy whose every diagnostic repeats the rule name.
    let broken = write_policy(
        dir.path(),
        &format!("rules:\n  - name: {rule}\n    images: [\"**\"]\n    signatures: {{anyOf: [nobody]}}\n"),
    );
    let (name, judged) = run(&broken, "signed");
    assert!(judged.blocked(2, &name).contains("error"), "{judged:?}");
}

#[test]
fn flags_containerd_did_not_send_as_expected_block_with_a_reason() {
    let setup = Setup::new();
    let (name, digest, _) = setup.resolved("prod/app:signed");
    let policy = s(&setup.policy);
    let sigil_bin = Path::new(SIGIL);
    let run =
        |wrapper: &[&str], bindir: &[&str]| containerd_runs(sigil_bin, wrapper, bindir, Stdin::Bytes(Vec::new()), &[]);
    let wrapper = ["containerd-verifier", "--policy", policy];
    // The control: Go's other spellings of the same flags.
    run(&wrapper, &["--name", &name, &format!("-digest={digest}")]).allowed();
    for (bindir, says) in [
        (
            vec!["-digest", digest.as_str(), "-stdin-media-type", MEDIA_TYPE],
            "-name is missing",
        ),
        (
            vec!["-name", name.as_str(), "-stdin-media-type", MEDIA_TYPE],
            "-digest is missing",
        ),
        (vec![], "-name is missing"),
        (
            vec![
                "-name",
                name.as_str(),
                "-digest",
                digest.as_str(),
                "-platform",
                "linux/arm64",
            ],
            "unknown containerd verifier flag -platform",
        ),
        (
            vec![
                "-name",
                name.as_str(),
                "-digest",
                digest.as_str(),
                "-stdin-media-type",
                "application/json",
            ],
            "not supported",
        ),
        (vec!["-name", name.as_str(), "-digest", "sha256:abc"], "is not a digest"),
        (vec!["-name", name.as_str(), "-digest"], "needs a value"),
    ] {
        let judged = run(&wrapper, &bindir);
        assert_eq!(judged.code, Some(2), "{bindir:?}: {judged:?}");
        assert!(judged.reason().contains(says), "{bindir:?}: {judged:?}");
    }
    // The wrapper forgot --policy: clap's error, on stdout too.
    let judged = run(&["containerd-verifier"], &["-name", &name, "-digest", &digest]);
    assert_eq!(judged.code, Some(2), "{judged:?}");
    assert!(judged.reason().contains("--policy"), "{judged:?}");
}

#[test]
fn the_deploy_wrapper_runs_sigil_as_containerd_expects() {
    let setup = Setup::new();
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/containerd/sigil-verifier");
    let run = |name: &str, digest: &str, sigil_bin: &str| {
        containerd_runs(
            &wrapper,
            &[],
            &["-name", name, "-digest", digest, "-stdin-media-type", MEDIA_TYPE],
            Stdin::Bytes(Vec::new()),
            &[("SIGIL", sigil_bin), ("SIGIL_POLICY", s(&setup.policy))],
        )
    };
    let (name, digest, _) = setup.resolved("prod/app:signed");
    run(&name, &digest, SIGIL).allowed();
    let (unsigned, unsigned_digest, _) = setup.resolved("prod/app:unsigned");
    run(&unsigned, &unsigned_digest, SIGIL).blocked(1, &unsigned);
    // sigil not installed where the wrapper looks: blocked, saying so.
    let missing = setup.dir.path().join("no-sigil");
    let judged = run(&name, &digest, s(&missing));
    assert!(judged.blocked(2, &name).contains("no-sigil"), "{judged:?}");

    // The config snippet names the real plugin and leaves sigil its deadline.
    let config =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/containerd/config.toml"))
            .expect("config.toml");
    assert!(
        config.contains("[plugins.'io.containerd.image-verifier.v1.bindir']"),
        "{config}"
    );
    for key in ["bin_dir = ", "max_verifiers = ", "per_verifier_timeout = '10s'"] {
        assert!(config.contains(key), "{key}: {config}");
    }
    let script = std::fs::read_to_string(&wrapper).expect("wrapper");
    assert!(script.contains("--timeout 8s"), "{script}");
}
