//! The loader never panics, whatever the input: random YAML-ish text, deep
//! nesting, and alias expansion (billion laughs) are all bounded.

use proptest::prelude::*;

use super::support::{NOW, load};
use crate::policy::{Code, compile};

fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "apiVersion: sigil.dev/v1alpha1\n",
        "kind: ImagePolicy\n",
        "rules:\n",
        "  - name: r\n",
        "    images: [\"**\"]\n",
        "    signatures: {anyOf: [a]}\n",
        "publishers:\n",
        "  a: {key: a.pub}\n",
        "  a: &x {keyData: y}\n",
        "  b: *x\n",
        "exemptions:\n",
        "  - waive: all\n",
        "    expires: 2020-01-01\n",
        "{",
        "}",
        "[",
        "]",
        ":",
        "- ",
        "&a ",
        "*a ",
        "!!str ",
        "\"",
        "'",
        "\t",
        "\n",
        "  ",
        "#",
        "---\n",
        "...\n",
        "? ",
        "|\n",
        ">-\n",
        "\u{0}",
        "é",
        "\\",
        "%YAML 1.2\n",
        "<<: *a\n",
        "condition: \"predicate.x > 1\"\n",
        "mode: warn\n",
        "threshold: {count: 2, of: [a]}\n",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn loader_never_panics_on_yamlish_text(text in yamlish()) {
        let _ = compile(&text, std::path::Path::new("/nonexistent/policy.yaml"), NOW, &crate::policy::MemoryFiles::default());
    }

    #[test]
    fn loader_never_panics_on_arbitrary_text(text in ".{0,400}") {
        let _ = compile(&text, std::path::Path::new("/nonexistent/policy.yaml"), NOW, &crate::policy::MemoryFiles::default());
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for open in ["[", "{a: ", "- "] {
        let text = open.repeat(100_000);
        let (p, d) = load(&text, &[]);
        assert!(p.is_none());
        assert!(d.has_errors(), "{open}");
    }
    let mut block = String::new();
    for i in 0..200 {
        block.push_str(&" ".repeat(i));
        block.push_str("a:\n");
    }
    let (_, d) = load(&block, &[]);
    assert!(
        d.items
            .iter()
            .any(|d| d.code == Code::Syntax && d.message.contains("nesting")),
        "{:?}",
        d.items
    );
}

#[test]
fn billion_laughs_is_bounded() {
    let mut text = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut prev = 'a';
    for name in 'b'..='j' {
        text.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
        prev = name;
    }
    let (p, d) = load(&text, &[]);
    assert!(p.is_none());
    assert!(d.items.iter().any(|d| d.code == Code::TooLarge), "{:?}", d.items);
}
