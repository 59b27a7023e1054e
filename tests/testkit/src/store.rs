//! In-memory point storage with InfluxDB's merge rule.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A typed field value as stored by the server.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A float field (`1.5`).
    F64(f64),
    /// A signed integer field (`-3i`).
    I64(i64),
    /// An unsigned integer field (`3u`).
    U64(u64),
    /// A boolean field (`t`, `true`, `F`, ...).
    Bool(bool),
    /// A string field (`"..."`), unescaped.
    Str(String),
}

impl fmt::Display for FieldValue {
    /// Formats the value as line protocol would write it (`1.5`, `-3i`, `3u`, `true`, `"s"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::F64(v) => write!(f, "{v}"),
            FieldValue::I64(v) => write!(f, "{v}i"),
            FieldValue::U64(v) => write!(f, "{v}u"),
            FieldValue::Bool(v) => write!(f, "{v}"),
            FieldValue::Str(v) => {
                f.write_str("\"")?;
                for c in v.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")
            }
        }
    }
}

/// One stored point: what a query of the bucket would return.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The measurement name, unescaped.
    pub measurement: String,
    /// The tag set, unescaped and sorted by key.
    pub tags: BTreeMap<String, String>,
    /// The field set, unescaped and sorted by key.
    pub fields: BTreeMap<String, FieldValue>,
    /// The timestamp in nanoseconds since the Unix epoch (normalised from the request's precision).
    pub timestamp_ns: i64,
}

impl Point {
    /// The series key plus timestamp: points with equal keys merge.
    pub(crate) fn key(&self) -> String {
        let mut k = String::with_capacity(64);
        k.push_str(&self.measurement);
        for (tk, tv) in &self.tags {
            k.push('\0');
            k.push_str(tk);
            k.push('\u{1}');
            k.push_str(tv);
        }
        k.push('\0');
        k.push_str(&self.timestamp_ns.to_string());
        k
    }

    /// The value of field `name`, if present.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.get(name)
    }

    /// The value of tag `name`, if present.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags.get(name).map(String::as_str)
    }
}

/// Points of one bucket: insertion order plus an index for merging duplicates.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    pub(crate) points: Vec<Point>,
    index: HashMap<String, usize>,
}

impl Bucket {
    /// Stores `p`; a point with the same measurement, tag set and timestamp is merged,
    /// the later field values winning. Returns true when a new point was added.
    pub(crate) fn insert(&mut self, p: Point) -> bool {
        let key = p.key();
        if let Some(&i) = self.index.get(&key) {
            if let Some(existing) = self.points.get_mut(i) {
                existing.fields.extend(p.fields);
            }
            false
        } else {
            self.index.insert(key, self.points.len());
            self.points.push(p);
            true
        }
    }
}
