//! Reading a predicate in one pass, borrowing its text, for the policy's
//! content checks: only the fields a check reads are kept, and no
//! `serde_json::Value` tree is built.
//!
//! The reading must judge exactly what a `Value` tree would, so:
//!
//! - every value, kept or not, goes through `deserialize_any` (never
//!   `IgnoredAny`, which skips without serde_json's recursion limit and
//!   without checking numbers and escapes): a predicate a `Value` parse
//!   refuses is refused here with the same error, at the same place;
//! - a repeated key counts once, its last value (as in a `Value` map);
//! - a field of another type than the one read is absent (as
//!   `Value::as_str` and friends say), never an error.
//!
//! A [`Shape`] says what a string, an array and an object give; anything
//! else (a number, a boolean, null) gives [`Shape::other`].

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// How one JSON value is read.
pub(crate) trait Shape<'de>: Sized {
    type Out;
    /// A value that is not a string, an array or an object (or one the
    /// shape does not read: the defaults below validate and drop it).
    fn other(self) -> Self::Out;
    fn string(self, _text: &str) -> Self::Out {
        self.other()
    }
    fn borrowed(self, text: &'de str) -> Self::Out {
        self.string(text)
    }
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        while seq.next_element_seed(Read(Skip))?.is_some() {}
        Ok(self.other())
    }
    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        while map.next_key_seed(Read(Skip))?.is_some() {
            map.next_value_seed(Read(Skip))?;
        }
        Ok(self.other())
    }
}

/// Reads a value as the shape `S` says.
pub(crate) struct Read<S>(pub S);

impl<'de, S: Shape<'de>> DeserializeSeed<'de> for Read<S> {
    type Value = S::Out;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Out, D::Error> {
        d.deserialize_any(ReadVisitor(self.0, PhantomData))
    }
}

struct ReadVisitor<'de, S>(S, PhantomData<&'de ()>);

impl<'de, S: Shape<'de>> Visitor<'de> for ReadVisitor<'de, S> {
    type Value = S::Out;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<S::Out, E> {
        Ok(self.0.other())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<S::Out, E> {
        Ok(self.0.other())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<S::Out, E> {
        Ok(self.0.other())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<S::Out, E> {
        Ok(self.0.other())
    }
    fn visit_unit<E: de::Error>(self) -> Result<S::Out, E> {
        Ok(self.0.other())
    }
    fn visit_none<E: de::Error>(self) -> Result<S::Out, E> {
        Ok(self.0.other())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<S::Out, E> {
        Ok(self.0.string(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<S::Out, E> {
        Ok(self.0.borrowed(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<S::Out, A::Error> {
        self.0.array(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S::Out, A::Error> {
        self.0.object(map)
    }
}

/// Validates a value and keeps nothing.
pub(crate) struct Skip;

impl<'de> Shape<'de> for Skip {
    type Out = ();
    fn other(self) {}
}

/// A string, borrowed when the text has no escapes; `None` for another type.
pub(crate) struct Text;

impl<'de> Shape<'de> for Text {
    type Out = Option<Cow<'de, str>>;
    fn other(self) -> Self::Out {
        None
    }
    fn string(self, text: &str) -> Self::Out {
        Some(Cow::Owned(text.to_owned()))
    }
    fn borrowed(self, text: &'de str) -> Self::Out {
        Some(Cow::Borrowed(text))
    }
}

/// The string at a path of object keys (`[]`: the value itself).
pub(crate) struct Path(pub &'static [&'static str]);

impl<'de> Shape<'de> for Path {
    type Out = Option<Cow<'de, str>>;
    fn other(self) -> Self::Out {
        None
    }
    fn string(self, text: &str) -> Self::Out {
        self.0.is_empty().then(|| Cow::Owned(text.to_owned()))
    }
    fn borrowed(self, text: &'de str) -> Self::Out {
        self.0.is_empty().then_some(Cow::Borrowed(text))
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let Some((_, rest)) = self.0.split_first() else {
            return Skip.object(map).map(|()| None);
        };
        let mut value = None;
        fields(map, &self.0[..1], |_, map| {
            value = map.next_value_seed(Read(Path(rest)))?;
            Ok(())
        })?;
        Ok(value)
    }
}

/// An object key: its index in `names`, `None` for any other key.
struct KeyIn(&'static [&'static str]);

impl<'de> Shape<'de> for KeyIn {
    type Out = Option<usize>;
    fn other(self) -> Self::Out {
        None
    }
    fn string(self, text: &str) -> Self::Out {
        self.0.iter().position(|n| *n == text)
    }
}

/// Walks an object's entries: `each(i, map)` must read the value of the
/// key `names[i]`; the values of other keys are validated and dropped.
/// A repeated key calls `each` again: assign, so that its last value wins.
pub(crate) fn fields<'de, A: MapAccess<'de>>(
    mut map: A,
    names: &'static [&'static str],
    mut each: impl FnMut(usize, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key_seed(Read(KeyIn(names)))? {
        match key {
            Some(i) => each(i, &mut map)?,
            None => map.next_value_seed(Read(Skip))?,
        }
    }
    Ok(())
}

/// Reads `text` (a whole JSON document) as `S` says, refusing what
/// `serde_json::from_str::<Value>` refuses, with the same error.
pub(crate) fn read_str<'de, S: Shape<'de>>(text: &'de str, shape: S) -> Result<S::Out, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let out = Read(shape).deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

/// Checks `text` parses as a `Value` would, building nothing.
pub fn validate(text: &str) -> Result<(), serde_json::Error> {
    read_str(text, Skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_a_value_parse_refuses_with_the_same_error() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let skipped_deep = format!(r#"{{"ignored": {}}}"#, deep);
        for text in [
            deep.as_str(),
            skipped_deep.as_str(),
            r#"{"n": 1e400}"#,
            r#"{"s": "\ud800"}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1,}"#,
        ] {
            let want = serde_json::from_str::<serde_json::Value>(text)
                .expect_err(text)
                .to_string();
            let got = validate(text).expect_err(text).to_string();
            assert_eq!(got, want, "{text}");
        }
        // twins: what a Value parse accepts is accepted
        for text in [r#"{"a": [1, {"b": "\u00e9"}], "a": null}"#, "[]", "\"x\"", "127"] {
            serde_json::from_str::<serde_json::Value>(text).expect(text);
            validate(text).expect(text);
        }
    }

    #[test]
    fn the_last_of_a_repeated_key_wins_and_other_types_are_absent() {
        struct Name;
        impl<'de> Shape<'de> for Name {
            type Out = Option<Cow<'de, str>>;
            fn other(self) -> Self::Out {
                None
            }
            fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
                let mut name = None;
                fields(map, &["name"], |_, map| {
                    name = map.next_value_seed(Read(Text))?;
                    Ok(())
                })?;
                Ok(name)
            }
        }
        let name = |text: &str| read_str(text, Name).expect(text).map(Cow::into_owned);
        assert_eq!(name(r#"{"name": "a", "name": "b"}"#).as_deref(), Some("b"));
        assert_eq!(name(r#"{"name": "a", "name": 1}"#), None);
        assert_eq!(name(r#"{"name": "a\"b"}"#).as_deref(), Some("a\"b"));
        assert_eq!(name(r#"["name", "a"]"#), None);
    }
}
