//! JSON helpers shared by the formats: Go-compatible string encoding (so
//! what sigil writes is byte-for-byte what cosign writes) and
//! case-insensitive field lookup (so what older producers wrote is read).

use serde_json::Value;

/// Writes `s` as a JSON string the way Go's `encoding/json` does: `<`, `>`
/// and `&` as `\u003c` `\u003e` `\u0026`, U+2028/2029 escaped.
pub fn go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Looks a field up by name, ignoring ASCII case, as Go's `encoding/json` does
/// when decoding into a struct. An exact match wins.
pub fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escapes_html_characters() {
        let mut out = String::new();
        go_string(&mut out, "a<b>&\"\\\n\u{1}\u{2028}é");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#);
    }

    #[test]
    fn field_lookup_ignores_case() {
        let v: Value = serde_json::json!({"Critical": 1, "critical": 2, "Other": 3});
        assert_eq!(field(&v, "critical"), Some(&Value::from(2)));
        assert_eq!(field(&v, "other"), Some(&Value::from(3)));
        assert_eq!(field(&v, "missing"), None);
    }
}
