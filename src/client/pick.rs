//! Reading a few top-level fields of a JSON object without building the whole
//! document: the keys asked for are read as [`Field`]s, which borrow their text from
//! the body, every other value is skipped, and nothing is copied. The field names
//! come from the configuration, so a `#[derive(Deserialize)]` struct cannot name them.
//!
//! Why: the load mode checks every answer, and for small answers such as `/health`
//! building a `serde_json::Value` map (one allocation per key and per string, then
//! freeing them all) cost about 5 % of the client's CPU per request
//! (`BENCHMARKS.md`, section 1).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A picked value: a string (borrowed from the body unless it had escapes), a number,
/// or what else it was, by name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Other(&'static str),
}

impl Field<'_> {
    pub(crate) fn into_string(self) -> Option<String> {
        match self {
            Field::Str(s) => Some(s.into_owned()),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Field::Num(n) => Some(*n),
            _ => None,
        }
    }
}

/// As an error message shows it: a string quoted, a number as it was, else its kind.
impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Str(s) => write!(f, "{s:?}"),
            Field::Num(n) => write!(f, "{n}"),
            Field::Other(kind) => f.write_str(kind),
        }
    }
}

/// The values of `keys` in the JSON object `body`, in the order asked; `None` for a
/// key the object does not have. A body that is not one JSON object is an error. When a key appears twice, the last value wins, as with
/// `serde_json::Value`.
pub(crate) fn pick<'b, const N: usize>(
    body: &'b str,
    keys: [&str; N],
) -> Result<[Option<Field<'b>>; N], serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(body);
    let picked = Picker { keys: &keys }.deserialize(&mut de)?;
    de.end()?;
    Ok(picked)
}

struct Picker<'k, const N: usize> {
    keys: &'k [&'k str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for Picker<'_, N> {
    type Value = [Option<Field<'de>>; N];

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Picker<'_, N> {
    type Value = [Option<Field<'de>>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = [const { None }; N];
        while let Some(index) = map.next_key_seed(KeyIndex { keys: self.keys })? {
            match index {
                Some(i) => picked[i] = Some(map.next_value_seed(FieldSeed)?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(picked)
    }
}

/// A map key, read as the index of the wanted key it equals, if any.
struct KeyIndex<'k, const N: usize> {
    keys: &'k [&'k str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for KeyIndex<'_, N> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<const N: usize> Visitor<'_> for KeyIndex<'_, N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.keys.iter().position(|k| *k == key))
    }
}

/// Reads one value as a [`Field`]; objects and arrays are skipped.
struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Field::Num(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field::Num(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Num(v as f64))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field::Other("a boolean"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other("null"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Other("an object"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Other("an array"))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{Field, pick};

    fn text(s: &str) -> Option<Field<'_>> {
        Some(Field::Str(Cow::Borrowed(s)))
    }

    #[test]
    fn picks_the_keys_asked_for_in_their_order() {
        let body = r#"{"b": 2, "skip": {"deep": [1, {"x": "y"}]}, "a": "one", "c": null, "d": [1], "e": {"f": 1}, "g": -1.5, "h": true}"#;
        let [a, b, c, d, e, g, h, missing] =
            pick(body, ["a", "b", "c", "d", "e", "g", "h", "missing"]).unwrap();
        assert_eq!(a, text("one"));
        assert_eq!(b, Some(Field::Num(2.0)));
        assert_eq!(c, Some(Field::Other("null")));
        assert_eq!(d, Some(Field::Other("an array")));
        assert_eq!(e, Some(Field::Other("an object")));
        assert_eq!(g, Some(Field::Num(-1.5)));
        assert_eq!(h, Some(Field::Other("a boolean")));
        assert_eq!(missing, None);
    }

    #[test]
    fn strings_borrow_from_the_body_unless_they_had_escapes() {
        let [plain, escaped] = pick(r#"{"p": "ok", "e": "a\nb"}"#, ["p", "e"]).unwrap();
        assert!(matches!(plain, Some(Field::Str(Cow::Borrowed("ok")))));
        assert!(matches!(&escaped, Some(Field::Str(Cow::Owned(s))) if s == "a\nb"));
    }

    #[test]
    fn escaped_keys_match_as_their_text() {
        let [v] = pick(r#"{"st\u0061tus": "ok"}"#, ["status"]).unwrap();
        assert_eq!(v, text("ok"));
    }

    #[test]
    fn agrees_with_a_full_parse_on_a_repeated_key() {
        let body = r#"{"a": 1, "a": 2}"#;
        let full: serde_json::Value = serde_json::from_str(body).unwrap();
        let [a] = pick(body, ["a"]).unwrap();
        assert_eq!(a.and_then(|a| a.as_f64()), full["a"].as_f64());
    }

    #[test]
    fn rejects_what_is_not_one_json_object() {
        for body in [
            "[1, 2]",
            "\"text\"",
            "{\"a\": 1",
            "{\"a\": 1} trailing",
            "",
            "<html>",
        ] {
            assert!(pick(body, ["a"]).is_err(), "{body:?} was accepted");
        }
    }
}
