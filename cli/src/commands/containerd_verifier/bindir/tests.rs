use std::io::Read;
use std::time::{Duration, Instant};

use super::*;

const HEX: &str = "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4";
const OTHER: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn digest() -> String {
    format!("sha256:{HEX}")
}

/// What `bindir.go` passes, byte for byte (its own test asserts this line).
fn containerd_args(name: &str) -> Vec<String> {
    args(&[
        "-name",
        name,
        "-digest",
        &digest(),
        "-stdin-media-type",
        DESCRIPTOR_MEDIA_TYPE,
    ])
}

#[test]
fn containerd_arguments_parse() {
    let request = Request::parse(&containerd_args("registry.example.com/image:abc")).expect("parses");
    assert_eq!(request.name.to_string(), "registry.example.com/image:abc");
    assert_eq!(request.digest.to_string(), digest());
    assert_eq!(
        request.repository_at_digest().to_string(),
        format!("registry.example.com/image@{}", digest())
    );
    assert_eq!(
        request.judged_as().to_string(),
        format!("registry.example.com/image:abc@{}", digest())
    );
}

#[test]
fn every_go_flag_spelling_is_one_flag() {
    let d = digest();
    for spelling in [
        args(&["-name", "app:1", "-digest", &d]),
        args(&["--name", "app:1", "--digest", &d]),
        args(&["-name=app:1", "-digest", &d]),
        args(&["--name=app:1", &format!("--digest={d}")]),
        args(&["-digest", &d, "-name", "app:1", "--"]),
        args(&[
            "-name",
            "app:1",
            &format!("-digest={d}"),
            "-stdin-media-type",
            DESCRIPTOR_MEDIA_TYPE,
        ]),
    ] {
        let request = Request::parse(&spelling).unwrap_or_else(|e| panic!("{spelling:?}: {e}"));
        assert_eq!(request.name.to_string(), "docker.io/library/app:1", "{spelling:?}");
        assert_eq!(request.digest.to_string(), d, "{spelling:?}");
    }
}

#[test]
fn a_value_is_the_next_argument_whatever_it_looks_like() {
    // Go's flag package: `-name -digest` sets name to "-digest".
    let e = Request::parse(&args(&["-name", "-digest", &digest()])).expect_err("no digest");
    assert_eq!(e, FlagError::Unexpected(digest()));
    let e = Request::parse(&args(&["-digest", &digest(), "-name", "-x"])).expect_err("bad name");
    assert!(matches!(e, FlagError::Name { ref value, .. } if value == "-x"), "{e:?}");
}

#[test]
fn flags_that_change_the_question_are_refused() {
    let d = digest();
    let cases: Vec<(Vec<String>, FlagError)> = vec![
        (args(&[]), FlagError::Missing("name")),
        (args(&["-digest", &d]), FlagError::Missing("name")),
        (args(&["-name", "app:1"]), FlagError::Missing("digest")),
        (args(&["-name=", "-digest", &d]), FlagError::Missing("name")),
        (args(&["-name", "app:1", "-digest="]), FlagError::Missing("digest")),
        (
            args(&["-name", "app:1", "-digest"]),
            FlagError::NoValue("digest".into()),
        ),
        (
            args(&["-name", "app:1", "-digest", &d, "-platform", "linux/arm64"]),
            FlagError::Unknown("platform".into()),
        ),
        (
            args(&["-name", "app:1", "-name", "evil:1", "-digest", &d]),
            FlagError::Repeated("name".into()),
        ),
        (
            args(&["-name", "app:1", "-digest", &d, "extra"]),
            FlagError::Unexpected("extra".into()),
        ),
        (
            args(&["-name", "app:1", "-digest", &d, "--", "extra"]),
            FlagError::Unexpected("extra".into()),
        ),
        (args(&["-", "-name", "app:1"]), FlagError::Unexpected("-".into())),
        (args(&["---name", "app:1"]), FlagError::BadSyntax("---name".into())),
        (args(&["-=x"]), FlagError::BadSyntax("-=x".into())),
        (
            args(&["-name", "app:1", "-digest", &d, "-stdin-media-type", "application/json"]),
            FlagError::MediaType("application/json".into()),
        ),
        (
            args(&["-name", &format!("app@sha256:{OTHER}"), "-digest", &d]),
            FlagError::NamePinsOther {
                name: format!("app@sha256:{OTHER}"),
                digest: d.parse().expect("digest"),
            },
        ),
        (
            args(&["--policy", "p.yaml", "-name", "app:1", "-digest", &d]),
            FlagError::Unknown("policy".into()),
        ),
    ];
    for (given, want) in cases {
        assert_eq!(Request::parse(&given), Err(want), "{given:?}");
    }
    for (name, digest) in [("App:1", d.as_str()), ("app:1", "sha256:abc"), ("oci:/dir", d.as_str())] {
        let e = Request::parse(&args(&["-name", name, "-digest", digest])).expect_err(name);
        assert!(
            matches!(e, FlagError::Name { .. } | FlagError::Digest { .. }),
            "{name} {digest}: {e:?}"
        );
    }
}

#[test]
fn a_name_pinning_the_same_digest_keeps_its_tag_for_the_report() {
    let request = Request::parse(&containerd_args(&format!("r.example/app:1@{}", digest()))).expect("parses");
    assert_eq!(request.judged_as().to_string(), format!("r.example/app:1@{}", digest()));
    assert_eq!(
        request.repository_at_digest().to_string(),
        format!("r.example/app@{}", digest())
    );
}

#[test]
fn every_error_says_what_to_do_in_one_line() {
    for e in [
        FlagError::Unknown("x".into()),
        FlagError::Missing("name"),
        FlagError::Unexpected("x".into()),
        FlagError::MediaType("x".into()),
    ] {
        let text = e.to_string();
        assert!(!text.contains('\n') && !text.is_empty(), "{text}");
    }
}

fn descriptor(hex: &str) -> Vec<u8> {
    // As containerd writes it: json.Encoder, so a trailing newline.
    format!(
        "{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"sha256:{hex}\",\"size\":2048,\"annotations\":{{\"a\":\"b\"}},\"urls\":[\"https://x\"],\"data\":\"\"}}\n"
    )
    .into_bytes()
}

#[test]
fn stdin_payloads() {
    let wait = Duration::from_secs(1);
    let ours: Digest = digest().parse().expect("digest");
    assert_eq!(
        descriptor_digest(&descriptor(HEX), End::Closed, wait),
        Ok(Some(ours.clone()))
    );
    // Still open, but the whole descriptor is there: used.
    assert_eq!(
        descriptor_digest(&descriptor(HEX), End::StillOpen, wait),
        Ok(Some(ours))
    );
    for nothing in [&b""[..], b"\n", b"  \r\n"] {
        assert_eq!(descriptor_digest(nothing, End::Closed, wait), Ok(None));
        assert_eq!(descriptor_digest(nothing, End::StillOpen, wait), Ok(None));
    }
    let half = &descriptor(HEX)[..40];
    assert_eq!(
        descriptor_digest(half, End::StillOpen, wait),
        Err(StdinError::Incomplete { waited: wait })
    );
    assert!(matches!(
        descriptor_digest(half, End::Closed, wait),
        Err(StdinError::NotDescriptor(_))
    ));
    for bad in [
        &b"not json"[..],
        b"[]",
        b"{}",
        b"{\"digest\":\"sha256:abc\"}",
        b"{\"digest\":7}",
    ] {
        assert!(
            matches!(
                descriptor_digest(bad, End::Closed, wait),
                Err(StdinError::NotDescriptor(_))
            ),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(descriptor_digest(b"{", End::TooLarge, wait), Err(StdinError::TooLarge));
    assert!(matches!(
        descriptor_digest(b"", End::Failed("x".into()), wait),
        Err(StdinError::Unreadable(_))
    ));
}

/// Gives `first`, then blocks forever: a stdin nobody closes.
struct NeverCloses(Option<Vec<u8>>);

impl Read for NeverCloses {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if let Some(first) = self.0.take() {
            buffer[..first.len()].copy_from_slice(&first);
            return Ok(first.len());
        }
        loop {
            std::thread::park();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn reading_stops_at_the_end_the_limit_or_the_wait() {
    let rt = runtime();
    let wait = Duration::from_millis(300);
    let (bytes, end) = rt.block_on(collect(std::io::Cursor::new(descriptor(HEX)), 100_000, wait));
    assert_eq!((bytes, end), (descriptor(HEX), End::Closed));

    let started = Instant::now();
    let (bytes, end) = rt.block_on(collect(NeverCloses(Some(descriptor(HEX))), 100_000, wait));
    assert_eq!((bytes, end), (descriptor(HEX), End::StillOpen));
    let (bytes, end) = rt.block_on(collect(NeverCloses(None), 100_000, wait));
    assert_eq!((bytes, end), (Vec::new(), End::StillOpen));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    let (bytes, end) = rt.block_on(collect(std::io::repeat(b' '), 100_000, wait));
    assert_eq!(end, End::TooLarge);
    assert!(bytes.len() <= 100_000 + 8 * 1024, "{}", bytes.len());
}

#[test]
fn reasons_are_one_line_within_containerds_limit() {
    assert_eq!(reason_line("  denied\nbecause\r\tof x \n"), "denied because  of x");
    let short = "a".repeat(OUTPUT_LIMIT - 1);
    assert_eq!(reason_line(&short), short);
    for filler in ["a", "é", "日", "🦀"] {
        for extra in 0..5 {
            let long = format!("{}{}", "x".repeat(extra), filler.repeat(OUTPUT_LIMIT));
            let line = reason_line(&long);
            assert!(line.len() < OUTPUT_LIMIT, "{filler} {extra}: {}", line.len());
            assert!(line.len() >= OUTPUT_LIMIT - 8, "{filler} {extra}: {}", line.len());
            assert!(line.ends_with('…'), "{filler} {extra}");
            assert!(long.starts_with(line.trim_end_matches('…')));
        }
    }
    assert_eq!(cut("abcdef".into(), 6), "abcdef");
    assert_eq!(cut("abcdefg".into(), 6), "abc…");
    assert_eq!(cut("ééé".into(), 5), "é…");
}
