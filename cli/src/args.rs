//! The command line, as clap structures. Turned into validated settings by
//! each command before any work starts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Sign container images, attach evidence to them, and verify them before they run.
///
/// sigil reads and writes what cosign does: signatures under `sha256-HEX.sig`
/// tags, or cosign v3 Sigstore bundles as OCI 1.1 referrers. Images live in a
/// registry (`HOST[:PORT]/REPO[:TAG][@sha256:HEX]`, normalised as docker does)
/// or in an OCI layout directory (`oci:DIR[:TAG]`, `oci:DIR@sha256:HEX`).
///
/// Exit codes: 0 verified, 1 verification failed, 2 usage or operational error.
#[derive(Debug, Parser)]
#[command(name = "sigil", version, max_term_width = 100, propagate_version = true)]
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
    ///   sigil sign registry.example/app:1.2 --key release.key
    ///   sigil sign oci:./build:latest --key release.key -a git-sha=abc123 --format bundle
    #[command(verbatim_doc_comment)]
    Sign(SignArgs),
    /// Verify image signatures with a public key.
    ///
    /// Every signature found (both storage forms) is checked over its exact
    /// payload and must name the image's own digest. An image passes when at
    /// least one signature is valid and carries every required annotation.
    ///
    /// Examples:
    ///   sigil verify registry.example/app:1.2 --key release.pub
    ///   sigil verify img1 img2 img3 --key release.pub -a env=prod --output json
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
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
    /// Creates a sample image in a fresh OCI layout directory, generates a key,
    /// signs the image, verifies it, then shows tampered copies being refused.
    Demo(DemoArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate an ECDSA P-256 key pair: PREFIX.key (encrypted) and PREFIX.pub.
    ///
    /// The password comes from SIGIL_PASSWORD, else COSIGN_PASSWORD, else a
    /// prompt on the terminal. An empty variable means an empty password.
    Generate {
        /// Write PREFIX.key and PREFIX.pub.
        #[arg(long, value_name = "PREFIX", default_value = "cosign")]
        output_key_prefix: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Print the public key of an encrypted key file.
    Public {
        /// The encrypted private key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Import a PKCS#8, SEC1 or PKCS#1 private key PEM into cosign's encrypted format.
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

/// How to reach registries (shared by every command that talks to one).
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Registry user name (else SIGIL_REGISTRY_USERNAME, else ~/.docker/config.json).
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
    /// Trust this CA certificate (PEM) for registry TLS, besides the system roots.
    #[arg(long, value_name = "FILE")]
    pub registry_cacert: Vec<PathBuf>,
    /// Allow plain HTTP to registries that are not on loopback. Dangerous: traffic can be read and changed.
    #[arg(long)]
    pub allow_insecure_registry: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SignatureFormat {
    /// cosign's `sha256-HEX.sig` tag (cosign v1/v2; v3 reads it).
    Tag,
    /// cosign v3's Sigstore bundle, stored as an OCI 1.1 referrer.
    Bundle,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Images to sign (tags are resolved to digests first).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The encrypted private key (cosign format).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
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
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Images to verify; identical digests are verified once.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The public key (PKIX PEM: ECDSA P-256/P-384, Ed25519 or RSA).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Require this signed annotation, KEY=VALUE (repeatable).
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Images verified at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
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
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the sample layout and key (a fresh temporary directory by default).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}
