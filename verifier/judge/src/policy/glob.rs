//! Image patterns: anchored globs over normalised image names (DESIGN §4.1).
//!
//! `*` matches any characters but `/`, `?` one character but `/`, `**` any
//! characters including `/`. A pattern may end in `:TAG` (only images
//! referenced by that tag) or `@sha256:HEX` (only that digest, whatever tag).
//! Besides matching, this module ranks patterns by specificity and decides
//! whether two patterns can match a common image, which the lint needs to
//! refuse rule sets whose winner would depend on file order.
//!
//! Patterns are normalised when parsed exactly as image references are
//! ([`crate::reference`]): the registry host part is made canonical (lower
//! case, no `:443`, `docker.io` for Docker Hub's aliases) and an `oci:`
//! directory is lexically normalised, so `LOCALHOST:5000/**` and the image
//! `localhost:5000/x` agree, and `oci:trusted/../x` is `oci:x`.
//!
//! A reference that carries both a tag and a digest (`app:v1@sha256:...`)
//! is matched by its digest only: nothing checked that the tag points at
//! that digest, so its [`ImageName`] has no tag and `:TAG` patterns do not
//! match it (see [`super::names`]).

use std::cmp::Ordering;
use std::fmt;

use crate::digest::Digest;

/// The name an image is judged under.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ImageName {
    /// The normalised repository (`docker.io/library/alpine`), or `oci:DIR`
    /// for a layout image without a recorded name.
    pub repository: String,
    /// The tag the image was referenced by, if any.
    pub tag: Option<String>,
    /// The manifest digest the reference resolved to.
    pub digest: Digest,
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        write!(f, "@{}", self.digest)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**`
    Globstar,
}

/// What follows the repository glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    None,
    Tag(String),
    Digest(Digest),
}

/// An anchored glob over any string (builder ids, repositories, build types).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    text: String,
    compiled: Compiled,
}

impl Glob {
    /// Parses a glob; `*`, `**` and `?` are the wildcards.
    pub fn parse(text: &str) -> Result<Glob, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        Ok(Glob {
            text: text.to_owned(),
            compiled: Compiled::new(tokenize(text)?),
        })
    }

    /// True when the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.compiled.matches(text)
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A parsed image pattern, compiled for matching: its literal prefix and
/// suffix and its rank are computed once, when the policy loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    compiled: Compiled,
    pin: Pin,
    specificity: Specificity,
}

/// How specific a pattern is; greater wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity {
    /// No wildcard at all.
    pub exact: bool,
    /// Literal characters before the first wildcard (all of them when exact).
    pub prefix: usize,
    /// Literal characters in total, the tag or digest included.
    pub literals: usize,
    /// Fewer `**` wins a remaining tie (`prod/*` beats `prod/**`): DESIGN is
    /// silent here, and the narrower pattern is the one a reader expects.
    pub globstars: std::cmp::Reverse<usize>,
}

/// Why a pattern is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("empty image pattern")]
    Empty,
    #[error("`***` is not a wildcard; use `**` (any characters including `/`) or `*` (within one segment)")]
    TripleStar,
    #[error("invalid digest in pattern: {0}")]
    Digest(String),
    #[error("tag {0:?} in a pattern must be literal (no wildcards) and non-empty")]
    Tag(String),
    #[error("whitespace in image pattern")]
    Whitespace,
    #[error("`..` after a wildcard in an oci: pattern cannot be normalised; write the directory without `..`")]
    DotDotAfterWildcard,
}

impl Pattern {
    /// Parses `REPO_GLOB[:TAG][@sha256:HEX]`.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        if text.chars().any(char::is_whitespace) {
            return Err(PatternError::Whitespace);
        }
        let (rest, digest) = match text.rsplit_once('@') {
            Some((rest, d)) => (
                rest,
                Some(d.parse::<Digest>().map_err(|e| PatternError::Digest(e.to_string()))?),
            ),
            None => (text, None),
        };
        // `oci:` is a scheme, not a tag separator.
        let body_start = if rest.starts_with("oci:") { 4 } else { 0 };
        let (repo, tag) = match rest[body_start..].rfind(':') {
            Some(i) if !rest[body_start + i + 1..].contains('/') => {
                (&rest[..body_start + i], Some(&rest[body_start + i + 1..]))
            }
            _ => (rest, None),
        };
        if let Some(tag) = tag
            && (tag.is_empty() || tag.contains(['*', '?']))
        {
            return Err(PatternError::Tag(tag.to_owned()));
        }
        if repo.is_empty() {
            return Err(PatternError::Empty);
        }
        let tokens = tokenize(&canonical_repository(repo)?)?;
        let pin = match (digest, tag) {
            (Some(d), _) => Pin::Digest(d),
            (None, Some(t)) => Pin::Tag(t.to_owned()),
            (None, None) => Pin::None,
        };
        let specificity = rank(&tokens, &pin);
        Ok(Pattern {
            text: text.to_owned(),
            compiled: Compiled::new(tokens),
            pin,
            specificity,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The tag or digest the pattern pins.
    pub fn pin(&self) -> &Pin {
        &self.pin
    }

    /// The repository part without wildcards, when it has none.
    pub fn literal_repository(&self) -> Option<String> {
        self.compiled
            .tokens
            .iter()
            .map(|t| match t {
                Token::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// The literal text before the first wildcard.
    pub fn literal_prefix(&self) -> String {
        self.compiled.prefix.clone()
    }

    /// True when `image` matches: the repository glob, and the pin if any.
    pub fn matches(&self, image: &ImageName) -> bool {
        let pinned = match &self.pin {
            Pin::None => true,
            Pin::Tag(t) => image.tag.as_deref() == Some(t.as_str()),
            Pin::Digest(d) => &image.digest == d,
        };
        pinned && self.compiled.matches(&image.repository)
    }

    /// The pattern's rank (DESIGN §4.1): wildcard-free beats wildcard; then
    /// the longer literal prefix; then more literal characters in total.
    pub fn specificity(&self) -> Specificity {
        self.specificity
    }

    /// True when some image could match both patterns.
    pub fn overlaps(&self, other: &Pattern) -> bool {
        let pins_compatible = match (&self.pin, &other.pin) {
            (Pin::Tag(a), Pin::Tag(b)) => a == b,
            (Pin::Digest(a), Pin::Digest(b)) => a == b,
            _ => true,
        };
        pins_compatible && intersects(&self.compiled.tokens, &other.compiled.tokens)
    }
}

impl Specificity {
    /// Compares, greater = more specific.
    pub fn rank(&self, other: &Specificity) -> Ordering {
        self.cmp(other)
    }
}

/// The repository part of a pattern in the form image names take: an `oci:`
/// directory lexically normalised, else the registry host part canonical.
fn canonical_repository(repo: &str) -> Result<String, PatternError> {
    if let Some(dir) = repo.strip_prefix("oci:") {
        // A segment with a wildcard is opaque: `..` may not cancel it.
        return crate::reference::normalise_segments(dir, |segment| segment.contains(['*', '?']))
            .map(|d| format!("oci:{d}"))
            .ok_or(PatternError::DotDotAfterWildcard);
    }
    let Some((host, path)) = repo.split_once('/') else {
        return Ok(repo.to_owned());
    };
    if host.contains("**") {
        // `**` crosses into the path, which is case-sensitive: leave it.
        return Ok(repo.to_owned());
    }
    let host = if host.contains(['*', '?']) {
        // Names are matched in canonical (lower-case, no `:443`) form, so
        // that is the only form a wildcard host can meet.
        let lower = host.to_ascii_lowercase();
        match lower.strip_suffix(":443") {
            Some(rest) if !rest.ends_with(['*', '?']) => rest.to_owned(),
            _ => lower,
        }
    } else {
        crate::reference::canonical_host(host)
    };
    Ok(format!("{host}/{path}"))
}

fn tokenize(glob: &str) -> Result<Vec<Token>, PatternError> {
    let chars: Vec<char> = glob.chars().collect();
    let mut tokens = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                let run = chars[i..].iter().take_while(|c| **c == '*').count();
                match run {
                    1 => tokens.push(Token::Star),
                    2 => tokens.push(Token::Globstar),
                    _ => return Err(PatternError::TripleStar),
                }
                i += run;
            }
            '?' => {
                tokens.push(Token::One);
                i += 1;
            }
            c => {
                tokens.push(Token::Lit(c));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// The rank of a pattern's tokens and pin (see [`Pattern::specificity`]).
fn rank(tokens: &[Token], pin: &Pin) -> Specificity {
    let pin_len = match pin {
        Pin::None => 0,
        Pin::Tag(t) => 1 + t.chars().count(),
        Pin::Digest(d) => 1 + d.to_string().len(),
    };
    let literals = tokens.iter().filter(|t| matches!(t, Token::Lit(_))).count() + pin_len;
    let exact = tokens.iter().all(|t| matches!(t, Token::Lit(_)));
    let prefix = if exact {
        literals
    } else {
        tokens.iter().take_while(|t| matches!(t, Token::Lit(_))).count()
    };
    Specificity {
        exact,
        prefix,
        literals,
        globstars: std::cmp::Reverse(tokens.iter().filter(|t| matches!(t, Token::Globstar)).count()),
    }
}

/// A glob ready to match: the literal text before the first wildcard and
/// after the last one are kept as strings, so most non-matches cost one
/// `starts_with` (patterns differ there), and only what lies between the
/// wildcards goes through dynamic programming.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Compiled {
    /// Every token, for ranking and overlap.
    tokens: Vec<Token>,
    /// Literal text before the first wildcard (all of it without one).
    prefix: String,
    /// Literal text after the last wildcard (empty without one).
    suffix: String,
    /// The tokens from the first wildcard to the last, inclusive.
    middle: Vec<Token>,
}

impl Compiled {
    fn new(tokens: Vec<Token>) -> Compiled {
        let lit = |t: &Token| match t {
            Token::Lit(c) => Some(*c),
            _ => None,
        };
        let head = tokens.iter().take_while(|t| lit(t).is_some()).count();
        let tail = if head == tokens.len() {
            0
        } else {
            tokens.iter().rev().take_while(|t| lit(t).is_some()).count()
        };
        Compiled {
            prefix: tokens[..head].iter().filter_map(lit).collect(),
            suffix: tokens[tokens.len() - tail..].iter().filter_map(lit).collect(),
            middle: tokens[head..tokens.len() - tail].to_vec(),
            tokens,
        }
    }

    /// Anchored match of the whole of `text`.
    fn matches(&self, text: &str) -> bool {
        let Some(rest) = text.strip_prefix(self.prefix.as_str()) else {
            return false;
        };
        let Some(rest) = rest.strip_suffix(self.suffix.as_str()) else {
            return false;
        };
        match self.middle.as_slice() {
            [] => rest.is_empty(),
            [Token::Globstar] => true,
            [Token::Star] => !rest.contains('/'),
            middle => wildcard_match(middle, rest),
        }
    }
}

/// Dynamic programming over (token, character) for what lies between the
/// first and the last wildcard.
fn wildcard_match(tokens: &[Token], text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    // reach[j]: the tokens so far can match chars[..j]
    let mut reach = vec![false; chars.len() + 1];
    let mut next = vec![false; chars.len() + 1];
    reach[0] = true;
    for token in tokens {
        for j in 0..=chars.len() {
            next[j] = match token {
                Token::Lit(c) => j > 0 && reach[j - 1] && chars[j - 1] == *c,
                Token::One => j > 0 && reach[j - 1] && chars[j - 1] != '/',
                Token::Star => reach[j] || (j > 0 && next[j - 1] && chars[j - 1] != '/'),
                Token::Globstar => reach[j] || (j > 0 && next[j - 1]),
            };
        }
        std::mem::swap(&mut reach, &mut next);
    }
    reach[chars.len()]
}

fn is_star(t: Token) -> bool {
    matches!(t, Token::Star | Token::Globstar)
}

/// Whether one character can be consumed by both tokens.
fn share_char(a: Token, b: Token) -> bool {
    match (a, b) {
        (Token::Lit(x), Token::Lit(y)) => x == y,
        (Token::Lit(x), Token::One | Token::Star) | (Token::One | Token::Star, Token::Lit(x)) => x != '/',
        (Token::Globstar, _) | (_, Token::Globstar) => true,
        _ => true, // `?`/`*` against `?`/`*`: any non-slash character
    }
}

/// True when the languages of two globs intersect: reachability in their
/// product automaton, where a star may consume nothing (skip) or one
/// character and stay.
fn intersects(a: &[Token], b: &[Token]) -> bool {
    let (n, m) = (a.len(), b.len());
    let mut seen = vec![false; (n + 1) * (m + 1)];
    let mut todo = vec![(0usize, 0usize)];
    while let Some((i, j)) = todo.pop() {
        let idx = i * (m + 1) + j;
        if seen[idx] {
            continue;
        }
        seen[idx] = true;
        if i == n && j == m {
            return true;
        }
        if i < n && is_star(a[i]) {
            todo.push((i + 1, j));
        }
        if j < m && is_star(b[j]) {
            todo.push((i, j + 1));
        }
        if i < n && j < m && share_char(a[i], b[j]) {
            // A star that consumed a character stays; anything else advances.
            let ni = if is_star(a[i]) { i } else { i + 1 };
            let nj = if is_star(b[j]) { j } else { j + 1 };
            todo.push((ni, nj));
        }
    }
    false
}
