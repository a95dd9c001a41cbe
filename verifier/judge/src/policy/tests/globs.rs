//! The glob table: `*` vs `**`, `?`, docker.io normalisation, digests and
//! tags, layout names; specificity and overlap.

use super::support::{digest, name};
use crate::policy::glob::{ImageName, Pattern};

const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn matches(pattern: &str, image: &ImageName) -> bool {
    Pattern::parse(pattern).expect("pattern").matches(image)
}

#[test]
fn glob_table() {
    let pinned = format!("registry.acme.example/prod/app@{D}");
    let rows: Vec<(&str, &str, bool)> = vec![
        // * stays within a segment, ** crosses
        (
            "registry.acme.example/prod/*",
            "registry.acme.example/prod/app:v1",
            true,
        ),
        (
            "registry.acme.example/prod/*",
            "registry.acme.example/prod/team/app:v1",
            false,
        ),
        (
            "registry.acme.example/prod/**",
            "registry.acme.example/prod/team/app:v1",
            true,
        ),
        (
            "registry.acme.example/prod/**",
            "registry.acme.example/prod/app:v1",
            true,
        ),
        (
            "registry.acme.example/prod/**",
            "registry.acme.example/production/app:v1",
            false,
        ),
        ("registry.acme.example/**/app", "registry.acme.example/a/b/app:v1", true),
        ("registry.acme.example/*/app", "registry.acme.example/a/b/app:v1", false),
        ("**", "registry.acme.example/prod/app:v1", true),
        ("**", "alpine", true),
        // ? is one character, never '/'
        ("registry.acme.example/app?", "registry.acme.example/app1:v1", true),
        ("registry.acme.example/app?", "registry.acme.example/app12:v1", false),
        ("registry.acme.example/a?b", "registry.acme.example/a/b:v1", false),
        // anchored at both ends
        ("registry.acme.example/prod", "registry.acme.example/prod/app:v1", false),
        ("prod/*", "registry.acme.example/prod/app:v1", false),
        // docker.io normalisation: the image side is normalised
        ("docker.io/library/*", "alpine", true),
        ("docker.io/library/alpine", "alpine:3.19", true),
        ("docker.io/library/*", "bitnami/redis", false),
        ("docker.io/*/*", "bitnami/redis", true),
        ("docker.io/library/alpine", "index.docker.io/library/alpine", true),
        // tags
        (
            "registry.acme.example/prod/app:v1",
            "registry.acme.example/prod/app:v1",
            true,
        ),
        (
            "registry.acme.example/prod/app:v1",
            "registry.acme.example/prod/app:v2",
            false,
        ),
        (
            "registry.acme.example/prod/*:v1",
            "registry.acme.example/prod/web:v1",
            true,
        ),
        ("localhost:5000/app", "localhost:5000/app:v1", true),
        ("localhost:5000/*", "localhost:5000/app", true),
        // host names are canonical on both sides: case, the default port, Docker Hub's aliases
        ("localhost:5000/prod/**", "LOCALHOST:5000/prod/app", true),
        ("LOCALHOST:5000/prod/**", "localhost:5000/prod/app", true),
        (
            "Registry.Acme.Example/prod/*",
            "registry.acme.example:443/prod/app",
            true,
        ),
        (
            "registry.acme.example:443/prod/*",
            "REGISTRY.acme.example/prod/app",
            true,
        ),
        ("*.ACME.example:443/prod/*", "registry.acme.example/prod/app", true),
        ("INDEX.DOCKER.IO/library/*", "alpine", true),
        ("localhost:5000/prod/**", "localhost:5001/prod/app", false),
        ("localhost/prod/**", "localhost:80/prod/app", false),
        ("*:443/prod/*", "registry.acme.example/prod/app", false),
        // but repository paths stay case-sensitive
        ("localhost:5000/Prod/**", "localhost:5000/prod/app", false),
        // digests: the pinned digest, whatever tag was used
        (&pinned, "registry.acme.example/prod/app:v9", false),
    ];
    for (pattern, image, want) in rows {
        assert_eq!(matches(pattern, &name(image)), want, "{pattern} vs {image}");
    }
    // NAME:TAG@DIGEST is matched by its digest only: `:TAG` patterns do not match it
    let both = name(&format!("registry.acme.example/prod/app:legacy-1.0@{D}"));
    assert!(!matches("registry.acme.example/prod/app:legacy-1.0", &both));
    assert!(matches("registry.acme.example/prod/app", &both));
    assert!(matches(&pinned, &both));
    assert!(matches(
        "registry.acme.example/prod/app:legacy-1.0",
        &name("registry.acme.example/prod/app:legacy-1.0")
    ));
    let by_digest = ImageName {
        digest: D.parse().expect("digest"),
        ..name("registry.acme.example/prod/app:v9")
    };
    assert!(matches(&pinned, &by_digest));
    assert!(matches(&format!("registry.acme.example/**@{D}"), &by_digest));
    assert!(!matches(&format!("registry.acme.example/other@{D}"), &by_digest));
    // layout images: oci:DIR, the directory lexically normalised on both sides
    let layout = ImageName {
        repository: "oci:export".into(),
        tag: Some("app".into()),
        digest: digest("x"),
    };
    assert!(matches("**", &layout));
    assert!(matches("oci:./export", &layout));
    assert!(matches("oci:export/", &layout));
    assert!(matches("oci:elsewhere/../export", &layout));
    assert!(matches("oci:./export:app", &layout));
    assert!(!matches("oci:./export:web", &layout));
    assert!(matches("oci:**", &layout));
    assert!(!matches("registry.acme.example/**", &layout));
    // `..` cannot leave a trusted directory: the image is named by where it really is
    let escaped = crate::policy::names::layout(
        &match "oci:/srv/trusted/../attacker-dir".parse() {
            Ok(crate::reference::ImageRef::Layout(l)) => l,
            other => panic!("{other:?}"),
        },
        digest("x"),
        None,
    )
    .expect("names")
    .name;
    assert_eq!(escaped.repository, "oci:/srv/attacker-dir");
    assert!(!matches("oci:/srv/trusted/**", &escaped));
    assert!(matches("oci:/srv/*", &escaped));
}

#[test]
fn malformed_patterns() {
    use crate::policy::glob::PatternError as E;
    for (bad, want) in [
        ("", E::Empty),
        ("a/***", E::TripleStar),
        ("app@sha256:zz", E::Digest(String::new())),
        ("app:", E::Tag(String::new())),
        ("app:v*", E::Tag(String::new())),
        ("a b", E::Whitespace),
    ] {
        let found = Pattern::parse(bad).expect_err(bad);
        assert_eq!(
            std::mem::discriminant(&found),
            std::mem::discriminant(&want),
            "{bad:?}: {found:?}"
        );
    }
    assert_eq!(
        Pattern::parse("oci:/srv/*/../x"),
        Err(crate::policy::glob::PatternError::DotDotAfterWildcard)
    );
}

#[test]
fn specificity_order() {
    // each pattern is strictly more specific than the next
    let ordered = [
        format!("registry.acme.example/prod/app@{D}"),
        "registry.acme.example/prod/app:v1".to_owned(),
        "registry.acme.example/prod/app".to_owned(),
        "registry.acme.example/prod/app*".to_owned(),
        "registry.acme.example/prod/a*p".to_owned(),
        "registry.acme.example/prod/*".to_owned(),
        "registry.acme.example/prod/**".to_owned(),
        "registry.acme.example/**".to_owned(),
        "registry.acme.*/**".to_owned(),
        "**".to_owned(),
    ];
    for pair in ordered.windows(2) {
        let (a, b) = (
            Pattern::parse(&pair[0]).expect("a"),
            Pattern::parse(&pair[1]).expect("b"),
        );
        assert!(a.specificity() > b.specificity(), "{} should beat {}", pair[0], pair[1]);
    }
    // equal rank: more literals in total breaks a tie of prefixes
    let a = Pattern::parse("r.io/*/app").expect("a");
    let b = Pattern::parse("r.io/*/a").expect("b");
    assert!(a.specificity() > b.specificity());
}

#[test]
fn overlap_table() {
    let rows = [
        ("r.io/prod/*", "r.io/*/app", true),
        ("r.io/prod/*", "r.io/dev/*", false),
        ("r.io/*", "r.io/**", true),
        ("r.io/a*", "r.io/*b", true),
        ("r.io/*/x", "r.io/**/y", false),
        ("r.io/a/*", "r.io/*/*/*", false),
        ("r.io/?", "r.io/ab", false),
        ("r.io/app:v1", "r.io/app:v2", false),
        ("r.io/app:v1", "r.io/app", true),
        ("**", "oci:dir", true),
    ];
    for (a, b, want) in rows {
        let (pa, pb) = (Pattern::parse(a).expect("a"), Pattern::parse(b).expect("b"));
        assert_eq!(pa.overlaps(&pb), want, "{a} & {b}");
        assert_eq!(pb.overlaps(&pa), want, "{b} & {a} (symmetric)");
    }
}

/// The glob as an anchored regular expression: the reference the matcher
/// (literal prefix and suffix compared first, the middle by dynamic
/// programming) must agree with.
fn reference(glob: &str) -> regex::Regex {
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).expect("reference regex")
}

proptest::proptest! {
    #[test]
    fn globs_agree_with_their_regular_expressions(glob in "[ab/*?]{1,8}", texts in proptest::collection::vec("[ab/]{0,8}", 8)) {
        proptest::prop_assume!(!glob.contains("***"));
        let compiled = crate::policy::glob::Glob::parse(&glob).expect("parses");
        let re = reference(&glob);
        for text in texts.iter().map(String::as_str).chain([glob.as_str(), "", "a", "ab/ba"]) {
            proptest::prop_assert_eq!(compiled.matches(text), re.is_match(text), "{} against {:?}", glob, text);
        }
    }
}
