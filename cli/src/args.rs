//! The command line, as clap structures: every command's, in this one
//! module. Values with a syntax (durations, byte counts, times) are parsed
//! here, by clap; each command turns the rest into validated settings
//! before any work starts.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sigil_verifier::gather;
use time::OffsetDateTime;

/// Sign container images, attach evidence to them, and verify them before they run.
///
/// sigil reads and writes what cosign does: signatures under `sha256-HEX.sig`
/// tags, or cosign v3 Sigstore bundles as OCI 1.1 referrers. Images live in a
/// registry (`HOST[:PORT]/REPO[:TAG][@sha256:HEX]`, normalised as docker does)
/// or in an OCI layout directory (`oci:DIR[:TAG]`, `oci:DIR@sha256:HEX`).
///
/// Exit codes: 0 verified, 1 verification failed, 2 usage or operational error.
///
/// Start here:
///   sigil demo                                   # the whole job on a built-in sample
///   sigil key generate --output-key-prefix release
///   sigil sign registry.example/app:1.2 --key release.key
///   sigil verify registry.example/app:1.2 --key release.pub
#[derive(Debug, Parser)]
#[command(
    name = "sigil",
    version,
    max_term_width = 100,
    propagate_version = true,
    verbatim_doc_comment
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Report format: `human` for people, `json` for machines (one versioned shape).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// Log what sigil does to stderr (-v: info, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, show and import signing keys (cosign's key file format).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign images by digest and store the signatures next to them.
    ///
    /// The image is resolved to its manifest digest once; the digest is what is
    /// signed. Signing again adds a signature and never drops one.
    ///
    /// Examples:
    /// Without --key the signature is keyless (as cosign's): an ephemeral key,
    /// a Fulcio certificate for the CI job's OIDC identity and a Rekor entry,
    /// all verified against the trusted root before anything is pushed.
    ///
    /// Examples:
    ///   sigil sign registry.example/app:1.2 --key release.key
    ///   sigil sign oci:./build:latest --key release.key -a git-sha=abc123 --format bundle
    ///   sigil sign registry.example/app:1.2          # keyless, in GitHub Actions or with SIGSTORE_ID_TOKEN
    #[command(verbatim_doc_comment)]
    Sign(SignArgs),
    /// Verify image signatures with a key or a signer identity, or images against a policy.
    ///
    /// With --key or an identity (--certificate-identity[-regexp] with
    /// --certificate-oidc-issuer[-regexp], verified offline against the Sigstore
    /// trusted root, or --certificate-roots for your own PKI): every signature
    /// found (both storage forms) is checked over its exact payload and must
    /// name the image's own digest. An image passes when at least one signature
    /// is valid and carries every required annotation.
    ///
    /// With --policy: each image gets one decision (allow or deny) from the
    /// policy file, with the rule, the mode and every check's reason.
    ///
    /// Examples:
    ///   sigil verify registry.example/app:1.2 --key release.pub
    ///   sigil verify img1 img2 img3 --key release.pub -a env=prod --output json
    ///   sigil verify ghcr.io/acme/app:1.2 \
    ///     --certificate-oidc-issuer https://token.actions.githubusercontent.com \
    ///     --certificate-identity-regexp '^https://github\.com/acme/app/\.github/workflows/.*$'
    ///   sigil verify $(cat deploy-images.txt) --policy policies/production.yaml
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
    /// Attach a signed in-toto attestation (SBOM, provenance, ...) to images.
    ///
    /// The predicate is checked before anything is signed: SPDX 2.2/2.3 and
    /// CycloneDX 1.4-1.7 must be documents of their kind, SLSA provenance must
    /// have its required fields. It is wrapped in an in-toto Statement v1 whose
    /// subject is the image digest and signed as a DSSE envelope.
    ///
    /// --type takes cosign's names with cosign's meanings, or a predicate-type
    /// URI: custom (the default: the file's text wrapped as {"Data", "Timestamp"}),
    /// slsaprovenance and slsaprovenance02 (SLSA provenance v0.2),
    /// slsaprovenance1 (SLSA provenance v1), link (in-toto link), spdx (the
    /// SPDX document's text as a string), spdxjson (SPDX JSON), cyclonedx,
    /// vuln (cosign vulnerability scan), openvex, and sigil's vsa.
    ///
    /// Examples:
    ///   sigil attest registry.example/app:1.2 --key release.key --type cyclonedx --predicate bom.json
    ///   sigil provenance registry.example/app:1.2 --output-file prov.json
    ///   sigil attest registry.example/app:1.2 --key release.key \
    ///     --type slsaprovenance1 --predicate prov.json
    #[command(verbatim_doc_comment)]
    Attest(AttestArgs),
    /// Verify attestations of one predicate type with a key or a signer identity.
    ///
    /// Each attestation must verify (DSSE over the exact payload) with --key or,
    /// keyless, with the identity flags (cosign v3 and GitHub bundles, verified
    /// offline against the Sigstore trusted root), name the image's digest as
    /// a subject, and have exactly the predicate type asked for. Prints the
    /// verified statements.
    ///
    /// Examples:
    ///   sigil verify-attestation registry.example/app:1.2 --type slsaprovenance1 --key release.pub
    ///   sigil verify-attestation registry.example/app:1.2 --type cyclonedx --key release.pub --output json
    #[command(verbatim_doc_comment)]
    VerifyAttestation(VerifyAttestationArgs),
    /// Write a SLSA provenance v1 predicate for the CI run that is running.
    ///
    /// Reads GitHub Actions or GitLab CI variables; every field can be set or
    /// overridden with a flag, for other CI systems. Deterministic: the same
    /// inputs give the same bytes. The result is ready for
    /// `sigil attest --type slsaprovenance1 --predicate FILE`.
    ///
    /// Nothing is guessed: the builder id, build type, source repository and
    /// source ref are required (every missing one is named at once); on GitHub
    /// Actions the builder follows RUNNER_ENVIRONMENT (github-hosted or
    /// self-hosted), and without it the builder is unknown; times must be
    /// RFC 3339 and are written in UTC.
    ///
    /// Example (outside a recognised CI):
    ///   sigil provenance registry.example/app:1.2 --builder-id https://ci.example/builders/linux \
    ///     --build-type https://ci.example/buildtypes/make/v1 --source-repository https://git.example/acme/app \
    ///     --source-ref refs/tags/v1.2 --source-commit 0123456789abcdef0123456789abcdef01234567
    #[command(verbatim_doc_comment)]
    Provenance(Box<ProvenanceArgs>),
    /// Show everything attached to an image: signatures, attestations, SBOMs, referrers.
    ///
    /// Both storage forms are listed (cosign's tags and OCI 1.1 referrers,
    /// through the referrers API or the fallback tag), with referrers of
    /// referrers, media types, sizes and digests; for an index, each platform too.
    ///
    /// Example:
    ///   sigil tree registry.example/app:1.2
    #[command(verbatim_doc_comment)]
    Tree(TreeArgs),
    /// Audit images: everything attached, who signed it, what is inside, what it was built from.
    ///
    /// For each image: every signature and attestation (both storage forms,
    /// referrers of referrers) with its signer and verification result,
    /// summaries of SBOMs, provenance and vulnerability scans, and the base
    /// image chain. Without --policy nothing is verified: signers are shown
    /// as stated and marked unverified. With --policy: each piece verified
    /// against the policy's publishers, the decision and every check, and
    /// the exit code of `verify --policy` (0 allowed, 1 denied, 2 not evaluated).
    ///
    /// Example:
    ///   sigil audit registry.example/app:1.2 registry.example/api:3 --policy policy.yaml --html audit.html
    #[command(verbatim_doc_comment)]
    Audit(AuditArgs),
    /// Check policy files, test them against recorded evidence, export them.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Copy an image with all its signatures, attestations and referrers.
    ///
    /// Digests are unchanged, so signatures keep verifying on the far side.
    /// The air-gapped path: registry -> `oci:DIR` -> (carry the directory) -> registry.
    ///
    /// Examples:
    ///   sigil copy registry.example/app:1.2 oci:./export:app
    ///   sigil copy oci:./export:app mirror.internal:5000/app:1.2
    #[command(verbatim_doc_comment)]
    Copy(CopyArgs),
    /// Show the whole job on a built-in sample, with nothing to install or start.
    ///
    /// In a fresh OCI layout directory, a release signs four sample images and
    /// attests an SBOM and a SLSA provenance; tampered twins are refused; a policy
    /// allows the good image and denies an unsigned one, one signed by another key
    /// and one whose SBOM lists a denied package, each with its reason. Writes the
    /// HTML audit report of the four and prints its path, and the commands to
    /// repeat it by hand. Without --dir the files are removed after;
    /// a --dir an earlier demo made is cleared first, any other non-empty one refused.
    ///
    /// Example:
    ///   sigil demo --dir ./sigil-demo
    #[command(verbatim_doc_comment)]
    Demo(DemoArgs),
    /// Verify a Sigstore bundle for a blob, offline, by identity or key.
    ///
    /// Certificate chain to a Fulcio CA valid at the signing time proven by the
    /// transparency log or a timestamp, SCTs, the log entry's proof and its match
    /// with the bundle, then the identity. Uses the embedded public-good trusted
    /// root unless --trusted-root is given; never touches the network.
    /// With --key: the key's signature, and the log entries the bundle has
    /// (those of `sigil sign-blob` and `attest-blob` have none and need none).
    /// With --type: an in-toto statement of exactly that predicate type.
    ///
    /// Examples:
    ///   sigil verify-bundle --bundle app.sigstore.json app.tar.gz \
    ///     --certificate-identity-regexp '^https://github.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*$' \
    ///     --certificate-oidc-issuer https://token.actions.githubusercontent.com
    ///   sigil verify-bundle --bundle b.json --key publisher.pub sha256:6ae8a755...
    ///   sigil verify-bundle --bundle app.intoto.json --key release.pub --type slsaprovenance1 app.tar.gz
    #[command(verbatim_doc_comment)]
    VerifyBundle(VerifyBundleArgs),
    /// Sign a file into a Sigstore bundle v0.3, with a key or keyless (cosign sign-blob).
    ///
    /// With --key the bundle holds a message signature over the file (its
    /// sha256 as messageDigest; sha384 for a P-384 key) and the key's hint,
    /// and no transparency-log entry unless --tlog-upload: signing is offline.
    /// Without --key it is keyless: a Fulcio certificate and a Rekor entry with
    /// inclusion proof, verified before the bundle is written.
    /// `sigil verify-bundle` and `cosign verify-blob --new-bundle-format`
    /// verify it. The bundle file is replaced atomically.
    ///
    /// Example:
    ///   sigil sign-blob app.tar.gz --key release.key --bundle app.tar.gz.sigstore.json
    #[command(verbatim_doc_comment)]
    SignBlob(SignBlobArgs),
    /// Attest a file into a Sigstore bundle v0.3, with a key or keyless (cosign attest-blob).
    ///
    /// The predicate is checked and encoded as `sigil attest` does (--type takes
    /// the same cosign short names or a URI), wrapped in an in-toto Statement v1
    /// whose one subject is the file (its base name and sha256), and signed as
    /// a DSSE envelope. With --key offline (no transparency-log entry unless
    /// --tlog-upload); without --key keyless, as `sign-blob`. `sigil
    /// verify-bundle --type T` verifies it. The bundle file is replaced atomically.
    ///
    /// Example:
    ///   sigil attest-blob app.tar.gz --key release.key --type slsaprovenance1 \
    ///     --predicate prov.json --bundle app.tar.gz.intoto.sigstore.json
    #[command(verbatim_doc_comment)]
    AttestBlob(AttestBlobArgs),
    /// Serve a Kubernetes admission webhook that decides by a policy file.
    ///
    /// AdmissionReview v1 over HTTPS: POST /validate allows a workload only
    /// when every image it names is allowed by the policy (the same file and
    /// the same decisions as `sigil verify --policy`); POST /mutate also pins
    /// each verified tag to the digest that was verified. Images are read from
    /// Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
    /// ReplicationControllers, PodTemplates and pods/ephemeralcontainers.
    ///
    /// Fail closed: images no rule matches are denied (without registry I/O);
    /// a registry that does not answer before the apiserver's ?timeout= is a
    /// denial saying so. Decisions are cached by policy, reference and digest,
    /// never by tag; tags are resolved again on every request (--tag-ttl).
    /// The policy, its key and root files and the TLS files are reloaded when
    /// they change; a broken policy keeps the last good one serving.
    ///
    /// Also: GET /healthz, /readyz (the policy serving, a failed reload),
    /// /metrics (Prometheus text). Deployment manifests: deploy/kubernetes/.
    ///
    /// Example:
    ///   sigil admission --policy /etc/sigil/policy.yaml --listen 0.0.0.0:8443 \
    ///     --tls-cert /etc/sigil/tls/tls.crt --tls-key /etc/sigil/tls/tls.key
    #[command(verbatim_doc_comment)]
    Admission(Box<AdmissionArgs>),
    /// Judge an image pull for containerd 2.x, as an image-verifier `bin_dir` executable.
    ///
    /// containerd runs every executable of its image-verifier `bin_dir` before a
    /// pull through its transfer service (CRI pulls since containerd 2.1, `ctr
    /// image pull`) as `BIN -name REF -digest sha256:HEX -stdin-media-type
    /// application/vnd.oci.descriptor.v1+json`, with the resolved descriptor on
    /// stdin; exit 0 allows the pull, anything else blocks it, and stdout is the
    /// reason containerd reports. Install a wrapper that runs
    /// `sigil containerd-verifier --policy FILE "$@"` (deploy/containerd/).
    ///
    /// The digest containerd resolved is judged, as REPO@DIGEST, by the policy
    /// (the same decisions as `sigil verify --policy`); the tag is never
    /// resolved again. A descriptor on stdin must name the same digest. Exit 0
    /// allowed, 1 denied, 2 not judged (bad flags, broken policy, registry down,
    /// --timeout reached): both block, with one line on stdout naming the image,
    /// the rule and the reason (at most 32 KiB, containerd's limit).
    ///
    /// Registry credentials: the node's docker config.json (DOCKER_CONFIG, else
    /// ~/.docker), or --registry-username/--registry-password for --registry-host.
    ///
    /// Example (what containerd runs, through the wrapper):
    ///   sigil containerd-verifier --policy /etc/sigil/policy.yaml \
    ///     -name registry.acme.example/app:1.2 -digest sha256:6ae8a755... \
    ///     -stdin-media-type application/vnd.oci.descriptor.v1+json < descriptor.json
    #[command(verbatim_doc_comment)]
    ContainerdVerifier(Box<ContainerdVerifierArgs>),
    /// A read-only registry in front of --upstream that serves only what the
    /// policy allows: point containerd, CRI-O, podman or a CI runner at it as
    /// the registry itself (not as a mirror: mirrors fall back to the
    /// upstream on any error). Repository NAME at the gate is UPSTREAM/NAME
    /// for the policy.
    ///
    /// A manifest (by tag or digest, an index or its child) is served only
    /// when the policy allows the image; otherwise 403 DENIED with the image,
    /// the rule and the reason. Blobs only of allowed images and their
    /// attachments (signatures, attestations, SBOMs, referrers), which pass
    /// through so a verifier downstream can check again. Writes are refused;
    /// bytes are streamed and checked against their digests; an upstream
    /// that fails is a 502/503/504, never a manifest served unjudged.
    ///
    /// The gate reads the upstream with its own credentials (the registry
    /// flags, ~/.docker/config.json); clients are anonymous, or users of
    /// --htpasswd (bcrypt). Decisions are cached as in `sigil admission`.
    ///
    /// Example:
    ///   sigil gate --policy /etc/sigil/policy.yaml --listen 0.0.0.0:5000 \
    ///     --upstream registry.example --tls-cert gate.crt --tls-key gate.key
    #[command(verbatim_doc_comment)]
    Gate(Box<GateArgs>),
    /// Keep the Sigstore trusted root fresh through TUF, and show the one in use.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Print sigil's version, platform and the trusted root it embeds.
    ///
    /// Example:
    ///   sigil version --output json
    #[command(verbatim_doc_comment)]
    Version,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// Examples:
    ///   sigil completion bash > /etc/bash_completion.d/sigil
    ///   sigil completion zsh > "${fpath[1]}/_sigil"
    ///   sigil completion fish > ~/.config/fish/completions/sigil.fish
    #[command(verbatim_doc_comment)]
    Completion {
        /// The shell to write the script for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Fetch the trusted root and signing config through TUF into sigil's cache.
    ///
    /// Runs the TUF client workflow against the mirror: the root chain (each
    /// new root signed by the old and the new thresholds), timestamp,
    /// snapshot and targets, with rollback and freeze protection and expiry,
    /// then the `trusted_root.json` and `signing_config.v0.2.json` targets.
    /// The first update of a mirror starts from --root, else from the
    /// public-good root.json embedded in sigil; later ones start from the
    /// cached root and versions. The state is written to SIGIL_CACHE_DIR,
    /// else $XDG_CACHE_HOME/sigil, else ~/.cache/sigil, only once all of it
    /// verified: a failed update keeps the last good one.
    ///
    /// Verification without --trusted-root then uses the cached trusted root
    /// while its metadata is fresh, else the embedded one (with a warning
    /// when a cache exists); it never goes to the network by itself.
    ///
    /// Examples:
    ///   sigil trust update
    ///   sigil trust update --mirror https://tuf.example --root tuf-root.json
    #[command(verbatim_doc_comment)]
    Update(TrustUpdateArgs),
    /// Show the trusted root verification uses without --trusted-root.
    ///
    /// `embedded` or the mirror it came from (as given to `trust update`),
    /// the sha256 of its trusted_root.json bytes, and until when its TUF
    /// metadata is valid. A cached state that is not used (expired, damaged)
    /// is reported on stderr.
    ///
    /// Example:
    ///   sigil trust show --output json
    #[command(verbatim_doc_comment)]
    Show,
}

#[derive(Debug, Args)]
pub struct TrustUpdateArgs {
    /// The TUF repository: https, or plain http to a loopback host.
    #[arg(long, value_name = "URL", default_value = "https://tuf-repo-cdn.sigstore.dev")]
    pub mirror: String,
    /// The TUF root.json to start from when the cache holds nothing for the
    /// mirror (default: the embedded public-good root). Never replaces a
    /// cached root.
    #[arg(long, value_name = "ROOT.json")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate an ECDSA P-256 key pair: PREFIX.key (encrypted) and PREFIX.pub.
    ///
    /// The password comes from SIGIL_PASSWORD, else COSIGN_PASSWORD, else a
    /// prompt on the terminal. An empty variable means an empty password.
    ///
    /// Example:
    ///   SIGIL_PASSWORD=... sigil key generate --output-key-prefix release
    #[command(verbatim_doc_comment)]
    Generate {
        /// Write PREFIX.key and PREFIX.pub.
        #[arg(long, value_name = "PREFIX", default_value = "cosign")]
        output_key_prefix: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Print the public key of an encrypted key file.
    ///
    /// Example:
    ///   sigil key public --key release.key > release.pub
    #[command(verbatim_doc_comment)]
    Public {
        /// The encrypted private key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Import a PKCS#8, SEC1 or PKCS#1 private key PEM into cosign's encrypted format.
    ///
    /// ECDSA P-256/P-384/P-521, Ed25519 and RSA 2048-4096 keys are accepted.
    ///
    /// Example:
    ///   sigil key import --key ec-private.pem --output-key-prefix imported
    #[command(verbatim_doc_comment)]
    Import {
        /// The unencrypted private key PEM to import.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Write PREFIX.key and PREFIX.pub.
        #[arg(long, value_name = "PREFIX", default_value = "import-cosign")]
        output_key_prefix: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

/// `sigil policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file and report every problem at once.
    ///
    /// Each problem has a stable code (unknown-field, unknown-publisher,
    /// empty-any-of, overlapping-rules, expired-exemption, ...) and its
    /// file:line:column. Exit 2 when any is an error; warnings alone exit 0.
    ///
    /// Example:
    ///   sigil policy lint policies/production.yaml
    #[command(verbatim_doc_comment)]
    Lint {
        /// The policy file (YAML or JSON).
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
        /// Judge exemption expiry at this time (RFC 3339) instead of now.
        #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
        at: Option<OffsetDateTime>,
    },
    /// Run a policy against recorded evidence and a file of expectations.
    ///
    /// Images are OCI layouts written by `sigil copy` (signatures and
    /// attestations included); nothing is fetched from a network. Exit 0
    /// when every expectation holds, 1 when one does not, 2 on errors.
    ///
    /// Each case names an image and `expect: allow` or `deny`; optionally
    /// `reason: TEXT` (some check's reason contains TEXT) and `code: CODE`
    /// (some failed check has that reason code, as in the JSON report's
    /// `code`: no-matching-rule, signature-invalid, identity-mismatch,
    /// content-check-failed, ...; docs/report-schema.md lists them all).
    ///
    /// Example:
    ///   sigil policy test policies/production.yaml policies/tests/production.yaml
    #[command(verbatim_doc_comment)]
    Test {
        /// The policy file.
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
        /// The expectations file (kind: PolicyTest).
        #[arg(value_name = "EXPECTATIONS")]
        expectations: PathBuf,
        /// Evaluation time for cases that do not set one (RFC 3339).
        #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
        at: Option<OffsetDateTime>,
    },
    /// Write a policy in another tool's format, for enforcement elsewhere.
    ///
    /// `containers-policy`: the containers-policy.json(5) that CRI-O, podman
    /// and skopeo read (containers/image). All or nothing: when any rule,
    /// pattern or exemption cannot be expressed exactly, nothing is written,
    /// each one is named on stderr with the reason, and the exit is 2.
    ///
    /// Mapping:
    ///   no rule matches (deny)       -> "default": [{"type": "reject"}]
    ///   images HOST/NS/**            -> docker scope HOST/NS (it also covers the repository HOST/NS)
    ///   images HOST/NS/REPO (exact)  -> docker scope HOST/NS/REPO
    ///   images **                    -> docker scope ""
    ///   anyOf: [KEY]                 -> sigstoreSigned keyData, signedIdentity matchRepository
    ///   anyOf: [KEY, KEY...]         -> sigstoreSigned keyDatas (containers/image >= 5.33)
    ///   allOf: [KEY, KEY...]         -> one sigstoreSigned per key (all required)
    ///   allowUnverified: true        -> insecureAcceptAnything
    /// Refused: attestations, thresholds, signed annotations, keyless and
    /// certificate publishers, mode warn or audit, patterns with other
    /// wildcards, tags, digests or oci:, two rules on one scope, exemptions.
    ///
    /// Clients read cosign signatures only with `use-sigstore-attachments:
    /// true` in containers-registries.d(5).
    ///
    /// Example:
    ///   sigil policy export --format containers-policy policies/production.yaml \
    ///     --output-file /etc/containers/policy.json
    #[command(verbatim_doc_comment)]
    Export {
        /// The policy file.
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
        /// The format to write.
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: ExportFormat,
        /// Write here instead of stdout (only when the export succeeds).
        #[arg(long, value_name = "FILE")]
        output_file: Option<PathBuf>,
    },
}

/// What `sigil policy export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// containers-policy.json(5), for CRI-O, podman and skopeo.
    ContainersPolicy,
}

/// Verify a Sigstore bundle for a file or digest, offline.
///
/// The bundle (v0.1, v0.2 or v0.3; a message signature or a DSSE envelope) must
/// be signed either by a Fulcio certificate whose identity and OIDC issuer
/// match, chained to a certificate authority of the trusted root and valid
/// at the time its transparency-log entry or RFC 3161 timestamp proves, or by
/// the given public key. Nothing is fetched: the public-good trusted root is
/// built in.
///
/// Examples:
///   sigil verify-bundle --bundle app.sigstore.json \
///     --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0 \
///     --certificate-oidc-issuer https://token.actions.githubusercontent.com app.tar.gz
///   sigil verify-bundle --bundle b.json --key release.pub sha256:6ae8a75555209fd6c44157c0aed8016e763ff435a19cf186f76863140143ff72
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct VerifyBundleArgs {
    /// The Sigstore bundle (JSON) to verify.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,

    /// Verify a key-signed bundle with this public key (PKIX PEM) instead of an identity.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = [
            "certificate_identity",
            "certificate_identity_regexp",
            "certificate_oidc_issuer",
            "certificate_oidc_issuer_regexp"
        ]
    )]
    pub key: Option<PathBuf>,

    #[command(flatten)]
    pub identity: IdentityArgs,

    /// Also require a DSSE bundle whose in-toto statement has this predicate
    /// type: a cosign short name (as `attest --type`) or a URI, matched exactly.
    #[arg(long = "type", value_name = "TYPE")]
    pub predicate_type: Option<String>,

    /// The artifact: a file, or a digest when no such file exists: `sha256:` + 64,
    /// `sha384:` + 96 or `sha512:` + 128 hex digits (npm provenance binds sha512).
    #[arg(value_name = "FILE_OR_DIGEST")]
    pub file_or_digest: String,
}

#[derive(Debug, Args)]
pub struct SignBlobArgs {
    /// The file to sign.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The encrypted private key (cosign format; SIGIL_PASSWORD, else
    /// COSIGN_PASSWORD). Without it the signature is keyless.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Where to write the Sigstore bundle (JSON).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub keyless: KeylessArgs,
}

#[derive(Debug, Args)]
pub struct AttestBlobArgs {
    /// The file the statement is about.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The encrypted private key (cosign format; SIGIL_PASSWORD, else
    /// COSIGN_PASSWORD). Without it the attestation is keyless.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The predicate JSON file.
    #[arg(long, value_name = "FILE")]
    pub predicate: PathBuf,
    /// The predicate type: a cosign short name (as `attest --type`) or a URI.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    pub predicate_type: String,
    /// Where to write the Sigstore bundle (JSON).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub keyless: KeylessArgs,
}

/// Keyless signing (no --key) and Rekor logging (--tlog-upload).
#[derive(Debug, Args)]
pub struct KeylessArgs {
    /// The OIDC identity token for keyless signing: the token itself, or a
    /// file holding it. Else SIGSTORE_ID_TOKEN (GitLab's id_tokens), else
    /// GitHub Actions' token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL and
    /// ACTIONS_ID_TOKEN_REQUEST_TOKEN, audience sigstore).
    #[arg(long, value_name = "TOKEN|FILE", conflicts_with = "key", hide_env_values = true)]
    pub identity_token: Option<String>,
    /// Fulcio's base URL (default: the cached TUF signing config's, else
    /// https://fulcio.sigstore.dev).
    #[arg(long, value_name = "URL", conflicts_with = "key")]
    pub fulcio_url: Option<String>,
    /// Rekor's base URL (default: the cached TUF signing config's, else
    /// https://rekor.sigstore.dev).
    #[arg(long, value_name = "URL")]
    pub rekor_url: Option<String>,
    /// Also get an RFC 3161 timestamp for each signature from this TSA URL.
    #[arg(long, value_name = "URL")]
    pub timestamp_server_url: Option<String>,
    /// Check what Fulcio and Rekor return against this trusted_root.json
    /// (default: the cached TUF root, else the embedded public-good root).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// With --key: also log each signature in Rekor and attach the entry,
    /// so `cosign verify --key` needs no --insecure-ignore-tlog. Off by
    /// default: key-based signing stays offline.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", requires = "key")]
    pub tlog_upload: bool,
    /// Accepted and ignored (cosign's confirmation skip; sigil never prompts).
    #[arg(short = 'y', long = "yes", hide = true)]
    pub yes: bool,
}

/// How to reach registries (shared by every command that talks to one).
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Registry user name (else SIGIL_REGISTRY_USERNAME, else ~/.docker/config.json).
    /// Sent only to the registry of the images, or to --registry-host.
    #[arg(long, env = "SIGIL_REGISTRY_USERNAME", value_name = "USER")]
    pub registry_username: Option<String>,
    /// Registry password or token (else SIGIL_REGISTRY_PASSWORD).
    #[arg(
        long,
        env = "SIGIL_REGISTRY_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub registry_password: Option<String>,
    /// The registry --registry-username/--registry-password are for, when the
    /// images are on several (else SIGIL_REGISTRY_HOST). Other registries get
    /// their ~/.docker/config.json entry or nothing.
    #[arg(long, env = "SIGIL_REGISTRY_HOST", value_name = "HOST[:PORT]")]
    pub registry_host: Option<String>,
    /// Longest one registry request may take, answer included (e.g. 30s, 2m;
    /// a streamed layer gets it per 64 MiB).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub registry_timeout: Duration,
    /// Trust this CA certificate (PEM) for registry TLS, besides the system roots.
    #[arg(long, value_name = "FILE")]
    pub registry_cacert: Vec<PathBuf>,
    /// Allow plain HTTP to registries that are not on loopback. Dangerous: traffic can be read and changed.
    #[arg(long)]
    pub allow_insecure_registry: bool,
}

/// Budgets for the evidence gathered for one image; beyond them the image
/// cannot be evaluated (exit 2).
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// Most bytes of evidence read for one image: signature and attestation
    /// blobs (each piece counted) and their manifests (e.g. 512MiB, 2GiB).
    #[arg(long, value_name = "BYTES", default_value = "512MiB", value_parser = parse_bytes)]
    pub max_evidence_bytes: u64,
    /// Most signatures and attestations gathered (and verified) for one image.
    #[arg(long, value_name = "COUNT", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_evidence_items: u32,
}

impl EvidenceArgs {
    /// The gathering limits these flags set.
    pub fn limits(&self) -> gather::Limits {
        gather::Limits {
            max_bytes: self.max_evidence_bytes,
            max_items: usize::try_from(self.max_evidence_items).unwrap_or(usize::MAX),
        }
    }
}

/// `--timeout`: the whole run's time limit.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Give up on the whole run after this long (e.g. 90s, 10m): exit 2 and
    /// nothing decided. Default: no limit beyond --registry-timeout per request.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// Parses `500ms`, `30s`, `2m`, `1h`, `1m30s`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration: write e.g. 500ms, 30s, 2m or 1h");
    if let Ok(seconds) = text.parse::<u64>() {
        return (seconds > 0).then(|| Duration::from_secs(seconds)).ok_or_else(bad);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: u32 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else {
            match rest.chars().next() {
                Some('s') => (Duration::from_secs(1), 1),
                Some('m') => (Duration::from_secs(60), 1),
                Some('h') => (Duration::from_secs(3600), 1),
                _ => return Err(bad()),
            }
        };
        total = unit
            .checked_mul(number)
            .and_then(|d| total.checked_add(d))
            .ok_or_else(bad)?;
        rest = &rest[len..];
    }
    (!total.is_zero()).then_some(total).ok_or_else(bad)
}

/// [`parse_duration`], where zero (`0s`, `0`) is allowed: "never reuse".
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    match text.trim_end_matches(['s', 'm', 'h']) {
        "0" => Ok(Duration::ZERO),
        _ => parse_duration(text),
    }
}

/// Parses an RFC 3339 time (`--at`).
pub fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    sigil_verifier::policy::parse_time(text)
        .ok_or_else(|| format!("{text:?} is not an RFC 3339 time (as in 2026-01-31T12:00:00Z)"))
}

/// Parses a byte count: `1048576`, or with a unit `B`, `KiB`, `MiB`, `GiB`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a byte count: write e.g. 1048576, 64MiB or 2GiB");
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let number: u64 = text[..digits].parse().map_err(|_| bad())?;
    let unit: u64 = match text[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        _ => return Err(bad()),
    };
    number.checked_mul(unit).filter(|n| *n > 0).ok_or_else(bad)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SignatureFormat {
    /// cosign's tags, `sha256-HEX.sig` / `.att` (cosign v1/v2; v3 reads them).
    Tag,
    /// cosign v3's Sigstore bundle, stored as an OCI 1.1 referrer.
    Bundle,
}

impl From<SignatureFormat> for sigil_verifier::sign::Format {
    fn from(format: SignatureFormat) -> Self {
        match format {
            SignatureFormat::Tag => Self::Tag,
            SignatureFormat::Bundle => Self::Bundle,
        }
    }
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The policy file (reloaded when it, or a file it names, changes).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Address to listen on (e.g. 0.0.0.0:5000; port 0 picks one, printed on stderr).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// The registry behind the gate.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub upstream: String,
    /// Server certificate PEM (with its chain); plain HTTP without --tls-cert and --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key PEM (PKCS#8 `PRIVATE KEY`; SEC1 and PKCS#1 are read too).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Clients must authenticate as a user of this htpasswd file (bcrypt
    /// entries, `htpasswd -B`); anonymous clients otherwise.
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
    /// How long an allowed decision is reused for the same policy, reference and digest.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration_or_zero)]
    pub cache_ttl: Duration,
    /// How long a denied decision is reused (errors are never reused).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_or_zero)]
    pub deny_cache_ttl: Duration,
    /// How long the blobs and child manifests of a served manifest stay fetchable.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub grant_ttl: Duration,
    /// The longest a request waits for a decision before it is refused.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub decision_timeout: Duration,
    /// How often the policy and TLS files are checked for changes.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub reload_interval: Duration,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

#[derive(Debug, Args)]
pub struct AdmissionArgs {
    /// The policy file (reloaded when it, or a file it names, changes).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Address to listen on (e.g. 0.0.0.0:8443; port 0 picks one, printed on stderr).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Server certificate PEM: the certificate alone or followed by its chain.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// Private key PEM (PKCS#8 `PRIVATE KEY`; SEC1 and PKCS#1 are read too).
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// How long an allowed decision is reused for the same policy, reference and digest.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration_or_zero)]
    pub cache_ttl: Duration,
    /// How long a denied decision is reused (errors are never reused).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_or_zero)]
    pub deny_cache_ttl: Duration,
    /// How long a tag's digest is reused; 0s resolves the tag on every request.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration_or_zero)]
    pub tag_ttl: Duration,
    /// How often the policy and TLS files are checked for changes.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub reload_interval: Duration,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
}

#[derive(Debug, Args)]
pub struct ContainerdVerifierArgs {
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Block with a reason when the pull is not judged within this long; keep
    /// it below containerd's `per_verifier_timeout` (10s by default), past
    /// which containerd kills the verifier and reports no reason.
    #[arg(long, value_name = "DURATION", default_value = "8s", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    /// What containerd passes, after sigil's own flags: `-name REF -digest
    /// sha256:HEX -stdin-media-type TYPE` (Go flag syntax: `-name REF`,
    /// `--name REF` and `-name=REF` are the same).
    #[arg(
        value_name = "CONTAINERD_FLAGS",
        num_args = 0..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub containerd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Images to sign (tags are resolved to digests first).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The encrypted private key (cosign format). Without it the signature is keyless.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Signed annotation, KEY=VALUE (repeatable).
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Where to store the signature.
    #[arg(long, value_enum, default_value_t = SignatureFormat::Tag)]
    pub format: SignatureFormat,
    /// For an index (multi-arch image), also sign every platform manifest.
    #[arg(long)]
    pub recursive: bool,
    /// Images signed at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    #[command(flatten)]
    pub certificate: CertificateArgs,
    /// Store the signature in the registry. `--upload=false` writes nothing
    /// there: the signature goes to the --output-* files only (tag form, one
    /// image).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub upload: bool,
    /// Also write the signature (base64, as cosign writes it) to FILE (one image, tag form).
    #[arg(long, value_name = "FILE")]
    pub output_signature: Option<PathBuf>,
    /// Also write the signed simple-signing payload to FILE (one image, tag form).
    #[arg(long, value_name = "FILE")]
    pub output_payload: Option<PathBuf>,
    /// Also write the --certificate (PEM) to FILE (one image, tag form).
    #[arg(long, value_name = "FILE", requires = "certificate")]
    pub output_certificate: Option<PathBuf>,
    #[command(flatten)]
    pub keyless: KeylessArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// A certificate for the signing key, attached as cosign's `--certificate`
/// and `--certificate-chain` do (tag form only).
#[derive(Debug, Args)]
pub struct CertificateArgs {
    /// Attach this certificate (PEM) for the key, for identity-based verification
    /// with your own PKI (`--certificate-identity ... --certificate-roots ...`).
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    /// The certificate's chain (PEM): intermediates up to the root.
    #[arg(long, value_name = "FILE", requires = "certificate")]
    pub certificate_chain: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Images to verify; identical digests are verified once.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The public key (PKIX PEM: ECDSA P-256/P-384, Ed25519 or RSA). One of
    /// --key, the identity flags or --policy is needed.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["certificate_identity", "certificate_identity_regexp"]
    )]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Decide with this policy file instead of one key (see `sigil policy lint`).
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<PathBuf>,
    /// Verify Notary Project (notation) signatures under this directory,
    /// laid out as notation's configuration directory: trustpolicy.oci.json
    /// (or trustpolicy.json) and truststore/x509/{ca,signingAuthority,tsa}/NAME/.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["key", "policy", "certificate_identity", "certificate_identity_regexp", "annotations"]
    )]
    pub notation_config: Option<PathBuf>,
    /// With --notation-config: check revocation against this CRL file (DER
    /// or PEM; repeatable). Offline: no CRL or OCSP answer is ever fetched.
    #[arg(long = "notation-crl", value_name = "FILE", requires = "notation_config")]
    pub notation_crls: Vec<PathBuf>,
    /// With --policy: evaluate as of this time (RFC 3339), e.g. to replay a decision.
    #[arg(long, value_name = "RFC3339", requires = "policy", value_parser = parse_time)]
    pub at: Option<OffsetDateTime>,
    /// With --policy: attach to every image decided a SLSA Verification Summary
    /// Attestation (predicate https://slsa.dev/verification_summary/v1, cosign's
    /// .att tag) signed with --key, which is then the private key (cosign
    /// format), or keyless without --key (as `sign` without --key).
    #[arg(long, requires = "policy")]
    pub emit_vsa: bool,
    /// The summaries' verifier.id: a URI naming sigil and this deployment.
    #[arg(
        long,
        value_name = "URI",
        default_value = "https://sigil.dev/verifier",
        requires = "emit_vsa"
    )]
    pub vsa_verifier_id: String,
    /// With --emit-vsa and no --key: sign the summaries keyless with this
    /// OIDC token (or a file holding it); else SIGSTORE_ID_TOKEN, else the
    /// GitHub Actions token endpoint. What Fulcio and Rekor return is
    /// checked against --trusted-root (else the cached or embedded root).
    #[arg(
        long,
        value_name = "TOKEN|FILE",
        requires = "emit_vsa",
        conflicts_with = "key",
        hide_env_values = true
    )]
    pub identity_token: Option<String>,
    /// With --emit-vsa keyless: Fulcio's base URL (default as `sign`).
    #[arg(long, value_name = "URL", requires = "emit_vsa", conflicts_with = "key")]
    pub fulcio_url: Option<String>,
    /// With --emit-vsa keyless: Rekor's base URL (default as `sign`).
    #[arg(long, value_name = "URL", requires = "emit_vsa", conflicts_with = "key")]
    pub rekor_url: Option<String>,
    /// With --emit-vsa keyless: an RFC 3161 timestamp for each summary from this TSA.
    #[arg(long, value_name = "URL", requires = "emit_vsa", conflicts_with = "key")]
    pub timestamp_server_url: Option<String>,
    /// Require this signed annotation, KEY=VALUE (repeatable; with --key).
    #[arg(
        short = 'a',
        long = "annotation",
        value_name = "KEY=VALUE",
        conflicts_with = "policy"
    )]
    pub annotations: Vec<String>,
    /// Images verified at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source image (registry or oci:DIR).
    #[arg(value_name = "SRC")]
    pub source: String,
    /// Destination (registry or oci:DIR, created if missing).
    #[arg(value_name = "DST")]
    pub destination: String,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the sample layout and key (a fresh temporary directory by default).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// Images to attest (tags are resolved to digests first).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The encrypted private key (cosign format). Without it the attestation is keyless.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The predicate JSON file.
    #[arg(long, value_name = "FILE")]
    pub predicate: PathBuf,
    /// The predicate type: a cosign short name (see above) or a URI.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    pub predicate_type: String,
    /// Where to store the attestation: cosign's `.att` tag (default; read by
    /// cosign v1-v3) or a cosign v3 Sigstore-bundle referrer.
    #[arg(long, value_enum, default_value_t = SignatureFormat::Tag)]
    pub format: SignatureFormat,
    /// For an index, also attest every platform manifest.
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub certificate: CertificateArgs,
    #[command(flatten)]
    pub keyless: KeylessArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct VerifyAttestationArgs {
    /// Images whose attestations to verify.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The predicate type required: a cosign short name (as `attest --type`:
    /// slsaprovenance is v0.2) or a URI, matched exactly. Default: custom.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    pub predicate_type: String,
    /// The public key (PKIX PEM). One of --key or the identity flags is needed.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["certificate_identity", "certificate_identity_regexp"]
    )]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Images fetched at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct ProvenanceArgs {
    /// The image the provenance is for (resolved to its digest, which is reported).
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Write the predicate here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// runDetails.builder.id (URI of the builder).
    #[arg(long, value_name = "URI")]
    pub builder_id: Option<String>,
    /// buildDefinition.buildType (URI).
    #[arg(long, value_name = "URI")]
    pub build_type: Option<String>,
    /// Source repository URL.
    #[arg(long, value_name = "URL")]
    pub source_repository: Option<String>,
    /// Git ref that was built (refs/tags/v1.2.3).
    #[arg(long, value_name = "REF")]
    pub source_ref: Option<String>,
    /// Git commit that was built (40 or 64 hex).
    #[arg(long, value_name = "SHA")]
    pub source_commit: Option<String>,
    /// Path of the workflow / pipeline definition.
    #[arg(long, value_name = "PATH")]
    pub workflow: Option<String>,
    /// A URL or id of this run (runDetails.metadata.invocationId).
    #[arg(long, value_name = "ID")]
    pub invocation_id: Option<String>,
    /// Runner environment (github-hosted, self-hosted, ...); on GitHub Actions it
    /// decides the builder id when --builder-id is not given.
    #[arg(long, value_name = "NAME")]
    pub runner_environment: Option<String>,
    /// What triggered the run (push, tag, schedule, ...).
    #[arg(long, value_name = "EVENT")]
    pub trigger: Option<String>,
    /// Build start time, RFC 3339 (only written when given; written in UTC).
    #[arg(long, value_name = "TIME")]
    pub started_on: Option<String>,
    /// Build finish time, RFC 3339 (only written when given; not before --started-on).
    #[arg(long, value_name = "TIME")]
    pub finished_on: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// The image to inspect.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `sigil audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The images to audit.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Verify against this policy and report its decision for every image.
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<PathBuf>,
    /// Also write a self-contained HTML report to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Evaluate the policy at this time instead of now.
    #[arg(long, value_name = "RFC3339", requires = "policy", value_parser = parse_time)]
    pub at: Option<OffsetDateTime>,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// A keyless (Fulcio) signer: who, vouched for by which OIDC issuer, under
/// which trusted root. Verification is offline.
#[derive(Debug, Args)]
pub struct IdentityArgs {
    /// The signer's exact identity (certificate SAN: email, URI or username).
    #[arg(long, value_name = "IDENTITY", conflicts_with = "certificate_identity_regexp")]
    pub certificate_identity: Option<String>,
    /// A regular expression the signer's identity must match as a whole.
    #[arg(long, value_name = "REGEXP")]
    pub certificate_identity_regexp: Option<String>,
    /// The exact OIDC issuer (e.g. https://token.actions.githubusercontent.com).
    #[arg(long, value_name = "URL", conflicts_with = "certificate_oidc_issuer_regexp")]
    pub certificate_oidc_issuer: Option<String>,
    /// A regular expression the OIDC issuer must match as a whole.
    #[arg(long, value_name = "REGEXP")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Require a Fulcio extension, NAME=VALUE (repeatable), e.g.
    /// sourceRepositoryURI=https://github.com/acme/app or runnerEnvironment=github-hosted.
    #[arg(long = "certificate-extension", value_name = "NAME=VALUE")]
    pub certificate_extensions: Vec<String>,
    /// Use this trusted_root.json instead of the embedded Sigstore public-good root.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Your own PKI instead of Fulcio: signing certificates must chain to
    /// these root certificates (PEM); the OIDC issuer is then optional.
    #[arg(long, value_name = "FILE")]
    pub certificate_roots: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, want) in [
            ("60", Duration::from_secs(60)),
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1m30s", Duration::from_secs(90)),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for bad in ["", "0", "0s", "s", "1x", "-1s", "1.5s", "99999999999h", "1 s"] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.contains("not a duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn byte_counts() {
        for (text, want) in [
            ("1", 1),
            ("512MiB", 512 << 20),
            ("2GiB", 2 << 30),
            ("64kib", 64 << 10),
            ("100B", 100),
        ] {
            assert_eq!(parse_bytes(text), Ok(want), "{text}");
        }
        for bad in ["", "0", "MiB", "1TiB", "1.5MiB", "-1", "18446744073709551615GiB"] {
            let e = parse_bytes(bad).expect_err(bad);
            assert!(e.contains("not a byte count"), "{bad}: {e}");
        }
    }
}
