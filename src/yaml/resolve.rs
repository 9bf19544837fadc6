//! Scalar typing as Kubernetes reads YAML.
//!
//! kubectl and the API server convert YAML to JSON with sigs.k8s.io/yaml, built on go-yaml v2,
//! which resolves plain scalars with YAML 1.1 rules: `yes`/`on` are booleans and `0755` is an
//! octal integer. Typing the way the real tools do is what makes `value: 8080` or `value: yes`
//! in an env var a schema finding, as it is a rejected apply in a cluster.

use super::{Document, Kind, NodeId, Style};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// The type a scalar node has for Kubernetes; `None` for collections.
pub(crate) fn resolve_scalar(doc: &Document, id: NodeId) -> Option<Resolved> {
    let node = doc.node(doc.resolve(id));
    let Kind::Scalar { value, style } = node.kind else {
        return None;
    };
    if let Some(tag) = node.tag {
        return Some(match tag {
            "!!str" | "!!binary" | "!!timestamp" => Resolved::Str,
            "!!null" => Resolved::Null,
            "!!bool" => resolve_plain(value)
                .filter(|r| matches!(r, Resolved::Bool(_)))
                .unwrap_or(Resolved::Str),
            "!!int" => resolve_plain(value)
                .filter(|r| matches!(r, Resolved::Int(_)))
                .unwrap_or(Resolved::Str),
            "!!float" => match resolve_plain(value) {
                Some(Resolved::Int(i)) => Resolved::Float(i as f64),
                Some(f @ Resolved::Float(_)) => f,
                _ => Resolved::Str,
            },
            _ => resolve_plain_or_str(value, style),
        });
    }
    Some(resolve_plain_or_str(value, style))
}

fn resolve_plain_or_str(value: &str, style: Style) -> Resolved {
    if style != Style::Plain {
        return Resolved::Str;
    }
    resolve_plain(value).unwrap_or(Resolved::Str)
}

/// go-yaml v2's `resolve()` for a plain scalar.
pub(crate) fn resolve_plain(v: &str) -> Option<Resolved> {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Resolved::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Some(Resolved::Bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Some(Resolved::Bool(false));
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Resolved::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Resolved::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Resolved::Float(f64::NAN)),
        _ => {}
    }
    let first = v.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    let plain: String = v.chars().filter(|&c| c != '_').collect();
    if let Some(i) = parse_int(&plain) {
        return Some(Resolved::Int(i));
    }
    if is_float(&plain) {
        return plain.parse::<f64>().ok().map(Resolved::Float);
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, then `0x`, `0b`, `0o` or a leading `0` for octal.
fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, h)
    } else if let Some(b) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, b)
    } else if let Some(o) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, o)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = i128::from_str_radix(digits, radix).ok()?;
    let val = if neg { -mag } else { mag };
    i64::try_from(val).ok()
}

fn is_float(s: &str) -> bool {
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_spellings_resolve_like_kubectl() {
        assert_eq!(resolve_plain("yes"), Some(Resolved::Bool(true)));
        assert_eq!(resolve_plain("Off"), Some(Resolved::Bool(false)));
        assert_eq!(resolve_plain("0755"), Some(Resolved::Int(493)));
        assert_eq!(resolve_plain("0x1F"), Some(Resolved::Int(31)));
        assert_eq!(resolve_plain("1_000"), Some(Resolved::Int(1000)));
        assert_eq!(resolve_plain("-3"), Some(Resolved::Int(-3)));
        assert_eq!(resolve_plain("1.5"), Some(Resolved::Float(1.5)));
        assert_eq!(resolve_plain("1e3"), Some(Resolved::Float(1000.0)));
        assert_eq!(resolve_plain("~"), Some(Resolved::Null));
        assert_eq!(resolve_plain("v1.2.3"), None);
        assert_eq!(resolve_plain("1.2.3"), None);
        assert_eq!(resolve_plain("08"), Some(Resolved::Float(8.0)));
        assert_eq!(resolve_plain("Never"), None);
        assert_eq!(resolve_plain("-"), None);
    }

    #[test]
    fn quoted_and_tagged_scalars() {
        let p = crate::yaml::parse(
            "a: \"0\"\nb: 0\nc: !!str 5\nd: |\n  1\n",
            Default::default(),
        );
        let d = &p.docs[0];
        let r = |k| resolve_scalar(d, d.get(d.root, k).unwrap()).unwrap();
        assert_eq!(r("a"), Resolved::Str);
        assert_eq!(r("b"), Resolved::Int(0));
        assert_eq!(r("c"), Resolved::Str);
        assert_eq!(r("d"), Resolved::Str);
    }
}
