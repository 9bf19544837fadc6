//! What kustomize's ConfigMap and Secret generators produce: the data of `literals`, `envs`
//! and `files` sources, parsed as kustomize parses them, and the content hash kustomize appends
//! to a generated object's name.
//!
//! The hash (kustomize `api/hasher`): the object is encoded as compact JSON with sorted keys
//! (`{"data":…,"kind":"ConfigMap","name":…}`, plus `"type"` for a Secret), hashed with
//! SHA-256, and the first ten hex digits are kept with `0 1 3 a e` spelled `g h k m t` (so the
//! suffix never reads as a number or a word). Two details decide the result and are easy to
//! miss: kustomize looks the name up with one path element `metadata/name`, which never
//! matches, so the name always encodes as `""` (a prefix or suffix does not change the hash);
//! and a ConfigMap without data encodes `"data":""`, not `null`. Go's JSON encoder escapes
//! `<`, `>`, `&`, U+2028 and U+2029, which the encoding here mirrors.

use super::Rendered;
use super::path::Step;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The hash suffix of a generated object as it stands at the end of the build: its `data`
/// (base64-encoded for a Secret, as the Secret carries it) and a Secret's `type`.
pub fn rendered_hash(r: &Rendered) -> String {
    let mut data = BTreeMap::new();
    let mut secret_type = None;
    for (p, v) in &r.overrides {
        match p.as_slice() {
            [Step::Key(f), Step::Key(k)] if f == "data" => {
                // A generator's own values are kept decoded; what a transformer wrote into a
                // Secret's data is already as the Secret carries it.
                let text = if r.kind == "Secret" && v.writer.is_none() {
                    secret_value(&v.text)
                } else {
                    v.text.clone()
                };
                data.insert(k.clone(), text);
            }
            [Step::Key(f)] if f == "type" => secret_type = Some(v.text.as_str()),
            _ => {}
        }
    }
    // A generated Secret always carries `data` (`{}` when empty); a ConfigMap only with keys.
    let has_data = !data.is_empty() || r.kind == "Secret";
    name_hash(&r.kind, secret_type, has_data.then_some(&data))
}

/// The ten-character suffix kustomize appends to a generated object's name. `data` holds the
/// values as the object carries them (a Secret's already base64-encoded); `None` when the
/// object has no `data` field at all.
pub fn name_hash(
    kind: &str,
    secret_type: Option<&str>,
    data: Option<&BTreeMap<String, String>>,
) -> String {
    let mut json = String::from("{\"data\":");
    match data {
        None => json.push_str("\"\""),
        Some(data) => {
            json.push('{');
            for (i, (k, v)) in data.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                go_json_string(k, &mut json);
                json.push(':');
                go_json_string(v, &mut json);
            }
            json.push('}');
        }
    }
    json.push_str(",\"kind\":");
    go_json_string(kind, &mut json);
    json.push_str(",\"name\":\"\"");
    if kind == "Secret" {
        json.push_str(",\"type\":");
        go_json_string(secret_type.unwrap_or(""), &mut json);
    }
    json.push('}');
    let digest = Sha256::digest(json.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// A string as Go's `encoding/json` writes it (HTML-safe escaping).
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A generated Secret's value as kustomize stores it (kyaml `encodeBase64`): base64, broken
/// into lines of 70 characters, each ending in a newline once the encoding reaches 70.
pub fn secret_value(plain: &str) -> String {
    const LINE: usize = 70;
    let encoded = base64(plain.as_bytes());
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Standard base64 with padding, as a Secret's `data` holds its values.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `key=value` of a `literals` entry: split at the first `=`, and one pair of matching quotes
/// around the value removed. The key is kept as written (kustomize does not trim it). The
/// error leaves the entry out (kustomize prints it; it may be a secret).
pub fn parse_literal(source: &str) -> Result<(String, String), String> {
    match source.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), remove_quotes(v).to_string())),
        _ => Err("invalid literal source, expected key=value".to_string()),
    }
}

fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// A `files` entry: `path` (the key is the file's base name) or `key=path`.
pub fn parse_file_source(source: &str) -> Result<(String, String), String> {
    match source.matches('=').count() {
        0 => {
            let base = source.rsplit('/').find(|s| !s.is_empty()).unwrap_or(".");
            Ok((base.to_string(), source.to_string()))
        }
        1 if source.starts_with('=') => Err(format!(
            "missing key name for file path \"{}\" in source \"{source}\"",
            &source[1..]
        )),
        1 if source.ends_with('=') => Err(format!(
            "missing file path for key name \"{}\" in source \"{source}\"",
            &source[..source.len() - 1]
        )),
        1 => {
            let (k, p) = source.split_once('=').unwrap_or_default();
            Ok((k.to_string(), p.to_string()))
        }
        _ => Err(format!(
            "source \"{source}\" key name or file path contains '='"
        )),
    }
}

/// The pairs of an env file as kustomize reads one: lines split as Go's line scanner splits
/// them (a trailing `\r` dropped), a UTF-8 byte order mark dropped from the first line,
/// leading white space trimmed, blank lines and `#` comments skipped, each line split at its
/// first `=` (a line without one has the empty value), the value kept verbatim (no quote
/// removal, no trailing trim). A key that is not an environment variable name fails the build.
pub fn parse_env(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if i == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if !is_env_var_name(key) {
            return Err(format!(
                "\"{key}\" is not a valid environment variable name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"
            ));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

fn is_env_var_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '-' | '.' | '_'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// Whether a data key is one the API server (and so kustomize) accepts.
pub fn is_config_map_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && !key.starts_with("..")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Suffixes `kubectl kustomize` (kustomize v5.5.0) printed for these generators.
    #[test]
    fn hashes_match_kustomize() {
        assert_eq!(
            name_hash("ConfigMap", None, Some(&data(&[("a", "1")]))),
            "h29d89cmmt"
        );
        assert_eq!(name_hash("ConfigMap", None, None), "6ct58987ht");
        assert_eq!(
            name_hash(
                "ConfigMap",
                None,
                Some(&data(&[("a", "1"), ("b", "x y"), ("c", "<&>")]))
            ),
            "k5h65c2dm2"
        );
        assert_eq!(
            name_hash(
                "Secret",
                Some("Opaque"),
                Some(&data(&[("p", &base64(b"secret"))]))
            ),
            "4k4899t6bh"
        );
        assert_eq!(
            name_hash(
                "Secret",
                Some("kubernetes.io/tls"),
                Some(&data(&[("tls.crt", "eA=="), ("tls.key", "eQ==")]))
            ),
            "f4c6k54dt5"
        );
        assert_eq!(
            name_hash("Secret", Some("Opaque"), Some(&BTreeMap::new())),
            "46f8b28mk5"
        );
    }

    #[test]
    fn go_escaping() {
        let mut s = String::new();
        go_json_string("a\"b\\c\n\u{1}<\u{2028}é", &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001\\u003c\\u2028é\"");
    }

    #[test]
    fn long_secret_values_break_into_lines() {
        assert_eq!(secret_value("x"), "eA==");
        let v = secret_value(&"a".repeat(60));
        let lines: Vec<&str> = v.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 70);
        assert!(v.ends_with('\n'));
        // 51 bytes encode to 68 characters: one line, no newline; 52 bytes to 72.
        assert!(!secret_value(&"a".repeat(51)).contains('\n'));
        assert!(secret_value(&"a".repeat(52)).contains('\n'));
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"x"), "eA==");
        assert_eq!(base64(b"xy"), "eHk=");
        assert_eq!(base64(b"secret"), "c2VjcmV0");
    }

    #[test]
    fn sources_parse_as_kustomize_parses_them() {
        type Parse = fn(&str) -> Result<(String, String), String>;
        /// A parser, a source, and the key and value it yields (None: rejected).
        type Case = (Parse, &'static str, Option<(&'static str, &'static str)>);
        let cases: [Case; 8] = [
            (parse_literal, "k=\"a=b\"", Some(("k", "a=b"))),
            (parse_literal, " k = v", Some((" k ", " v"))),
            (parse_literal, "=v", None),
            (parse_literal, "novalue", None),
            (
                parse_file_source,
                "dir/app.properties",
                Some(("app.properties", "dir/app.properties")),
            ),
            (parse_file_source, "k=dir/f", Some(("k", "dir/f"))),
            (parse_file_source, "=f", None),
            (parse_file_source, "a=b=c", None),
        ];
        for (parse, source, want) in cases {
            let got = parse(source);
            let got = got.as_ref().map(|(k, v)| (k.as_str(), v.as_str())).ok();
            assert_eq!(got, want, "{source:?}");
        }
        let env = parse_env("\u{feff}A=1\r\n  # c\n\nB=\"q\" \nC\n").unwrap();
        assert_eq!(
            env,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"q\" ".into()),
                ("C".into(), "".into())
            ]
        );
        assert!(parse_env("1A=x").is_err());
    }
}
