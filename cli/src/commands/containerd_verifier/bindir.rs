//! containerd 2.x's image-verifier "bindir" contract, the caller's side as
//! containerd implements it (`pkg/imageverifier/bindir/bindir.go`,
//! `docs/image-verification.md`):
//!
//! - the executable gets exactly `-name REF -digest DIGEST -stdin-media-type
//!   application/vnd.oci.descriptor.v1+json`, in that order, parsed here with
//!   Go's `flag` rules ([`Request::parse`]);
//! - the descriptor is JSON on stdin followed by a newline, written by a
//!   goroutine that then closes the pipe; a verifier may read it late or not
//!   at all ([`read_descriptor`] waits a bounded time for a bounded size);
//! - exit 0 allows the pull, any other exit blocks it; a verifier killed by a
//!   signal or past `per_verifier_timeout` (10 s by default) fails the pull
//!   with an error and no reason;
//! - stdout, trimmed of white space and cut at 32 KiB, is the reason
//!   containerd reports ([`reason_line`] keeps it one line and below that).

use std::fmt;
use std::io::{IsTerminal as _, Read};
use std::time::Duration;

use sigil_verifier::digest::Digest;
use sigil_verifier::reference::RegistryRef;
use tokio::sync::mpsc;

/// The only stdin media type containerd has sent (`ocispec.MediaTypeDescriptor`).
pub const DESCRIPTOR_MEDIA_TYPE: &str = "application/vnd.oci.descriptor.v1+json";

/// containerd reads at most this much of stdout (`outputLimitBytes`); a
/// longer answer is cut and marked "(stdout truncated)".
pub const OUTPUT_LIMIT: usize = 32 * 1024;

/// The most stdin read: a descriptor is a few hundred bytes; containerd's
/// comment expects it to fit in a 64 KiB pipe buffer.
pub const STDIN_LIMIT: usize = 64 * 1024;

/// The flags containerd passes, by their Go names.
const NAME: &str = "name";
const DIGEST: &str = "digest";
const MEDIA_TYPE: &str = "stdin-media-type";

/// What containerd asks: may the image `name`, resolved to `digest`, be pulled?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `-name` as given (normalised): tag and digest kept, for the report.
    pub name: RegistryRef,
    /// `-digest`: what containerd resolved and will pull.
    pub digest: Digest,
}

/// Why containerd's arguments cannot be judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagError {
    /// A flag this sigil does not know: its meaning might change what is
    /// asked (containerd has passed the same three since 2.0).
    Unknown(String),
    /// `-flag` last, with no value after it.
    NoValue(String),
    /// The same flag twice: which image is asked about would be ambiguous.
    Repeated(String),
    /// `-name` or `-digest` missing or empty.
    Missing(&'static str),
    /// An argument that is not a flag (Go stops parsing there).
    Unexpected(String),
    /// `---x`, `-=x`: not flag syntax.
    BadSyntax(String),
    Name {
        value: String,
        cause: String,
    },
    Digest {
        value: String,
        cause: String,
    },
    /// `-name` pins a digest other than `-digest`.
    NamePinsOther {
        name: String,
        digest: Digest,
    },
    /// A stdin media type other than [`DESCRIPTOR_MEDIA_TYPE`].
    MediaType(String),
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::Unknown(flag) => write!(
                f,
                "unknown containerd verifier flag -{flag} (this sigil knows -name, -digest and -stdin-media-type; upgrade sigil for a newer containerd)"
            ),
            FlagError::NoValue(flag) => write!(f, "flag -{flag} needs a value"),
            FlagError::Repeated(flag) => write!(f, "flag -{flag} is given twice"),
            FlagError::Missing(flag) => write!(
                f,
                "-{flag} is missing: containerd runs verifiers as BIN -name REF -digest sha256:HEX -stdin-media-type TYPE (sigil's own flags go before them)"
            ),
            FlagError::Unexpected(arg) => write!(
                f,
                "unexpected argument {arg:?} (sigil's own flags, such as --policy, go before containerd's)"
            ),
            FlagError::BadSyntax(arg) => write!(f, "bad flag syntax: {arg}"),
            FlagError::Name { value, cause } => write!(f, "-name {value:?} is not an image reference: {cause}"),
            FlagError::Digest { value, cause } => write!(f, "-digest {value:?} is not a digest: {cause}"),
            FlagError::NamePinsOther { name, digest } => {
                write!(f, "-name {name} pins another digest than -digest {digest}")
            }
            FlagError::MediaType(media_type) => write!(
                f,
                "-stdin-media-type {media_type:?} is not supported (only {DESCRIPTOR_MEDIA_TYPE}; upgrade sigil for a newer containerd)"
            ),
        }
    }
}

impl Request {
    /// Parses containerd's arguments as Go's `flag` package does (`-f V`,
    /// `--f V`, `-f=V`, `--f=V`; the argument after a flag is its value
    /// whatever it looks like; `--` ends the flags), more strictly where Go
    /// is lenient: unknown flags, repeated flags and any argument left over
    /// are refused, since each could mean a question other than the one
    /// judged.
    pub fn parse(args: &[String]) -> Result<Request, FlagError> {
        let (mut name, mut digest, mut media_type) = (None, None, None);
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if arg == "--" {
                match rest.next() {
                    Some(extra) => return Err(FlagError::Unexpected(extra.clone())),
                    None => break,
                }
            }
            let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                return Err(FlagError::Unexpected(arg.clone()));
            };
            if flag.is_empty() || flag.starts_with(['-', '=']) {
                return Err(if flag.is_empty() {
                    FlagError::Unexpected(arg.clone())
                } else {
                    FlagError::BadSyntax(arg.clone())
                });
            }
            let (flag, value) = match flag.split_once('=') {
                Some((flag, value)) => (flag, value.to_owned()),
                None => match rest.next() {
                    Some(value) => (flag, value.clone()),
                    None => return Err(FlagError::NoValue(flag.to_owned())),
                },
            };
            let slot = match flag {
                NAME => &mut name,
                DIGEST => &mut digest,
                MEDIA_TYPE => &mut media_type,
                _ => return Err(FlagError::Unknown(flag.to_owned())),
            };
            if slot.replace(value).is_some() {
                return Err(FlagError::Repeated(flag.to_owned()));
            }
        }
        let name = name.filter(|v| !v.is_empty()).ok_or(FlagError::Missing(NAME))?;
        let digest = digest.filter(|v| !v.is_empty()).ok_or(FlagError::Missing(DIGEST))?;
        let name_ref = RegistryRef::parse(&name).map_err(|e| FlagError::Name {
            value: name.clone(),
            cause: e.to_string(),
        })?;
        let digest = digest.parse::<Digest>().map_err(|e| FlagError::Digest {
            value: digest.clone(),
            cause: e.to_string(),
        })?;
        if let Some(pinned) = name_ref.digest()
            && pinned != &digest
        {
            return Err(FlagError::NamePinsOther { name, digest });
        }
        // Absent: containerd before the flag existed never was; the payload
        // is still read as a descriptor, the only one ever sent.
        if let Some(media_type) = media_type
            && media_type != DESCRIPTOR_MEDIA_TYPE
        {
            return Err(FlagError::MediaType(media_type));
        }
        Ok(Request { name: name_ref, digest })
    }

    /// `REPO@DIGEST`: what is fetched and judged; the tag is not resolved.
    pub fn repository_at_digest(&self) -> RegistryRef {
        // A parsed name and a parsed digest make a valid reference again.
        RegistryRef::parse(&format!("{}@{}", self.name.name(), self.digest)).unwrap_or_else(|_| self.name.clone())
    }

    /// `REPO[:TAG]@DIGEST`: the name the report uses (the tag is ignored for
    /// matching beside a digest, and the report says so).
    pub fn judged_as(&self) -> RegistryRef {
        let text = match self.name.tag() {
            Some(tag) => format!("{}:{tag}@{}", self.name.name(), self.digest),
            None => format!("{}@{}", self.name.name(), self.digest),
        };
        RegistryRef::parse(&text).unwrap_or_else(|_| self.repository_at_digest())
    }
}

/// Why the stdin payload blocks the pull.
#[derive(Debug, PartialEq, Eq)]
pub enum StdinError {
    TooLarge,
    Unreadable(String),
    NotDescriptor(String),
    /// Some bytes came, not a whole descriptor, and stdin stayed open.
    Incomplete {
        waited: Duration,
    },
}

impl fmt::Display for StdinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StdinError::TooLarge => write!(f, "the descriptor on stdin is larger than {} KiB", STDIN_LIMIT / 1024),
            StdinError::Unreadable(e) => write!(f, "stdin cannot be read: {e}"),
            StdinError::NotDescriptor(e) => write!(f, "stdin is not an OCI descriptor: {e}"),
            StdinError::Incomplete { waited } => write!(
                f,
                "stdin held an incomplete descriptor and was still open after {waited:?}"
            ),
        }
    }
}

/// The digest of the descriptor on stdin, `None` when there is none: stdin
/// empty, a terminal, or silent and open for `wait` (containerd writes as
/// soon as the verifier starts, so that is no containerd; `-digest` is
/// what is judged either way). At most [`STDIN_LIMIT`] bytes are read, on a
/// thread of its own that a never-closed stdin cannot hold up the exit with.
pub async fn read_descriptor(wait: Duration) -> Result<Option<Digest>, StdinError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let (bytes, end) = collect(stdin, STDIN_LIMIT, wait).await;
    descriptor_digest(&bytes, end, wait)
}

/// How reading stdin ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Closed,
    StillOpen,
    TooLarge,
    Failed(String),
}

/// Reads `input` on a detached thread until it closes, passes `limit`
/// bytes, fails, or `wait` passes.
async fn collect(input: impl Read + Send + 'static, limit: usize, wait: Duration) -> (Vec<u8>, End) {
    let (tx, mut rx) = mpsc::unbounded_channel::<std::io::Result<Vec<u8>>>();
    std::thread::spawn(move || {
        let mut input = input;
        let mut buffer = vec![0; 8 * 1024];
        loop {
            let chunk = match input.read(&mut buffer) {
                Ok(0) => Ok(Vec::new()),
                Ok(n) => Ok(buffer[..n].to_vec()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let last = !matches!(&chunk, Ok(c) if !c.is_empty());
            if tx.send(chunk).is_err() || last {
                return;
            }
        }
    });
    let until = tokio::time::Instant::now() + wait;
    let mut bytes = Vec::new();
    loop {
        match tokio::time::timeout_at(until, rx.recv()).await {
            Err(_) => return (bytes, End::StillOpen),
            Ok(None) => return (bytes, End::Failed("the reading thread stopped".into())),
            Ok(Some(Err(e))) => return (bytes, End::Failed(e.to_string())),
            Ok(Some(Ok(chunk))) if chunk.is_empty() => return (bytes, End::Closed),
            Ok(Some(Ok(chunk))) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > limit {
                    return (bytes, End::TooLarge);
                }
            }
        }
    }
}

/// The digest a stdin payload names. A payload still open is used when it
/// already holds a whole descriptor (containerd closes right after writing).
fn descriptor_digest(bytes: &[u8], end: End, waited: Duration) -> Result<Option<Digest>, StdinError> {
    match end {
        End::TooLarge => return Err(StdinError::TooLarge),
        End::Failed(e) => return Err(StdinError::Unreadable(e)),
        End::Closed | End::StillOpen => {}
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    /// The one field judged; the rest of the descriptor (media type, size,
    /// annotations, platform) does not change which image is pulled.
    #[derive(serde::Deserialize)]
    struct Descriptor {
        digest: String,
    }
    let descriptor: Descriptor = match serde_json::from_slice(bytes) {
        Ok(d) => d,
        Err(_) if end == End::StillOpen => return Err(StdinError::Incomplete { waited }),
        Err(e) => return Err(StdinError::NotDescriptor(e.to_string())),
    };
    descriptor
        .digest
        .parse::<Digest>()
        .map(Some)
        .map_err(|e| StdinError::NotDescriptor(e.to_string()))
}

/// `text` as the one line containerd shows: control characters (line
/// breaks included) become spaces, and the line with its newline fits in
/// [`OUTPUT_LIMIT`], cut at a character boundary and ending in `…` when
/// it was longer.
pub fn reason_line(text: &str) -> String {
    let line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut(line, OUTPUT_LIMIT - 1)
}

/// `line` in at most `max` bytes.
fn cut(mut line: String, max: usize) -> String {
    const MORE: &str = "…";
    if line.len() <= max {
        return line;
    }
    let mut end = max.saturating_sub(MORE.len());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line.truncate(end);
    line.push_str(MORE);
    line
}

#[cfg(test)]
mod tests;
