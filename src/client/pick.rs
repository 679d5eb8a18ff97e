//! Reading a few top-level fields of a JSON object without building the whole
//! document: the keys asked for are parsed into [`Value`]s, every other value is
//! skipped, and no key is copied. The field names come from the configuration, so a
//! `#[derive(Deserialize)]` struct cannot name them.
//!
//! Why: the load mode checks every answer, and for small answers such as `/health`
//! building a `serde_json::Value` map (one allocation per key and per string, then
//! freeing them all) cost about 5 % of the client's CPU per request
//! (`BENCHMARKS.md`, section 1).

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// The values of `keys` in the JSON object `body`, in the order asked; `None` for a
/// key the object does not have. A body that is not a JSON object is an error. When
/// a key appears twice, the last value wins, as with `serde_json::Value`.
pub(crate) fn pick<const N: usize>(
    body: &str,
    keys: [&str; N],
) -> Result<[Option<Value>; N], serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(body);
    let picked = Picker { keys: &keys }.deserialize(&mut de)?;
    de.end()?;
    Ok(picked)
}

struct Picker<'k, const N: usize> {
    keys: &'k [&'k str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for Picker<'_, N> {
    type Value = [Option<Value>; N];

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Picker<'_, N> {
    type Value = [Option<Value>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = [const { None }; N];
        while let Some(index) = map.next_key_seed(KeyIndex { keys: self.keys })? {
            match index {
                Some(i) => picked[i] = Some(map.next_value()?),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::pick;

    #[test]
    fn picks_the_keys_asked_for_in_their_order() {
        let body = r#"{"b": 2, "skip": {"deep": [1, {"x": "y"}]}, "a": "one", "c": null}"#;
        let [a, b, c, missing] = pick(body, ["a", "b", "c", "missing"]).unwrap();
        assert_eq!(a, Some(json!("one")));
        assert_eq!(b, Some(json!(2)));
        assert_eq!(c, Some(json!(null)));
        assert_eq!(missing, None);
    }

    #[test]
    fn escaped_keys_match_as_their_text() {
        let [v] = pick(r#"{"st\u0061tus": "ok"}"#, ["status"]).unwrap();
        assert_eq!(v, Some(json!("ok")));
    }

    #[test]
    fn agrees_with_a_full_parse_on_a_repeated_key() {
        let body = r#"{"a": 1, "a": 2}"#;
        let full: serde_json::Value = serde_json::from_str(body).unwrap();
        let [a] = pick(body, ["a"]).unwrap();
        assert_eq!(a.as_ref(), full.get("a"));
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
