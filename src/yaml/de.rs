//! A serde `Deserializer` over the spanned tree.
//!
//! Typed views (k8s-openapi structs) are read straight from the nodes, so an error is attached to
//! the exact node that caused it. Error messages name types, never values: a wrong-typed Secret
//! value must not be echoed into a public CI log. Aliases are followed with a budget so an alias
//! bomb cannot be expanded.

use super::{Document, Kind, NodeId, Resolved, resolve_scalar};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use std::cell::Cell;
use std::fmt;

/// A typing error at a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub message: String,
    pub node: Option<NodeId>,
    /// The alias-expansion budget ran out.
    pub budget: bool,
    /// A value of the wrong type, as data (the message says the same in words).
    pub mismatch: Option<TypeMismatch>,
}

/// A value of one type where the schema wants another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMismatch {
    /// What the schema wants, in the API's words (`a string`, `an integer`, ...).
    pub expected: String,
    /// What the document has (`an integer`, `a boolean`, ...).
    pub found: &'static str,
    /// The type is right but the value is not allowed.
    pub value_not_allowed: bool,
}

impl TypeMismatch {
    /// The schema wants a string.
    pub(crate) fn wants_string(&self) -> bool {
        // serde's own description of `String`.
        self.expected == "a string"
    }

    fn message(&self) -> String {
        let tail = if self.value_not_allowed {
            " that is not allowed here"
        } else {
            ""
        };
        format!("expected {}, found {}{tail}", self.expected, self.found)
    }
}

impl DeError {
    fn mismatch(m: TypeMismatch) -> DeError {
        DeError {
            message: m.message(),
            node: None,
            budget: false,
            mismatch: Some(m),
        }
    }

    fn at(mut self, id: NodeId) -> DeError {
        if self.node.is_none() {
            self.node = Some(id);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

fn kind_of(u: &de::Unexpected<'_>) -> &'static str {
    use de::Unexpected::*;
    match u {
        Bool(_) => "a boolean",
        Unsigned(_) | Signed(_) => "an integer",
        Float(_) => "a number",
        Char(_) | Str(_) => "a string",
        Bytes(_) => "bytes",
        Unit | Option => "null",
        NewtypeStruct | NewtypeVariant => "a value",
        Seq => "a list",
        Map => "a mapping",
        Enum | UnitVariant | TupleVariant | StructVariant => "an enum value",
        Other(_) => "a value",
    }
}

/// What serde expected, in the words of the Kubernetes API rather than Rust's.
fn expected(exp: &dyn de::Expected) -> String {
    let e = exp.to_string();
    match e.as_str() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "a boolean (true or false)".into(),
        _ if e.starts_with("struct ") => "a mapping".into(),
        _ => e,
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            node: None,
            budget: false,
            mismatch: None,
        }
    }
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::mismatch(TypeMismatch {
            expected: expected(exp),
            found: kind_of(&unexp),
            value_not_allowed: false,
        })
    }
    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::mismatch(TypeMismatch {
            expected: expected(exp),
            found: kind_of(&unexp),
            value_not_allowed: true,
        })
    }
    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!("expected {exp}, found {len} elements"))
    }
    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format_args!("expected one of {}", expected.join(", ")))
    }
    fn missing_field(field: &'static str) -> Self {
        Self::custom(format_args!("required field `{field}` is missing"))
    }
    fn duplicate_field(field: &'static str) -> Self {
        Self::custom(format_args!("field `{field}` is given twice"))
    }
}

/// Deserialize a typed view of the subtree at `id`, with at most `budget` nodes visited.
pub fn from_node<T: DeserializeOwned>(
    doc: &Document,
    id: NodeId,
    budget: u64,
) -> Result<T, DeError> {
    let budget = Cell::new(budget);
    T::deserialize(NodeDe {
        doc,
        id,
        budget: &budget,
    })
}

#[derive(Clone, Copy)]
struct NodeDe<'a> {
    doc: &'a Document,
    id: NodeId,
    budget: &'a Cell<u64>,
}

impl<'a> NodeDe<'a> {
    fn spend(&self) -> Result<(), DeError> {
        let left = self.budget.get();
        if left == 0 {
            return Err(DeError {
                message: "alias expansion limit reached (an alias bomb?); object not read".into(),
                node: Some(self.id),
                budget: true,
                mismatch: None,
            });
        }
        self.budget.set(left - 1);
        Ok(())
    }

    fn target(&self) -> NodeId {
        self.doc.resolve(self.id)
    }

    /// The deserializer of node `id`, in the same document and under the same budget.
    fn child(&self, id: NodeId) -> NodeDe<'a> {
        NodeDe { id, ..*self }
    }
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.spend()?;
        let id = self.target();
        let node = self.doc.node(id);
        let result = match node.kind {
            Kind::Scalar { value, .. } => match resolve_scalar(self.doc, id) {
                Some(Resolved::Null) => visitor.visit_unit(),
                Some(Resolved::Bool(b)) => visitor.visit_bool(b),
                Some(Resolved::Int(i)) => visitor.visit_i64(i),
                Some(Resolved::Float(f)) => visitor.visit_f64(f),
                _ => visitor.visit_str(value),
            },
            Kind::Seq(items) => {
                let items = items.iter().map(|&item| self.child(item));
                visitor.visit_seq(SeqDeserializer::new(items))
            }
            Kind::Map(_) => {
                let entries = self.doc.entries(id);
                let entries = entries.map(|(k, v)| {
                    (
                        KeyDe {
                            inner: self.child(k),
                        },
                        self.child(v),
                    )
                });
                visitor.visit_map(MapDeserializer::new(entries))
            }
            Kind::Alias(_) => unreachable!("resolved above"),
        };
        result.map_err(|e| e.at(self.id))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if matches!(resolve_scalar(self.doc, self.id), Some(Resolved::Null)) {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.doc.str(self.id) {
            Some(s) => visitor
                .visit_enum(s.into_deserializer())
                .map_err(|e: DeError| e.at(self.id)),
            None => Err(<DeError as de::Error>::custom("expected a string").at(self.id)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// Mapping keys are always strings in Kubernetes JSON, whatever YAML would type them as.
struct KeyDe<'a> {
    inner: NodeDe<'a>,
}

impl<'de, 'a> de::Deserializer<'de> for KeyDe<'a> {
    type Error = DeError;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.inner.doc.str(self.inner.id) {
            Some(s) => visitor
                .visit_str(s)
                .map_err(|e: DeError| e.at(self.inner.id)),
            None => Err(
                <DeError as de::Error>::custom("mapping keys must be strings").at(self.inner.id),
            ),
        }
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Sequences and mappings are walked by serde's own `SeqDeserializer` and `MapDeserializer`,
/// which take their items and entries as these deserializers.
macro_rules! into_itself {
    ($($de:ident)*) => {
        $(impl<'de, 'a> IntoDeserializer<'de, DeError> for $de<'a> {
            type Deserializer = Self;
            fn into_deserializer(self) -> Self {
                self
            }
        })*
    };
}

into_itself!(NodeDe KeyDe);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Limits, parse};
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::Secret;

    /// Why `text` does not type as `T`, and the text of the node the error points at.
    fn type_error<T: DeserializeOwned + fmt::Debug>(text: &str) -> (DeError, &str) {
        let p = parse(text, Limits::default());
        let d = &p.docs[0];
        let err = from_node::<T>(d, d.root, 10_000).unwrap_err();
        let at = d.span(err.node.unwrap()).range();
        (err, &text[at])
    }

    #[test]
    fn reads_a_job() {
        let text = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: m\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: a\n        image: x:1\n";
        let p = parse(text, Limits::default());
        let d = &p.docs[0];
        let job: Job = from_node(d, d.root, 10_000).unwrap();
        assert_eq!(job.spec.as_ref().unwrap().backoff_limit, Some(0));
        assert_eq!(job.metadata.name.as_deref(), Some("m"));
    }

    #[test]
    fn wrong_type_points_at_the_node_and_hides_the_value() {
        let text = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: m\nspec:\n  backoffLimit: \"0\"\n  template:\n    spec:\n      containers: []\n";
        let (err, at) = type_error::<Job>(text);
        assert_eq!(at, "\"0\"");
        assert!(err.message.contains("found a string"), "{}", err.message);
    }

    #[test]
    fn secret_values_never_reach_messages() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: 123456789\n";
        let (err, at) = type_error::<Secret>(text);
        assert!(!err.message.contains("123456789"), "{}", err.message);
        assert_eq!(at, "123456789");
    }

    #[test]
    fn env_value_typed_as_yaml_1_1_bool_is_an_error() {
        let text = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: m}\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        env:\n        - name: X\n          value: yes\n";
        assert_eq!(type_error::<Job>(text).1, "yes");
    }

    #[test]
    fn alias_budget_stops_expansion() {
        let mut text = String::from(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nx:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
        );
        for i in 1..9 {
            let p = i - 1;
            text.push_str(&format!("  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        // Parse with the alias limit lifted, so the typing budget is what stops expansion.
        let p = parse(
            &text,
            Limits {
                max_expanded: u64::MAX,
                ..Limits::default()
            },
        );
        let d = &p.docs[0];
        let err = from_node::<serde_json::Value>(d, d.root, 100_000).unwrap_err();
        assert!(err.budget);
    }
}
