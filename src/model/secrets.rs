//! Where a file holds secret values (Secret data, credential env values, URL passwords,
//! secretGenerator literals), found per file while it is modelled: the human report quotes
//! source lines and CI logs are public, so these ranges are masked wherever source is shown.

use crate::base::mask::{
    names_credential, textual_sensitive_spans, url_has_password, url_password_ranges,
};

/// The secret values of one file (file id `file`), in no particular order.
pub(crate) fn sensitive_spans_in(
    file: crate::base::diagnostic::FileId,
    f: &crate::model::FileData,
) -> Vec<crate::base::diagnostic::Loc> {
    use crate::base::diagnostic::Loc;
    use crate::base::source::Span;
    use crate::yaml::Kind;
    let mut out = Vec::new();
    let text = &f.source.text;
    // What did not parse has no nodes to go by, but is still quoted in snippets (a
    // duplicate `password:` key is exactly where a secret sits): mask by its text.
    if f.error.is_some() || f.docs.is_empty() {
        out.extend(
            textual_sensitive_spans(text)
                .into_iter()
                .map(|span| Loc { file, span }),
        );
    }
    for doc in &f.docs {
        let secret_generator = f.role == crate::model::FileRole::Kustomization;
        for node in doc.iter() {
            let Kind::Map(entries) = node.kind else {
                continue;
            };
            let key_of = |k| doc.str(k).unwrap_or("");
            let env_name = entries
                .iter()
                .find(|&&(k, _)| key_of(k) == "name")
                .and_then(|&(_, v)| doc.str(v));
            for &(k, v) in entries {
                let key = key_of(k);
                let vn = doc.node(v);
                match vn.kind {
                    Kind::Scalar { value, .. } => {
                        let credential = names_credential(key)
                            || (key == "value" && env_name.is_some_and(names_credential));
                        if credential && !value.is_empty() && !value.starts_with("${") {
                            out.push(Loc {
                                file,
                                span: vn.span,
                            });
                        }
                    }
                    // Secret data and stringData, and generator literals `KEY=value`.
                    Kind::Map(inner) if key == "data" || key == "stringData" => {
                        let is_secret = entries
                            .iter()
                            .any(|&(k2, v2)| key_of(k2) == "kind" && doc.str(v2) == Some("Secret"));
                        for &(ik, iv) in inner {
                            if is_secret || names_credential(key_of(ik)) {
                                out.push(Loc {
                                    file,
                                    span: doc.span(iv),
                                });
                            }
                        }
                    }
                    Kind::Seq(items) if key == "literals" && secret_generator => {
                        let in_secret_gen = true;
                        for &it in items {
                            let Some(lit) = doc.str(it) else { continue };
                            let Some((name, _)) = lit.split_once('=') else {
                                continue;
                            };
                            let span = doc.span(it);
                            let src = &text[span.range()];
                            if let Some(eq) = src.find('=')
                                && (in_secret_gen && is_in_secret_generator(doc, it)
                                    || names_credential(name))
                            {
                                out.push(Loc {
                                    file,
                                    span: Span::new(
                                        span.start as usize + eq + 1,
                                        span.end as usize,
                                    ),
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        // Passwords inside URLs, anywhere.
        for node in doc.iter() {
            if let Kind::Scalar { value, .. } = node.kind
                && url_has_password(value)
            {
                let base = node.span.start as usize;
                for r in url_password_ranges(&text[node.span.range()]) {
                    out.push(Loc {
                        file,
                        span: Span::new(base + r.start, base + r.end),
                    });
                }
            }
        }
    }
    out
}

/// Whether a `literals:` item belongs to a `secretGenerator` entry.
fn is_in_secret_generator(doc: &crate::yaml::Document, item: crate::yaml::NodeId) -> bool {
    doc.get(doc.root, "secretGenerator").is_some_and(|gens| {
        doc.items(gens).iter().any(|&g| {
            doc.get(g, "literals")
                .is_some_and(|l| doc.items(l).contains(&item))
        })
    })
}
