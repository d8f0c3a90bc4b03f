//! The JSON document the policy parser reads: a tape (one flat list of nodes in document
//! order) whose strings borrow from the text. Building it costs a few allocations for the
//! whole document instead of one per string, array and object plus a hash table per object
//! (`serde_json::Value` with `preserve_order`), which was most of the parse time (perf:
//! allocation, IndexMap inserts, hashing, and freeing the tree).
//!
//! Same reading as `serde_json::Value`: serde_json's own syntax checks, errors and nesting
//! limit (128), numbers as `serde_json::Number`, and a key given twice keeps its first place
//! and its last value.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// One node of the tape. An array or object is followed by its contents and knows where
/// they end; an object's contents are `Key` nodes, each followed by its value.
#[derive(Debug, Clone, PartialEq)]
enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    Key(Cow<'a, str>),
    Array {
        len: u32,
        end: u32,
    },
    /// `dups`: a key appears twice (rare): iteration then resolves them.
    Object {
        len: u32,
        end: u32,
        dups: bool,
    },
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<'a> {
    nodes: Vec<Node<'a>>,
}

/// A value inside a [`Json`] document.
#[derive(Debug, Clone, Copy)]
pub struct Val<'t, 'a> {
    tape: &'t [Node<'a>],
    at: usize,
}

/// What a value is, for `match`.
#[derive(Debug, Clone, Copy)]
pub enum View<'t, 'a> {
    Null,
    Bool(bool),
    Number(&'t Number),
    Str(&'t str),
    Array(Items<'t, 'a>),
    Object(Obj<'t, 'a>),
}

/// An array's items.
#[derive(Debug, Clone, Copy)]
pub struct Items<'t, 'a> {
    tape: &'t [Node<'a>],
    first: usize,
    len: usize,
}

/// An object's members.
#[derive(Debug, Clone, Copy)]
pub struct Obj<'t, 'a> {
    tape: &'t [Node<'a>],
    first: usize,
    len: usize,
    dups: bool,
}

impl<'a> Json<'a> {
    /// Parses `text`; the strings borrow from it where they have no escapes.
    pub fn parse(text: &'a str) -> Result<Json<'a>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        // About one node per 12 bytes of a typical policy.
        let mut nodes = Vec::with_capacity(text.len() / 12 + 4);
        Tape(&mut nodes).deserialize(&mut de)?;
        de.end()?;
        Ok(Json { nodes })
    }

    /// The same document over a `serde_json::Value` (documents found inside Terraform plans
    /// and templates), borrowing its strings.
    pub fn from_value(v: &'a Value) -> Json<'a> {
        fn walk<'a>(v: &'a Value, out: &mut Vec<Node<'a>>) {
            match v {
                Value::Null => out.push(Node::Null),
                Value::Bool(b) => out.push(Node::Bool(*b)),
                Value::Number(n) => out.push(Node::Number(n.clone())),
                Value::String(s) => out.push(Node::Str(Cow::Borrowed(s))),
                Value::Array(items) => {
                    let at = out.len();
                    out.push(Node::Null);
                    for i in items {
                        walk(i, out);
                    }
                    out[at] = Node::Array {
                        len: items.len() as u32,
                        end: out.len() as u32,
                    };
                }
                Value::Object(map) => {
                    let at = out.len();
                    out.push(Node::Null);
                    for (k, v) in map {
                        out.push(Node::Key(Cow::Borrowed(k)));
                        walk(v, out);
                    }
                    // serde_json's map holds each key once.
                    out[at] = Node::Object {
                        len: map.len() as u32,
                        end: out.len() as u32,
                        dups: false,
                    };
                }
            }
        }
        let mut nodes = Vec::new();
        walk(v, &mut nodes);
        Json { nodes }
    }

    pub fn root(&self) -> Val<'_, 'a> {
        Val {
            tape: &self.nodes,
            at: 0,
        }
    }
}

impl<'t, 'a> Val<'t, 'a> {
    pub fn view(self) -> View<'t, 'a> {
        match &self.tape[self.at] {
            Node::Null => View::Null,
            Node::Bool(b) => View::Bool(*b),
            Node::Number(n) => View::Number(n),
            Node::Str(s) | Node::Key(s) => View::Str(s),
            Node::Array { len, .. } => View::Array(Items {
                tape: self.tape,
                first: self.at + 1,
                len: *len as usize,
            }),
            Node::Object { len, dups, .. } => View::Object(Obj {
                tape: self.tape,
                first: self.at + 1,
                len: *len as usize,
                dups: *dups,
            }),
        }
    }

    /// Where the next value after this one starts.
    fn end(self) -> usize {
        match &self.tape[self.at] {
            Node::Array { end, .. } | Node::Object { end, .. } => *end as usize,
            _ => self.at + 1,
        }
    }

    pub fn as_object(self) -> Option<Obj<'t, 'a>> {
        match self.view() {
            View::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_str(self) -> Option<&'t str> {
        match self.view() {
            View::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_array(self) -> bool {
        matches!(self.tape[self.at], Node::Array { .. })
    }

    /// `a string`, `an object`...: for messages.
    pub fn type_name(self) -> &'static str {
        match self.tape[self.at] {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Number(_) => "a number",
            Node::Str(_) | Node::Key(_) => "a string",
            Node::Array { .. } => "an array",
            Node::Object { .. } => "an object",
        }
    }
}

impl<'t, 'a> Items<'t, 'a> {
    pub fn len(self) -> usize {
        self.len
    }

    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Val<'t, 'a>> {
        let mut at = self.first;
        (0..self.len).map(move |_| {
            let v = Val {
                tape: self.tape,
                at,
            };
            at = v.end();
            v
        })
    }
}

impl<'t, 'a> Obj<'t, 'a> {
    /// Members as written, a key given twice included.
    fn raw(self) -> Members<'t, 'a> {
        Members {
            tape: self.tape,
            at: self.first,
            left: self.len,
        }
    }

    /// Members in document order, each key once: at its first place, with its last value.
    pub fn iter(self) -> ObjIter<'t, 'a> {
        if !self.dups {
            return ObjIter::Plain(self.raw());
        }
        let mut place: HashMap<&str, usize> = HashMap::new();
        let mut out: Vec<(&'t str, Val<'t, 'a>)> = Vec::new();
        for (k, v) in self.raw() {
            match place.get(k) {
                Some(&i) => out[i].1 = v,
                None => {
                    place.insert(k, out.len());
                    out.push((k, v));
                }
            }
        }
        ObjIter::Resolved(out.into_iter())
    }

    /// The value of `key` (its last one, when given twice).
    pub fn get(self, key: &str) -> Option<Val<'t, 'a>> {
        self.raw().filter(|(k, _)| *k == key).map(|(_, v)| v).last()
    }

    pub fn contains_key(self, key: &str) -> bool {
        self.raw().any(|(k, _)| k == key)
    }

    pub fn len(self) -> usize {
        if self.dups {
            self.iter().count()
        } else {
            self.len
        }
    }

    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// An object's members as written (see [`Obj::raw`]).
#[derive(Debug, Clone)]
pub struct Members<'t, 'a> {
    tape: &'t [Node<'a>],
    at: usize,
    left: usize,
}

impl<'t, 'a> Iterator for Members<'t, 'a> {
    type Item = (&'t str, Val<'t, 'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let Node::Key(k) = &self.tape[self.at] else {
            unreachable!("an object's members start with their key")
        };
        let v = Val {
            tape: self.tape,
            at: self.at + 1,
        };
        self.at = v.end();
        Some((k.as_ref(), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// An object's members, each key once (see [`Obj::iter`]). Objects without a repeated key,
/// nearly all of them, are read straight off the tape.
#[derive(Debug)]
pub enum ObjIter<'t, 'a> {
    Plain(Members<'t, 'a>),
    Resolved(std::vec::IntoIter<(&'t str, Val<'t, 'a>)>),
}

impl<'t, 'a> Iterator for ObjIter<'t, 'a> {
    type Item = (&'t str, Val<'t, 'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ObjIter::Plain(m) => m.next(),
            ObjIter::Resolved(r) => r.next(),
        }
    }
}

/// Deserializes one value onto the tape.
struct Tape<'v, 'a>(&'v mut Vec<Node<'a>>);

impl<'de> DeserializeSeed<'de> for Tape<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tape<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Node::Null);
        Ok(())
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.0.push(Node::Bool(b));
        Ok(())
    }
    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        self.0.push(Node::Number(n.into()));
        Ok(())
    }
    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        self.0.push(Node::Number(n.into()));
        Ok(())
    }
    fn visit_f64<E>(self, n: f64) -> Result<(), E> {
        // serde_json only yields finite numbers; `Value` makes others null alike.
        self.0
            .push(Number::from_f64(n).map_or(Node::Null, Node::Number));
        Ok(())
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<(), E> {
        self.0.push(Node::Str(Cow::Borrowed(s)));
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.0.push(Node::Str(Cow::Owned(s.to_string())));
        Ok(())
    }
    fn visit_string<E>(self, s: String) -> Result<(), E> {
        self.0.push(Node::Str(Cow::Owned(s)));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let at = self.0.len();
        self.0.push(Node::Null);
        let mut len = 0u32;
        while seq.next_element_seed(Tape(self.0))?.is_some() {
            len += 1;
        }
        let end = self.0.len() as u32;
        self.0[at] = Node::Array { len, end };
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let at = self.0.len();
        self.0.push(Node::Null);
        let mut len = 0u32;
        while map.next_key_seed(KeySeed(self.0))?.is_some() {
            map.next_value_seed(Tape(self.0))?;
            len += 1;
        }
        let end = self.0.len() as u32;
        self.0[at] = Node::Object {
            len,
            end,
            dups: false,
        };
        let obj = Obj {
            tape: self.0,
            first: at + 1,
            len: len as usize,
            dups: false,
        };
        // Linear: small objects are compared pairwise, larger ones through a hash set.
        let dups = if len <= 16 {
            let mut keys = [""; 16];
            obj.raw().enumerate().any(|(n, (k, _))| {
                keys[n] = k;
                keys[..n].contains(&k)
            })
        } else {
            let mut seen = std::collections::HashSet::with_capacity(len as usize);
            !obj.raw().all(|(k, _)| seen.insert(k))
        };
        if dups {
            self.0[at] = Node::Object { len, end, dups };
        }
        Ok(())
    }
}

/// An object key onto the tape, borrowed when it has no escapes.
struct KeySeed<'v, 'a>(&'v mut Vec<Node<'a>>);

impl<'de> DeserializeSeed<'de> for KeySeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<(), E> {
        self.0.push(Node::Key(Cow::Borrowed(s)));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.0.push(Node::Key(Cow::Owned(s.to_string())));
        Ok(())
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<(), E> {
        self.0.push(Node::Key(Cow::Owned(s)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Back to a `serde_json::Value`, to compare readings.
    fn to_value(v: Val<'_, '_>) -> Value {
        match v.view() {
            View::Null => Value::Null,
            View::Bool(b) => Value::Bool(b),
            View::Number(n) => Value::Number(n.clone()),
            View::Str(s) => Value::String(s.to_string()),
            View::Array(items) => Value::Array(items.iter().map(to_value).collect()),
            View::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.to_string(), to_value(v)))
                    .collect(),
            ),
        }
    }

    /// The tape says what `serde_json::Value` says, text for text: same values, same order,
    /// same duplicate-key rule, same errors.
    #[test]
    fn reads_as_serde_json_value_does() {
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\": {i}", i % 20)).collect();
        let many = format!("{{\"a\": [{{{}}}, 1]}}", many.join(","));
        let texts = [
            r#"{"b": 1, "a": [true, null, 2.5, -3, "x\n\u00e9"], "c": {"d": {}}, "e": []}"#,
            r#"{"k": 1, "j": [2, {"z": 0}], "k": {"x": [3]}}"#,
            r#"[1e400]"#,
            r#""plain""#,
            r#"{"x": "a\"b", "a\"b": "y"}"#,
            &many,
            r#"{"a": 1,}"#,
            r#"[1] x"#,
        ];
        for t in texts {
            let v: Result<Value, _> = serde_json::from_str(t);
            let j = Json::parse(t);
            match (v, j) {
                (Ok(v), Ok(j)) => {
                    let back = to_value(j.root());
                    assert_eq!(back, v, "{t}");
                    // Same order of members, too.
                    assert_eq!(back.to_string(), v.to_string(), "{t}");
                    assert_eq!(to_value(Json::from_value(&v).root()), v, "{t}");
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{t}"),
                (a, b) => panic!("{t}: {a:?} vs {b:?}"),
            }
        }
        let j = Json::parse(r#"{"k": 1, "j": 2, "k": 3}"#).unwrap();
        let o = j.root().as_object().unwrap();
        let keys: Vec<&str> = o.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["k", "j"], "first place");
        assert!(matches!(o.get("k").unwrap().view(), View::Number(n) if n.as_u64() == Some(3)));
        assert_eq!(o.len(), 2);
    }

    #[test]
    fn strings_without_escapes_borrow_from_the_text() {
        let j = Json::parse(r#"{"Sid": "plain", "x": "esc\u0041"}"#).unwrap();
        assert!(matches!(&j.nodes[2], Node::Str(Cow::Borrowed("plain"))));
        assert!(matches!(&j.nodes[4], Node::Str(Cow::Owned(s)) if s == "escA"));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(
            Json::parse(&deep).is_err(),
            "serde_json's nesting limit holds"
        );
    }
}
