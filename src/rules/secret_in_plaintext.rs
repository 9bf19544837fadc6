//! Credentials belong in Secrets: a password, token or key written as a literal env value, or
//! a URL with a password in an env value or a ConfigMap, is readable by anyone who can read the
//! manifest. The value itself is never shown.

use super::meta::SECRET_IN_PLAINTEXT as META;
use super::{ContextCx, ObjectCx, Rule};
use crate::base::diagnostic::{Diagnostic, Severity};
use crate::base::mask::key_for_display;
use crate::render::Source;
use crate::render::path::Step;
use crate::yaml::Seg;

pub(crate) struct SecretInPlaintext;

const ENV_HELP: &str = "move the value into a Secret (kept encrypted in Git with SOPS or Sealed Secrets) and read it with `valueFrom.secretKeyRef`; to build a URL, put the password in its own secret-backed variable and write `$(DB_PASSWORD)` in the URL";
const CONFIG_HELP: &str = "move the value into a Secret (kept encrypted in Git with SOPS or Sealed Secrets) and reference the Secret instead of the ConfigMap";
const READERS: &str = "anyone who can read the manifest (the Git repository, CI logs, `kubectl get -o yaml`) can read it";

/// Words in a variable name that say it holds a credential.
const CREDENTIAL_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "SECRET",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "PRIVATEKEY",
    "CREDENTIAL",
];

/// Last words that make such a name about the credential rather than the credential itself
/// (`PASSWORD_FILE`, `TOKEN_URL`, `SECRET_NAME`, `TOKEN_TTL`).
const ABOUT_IT: &[&str] = &[
    "FILE",
    "PATH",
    "DIR",
    "NAME",
    "URL",
    "URI",
    "ENDPOINT",
    "HOST",
    "PORT",
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "EXPIRATION",
    "LIFETIME",
    "LENGTH",
    "TYPE",
    "HEADER",
    "ENABLED",
    "DISABLED",
    "ENABLE",
    "REF",
    "MOUNT",
    "LOCATION",
    "ALGORITHM",
    "ISSUER",
    "AUDIENCE",
    "SECONDS",
    "TIMEOUT",
    "DURATION",
    "POLICY",
    "FORMAT",
    "PREFIX",
    "SIZE",
    "COUNT",
    "MODE",
    "VERSION",
    "PROVIDER",
    "BACKEND",
    "REGION",
];

fn placeholder(s: &str) -> bool {
    s.contains("${") || s.contains("$(")
}

/// Whether a variable or key name says it holds a credential.
fn credential_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase().replace(['-', '.'], "_");
    if !CREDENTIAL_WORDS.iter().any(|w| up.contains(w)) || crate::base::mask::names_quantity(name) {
        return false;
    }
    let last = up.rsplit('_').next().unwrap_or("");
    !ABOUT_IT.contains(&last)
}

/// Whether a literal value of a credential-named variable is a credential.
fn credential_value(value: &str) -> bool {
    let v = value.trim();
    !(v.is_empty()
        || placeholder(v)
        || v.starts_with('/')
        || v.starts_with("./")
        || ["true", "false", "yes", "no", "on", "off"]
            .iter()
            .any(|b| v.eq_ignore_ascii_case(b)))
}

/// The first password a URL in the text writes out (not a `${VAR}` or `$(VAR)`), with its user.
fn url_password(s: &str) -> Option<(&str, &str)> {
    if !crate::base::mask::url_has_password(s) {
        return None;
    }
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let tail = &rest[i + 3..];
        let end = tail.find(['/', '?', '#', ' ']).unwrap_or(tail.len());
        let authority = &tail[..end];
        if let Some(at) = authority.rfind('@')
            && let Some((user, password)) = authority[..at].split_once(':')
            && !password.is_empty()
            && !placeholder(password)
        {
            return Some((user, password));
        }
        rest = &tail[end..];
    }
    None
}

/// Words that mark a value as a sample or development default rather than a real credential.
const SAMPLE_WORDS: &[&str] = &[
    "password", "passw0rd", "changeme", "change-me", "change_me", "example", "dummy", "redacted",
    "sample", "default", "secret", "placeholder", "insecure", "xxx",
];

/// Whether a written-out credential looks like a sample or development default: short (under
/// eight characters, like `postgres`'s `sg` or `kong`), a well-known default word, or the user
/// name again (`hermes:hermes@`). Such values are common in examples and local overlays; a
/// finding on them is an info, not an error that fails CI.
fn sample_credential(value: &str, user: Option<&str>) -> bool {
    let v = value.trim().to_ascii_lowercase();
    v.chars().count() < 8
        || SAMPLE_WORDS.iter().any(|w| v.contains(w))
        || user.is_some_and(|u| u.eq_ignore_ascii_case(&v))
}

/// What a literal reveals, for the message, and whether it looks like a sample value; None
/// when it reveals nothing.
fn finding(name: &str, value: &str) -> Option<(&'static str, bool)> {
    if let Some((user, password)) = url_password(value) {
        Some((
            "a literal URL with a password",
            sample_credential(password, Some(user)),
        ))
    } else if credential_name(name) && credential_value(value) {
        Some(("a literal value", sample_credential(value, None)))
    } else {
        None
    }
}

/// The severity and the message's ending for a value that is, or only looks like, a secret.
fn weight(sample: bool) -> (Severity, &'static str) {
    if sample {
        (Severity::Info, SAMPLE_NOTE)
    } else {
        (META.severity, "")
    }
}

const SAMPLE_NOTE: &str = " (the value is short or a well-known default, so it looks like a sample or development credential: fine for a local overlay, a leak anywhere else)";

fn kv_message(what: &str, key: &str, reveals: &str) -> String {
    let holds = if reveals == "a literal value" {
        "a literal credential"
    } else {
        "a URL with a password"
    };
    format!(
        "{what} key `{}` holds {holds}: ConfigMaps are not secret (anyone allowed to `get configmaps` reads them, `kubectl describe` prints them) and {READERS}",
        key_for_display(key)
    )
}

impl SecretInPlaintext {
    fn containers(&self, cx: &ObjectCx<'_>, out: &mut Vec<Diagnostic>) {
        let Some(spec) = crate::render::pod_spec_path(&cx.obj.kind) else {
            return;
        };
        let doc = cx.doc;
        let segs: Vec<Seg> = spec.iter().map(|k| Seg::Key(k)).collect();
        let Some(pod) = doc.at(cx.obj.root, &segs) else {
            return;
        };
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            let Some(l) = doc.get(pod, list) else {
                continue;
            };
            for (ci, &c) in doc.items(l).iter().enumerate() {
                let Some(env) = doc.get(c, "env") else {
                    continue;
                };
                let cname = doc.get_str(c, "name").unwrap_or("?");
                for (ei, &e) in doc.items(env).iter().enumerate() {
                    let (Some(name), Some(vn)) = (doc.get_str(e, "name"), doc.get(e, "value"))
                    else {
                        continue;
                    };
                    let Some(value) = doc.str(vn) else { continue };
                    let Some((reveals, sample)) = finding(name, value) else {
                        continue;
                    };
                    let (severity, note) = weight(sample);
                    let path = format!("{}.{list}[{ci}].env[{ei}].value", spec.join("."));
                    out.push(
                        cx.diag_at(
                            &META,
                            cx.loc_of(vn),
                            path,
                            format!(
                                "container `{}` of {} `{}` sets `{}` to {reveals}: {READERS}{note}",
                                key_for_display(cname),
                                cx.obj.kind,
                                key_for_display(&cx.obj.display_name()),
                                key_for_display(name)
                            ),
                        )
                        .severity(severity)
                        .help(ENV_HELP),
                    );
                }
            }
        }
    }

    fn config_map(&self, cx: &ObjectCx<'_>, out: &mut Vec<Diagnostic>) {
        let doc = cx.doc;
        let Some(data) = doc.get(cx.obj.root, "data") else {
            return;
        };
        for (k, v) in doc.entries(data) {
            let (Some(key), Some(value)) = (doc.str(k), doc.str(v)) else {
                continue;
            };
            if value.contains('\n') && url_password(value).is_none() {
                continue;
            }
            let Some((reveals, sample)) = finding(key, value) else {
                continue;
            };
            let what = format!("ConfigMap `{}`", key_for_display(&cx.obj.display_name()));
            let (severity, note) = weight(sample);
            out.push(
                cx.diag_at(
                    &META,
                    cx.loc_of(v),
                    format!("data.{key}"),
                    kv_message(&what, key, reveals) + note,
                )
                .severity(severity)
                .help(CONFIG_HELP),
            );
        }
    }
}

impl Rule for SecretInPlaintext {
    fn check_object(&self, cx: &ObjectCx<'_>, out: &mut Vec<Diagnostic>) {
        if cx.obj.is("v1", "ConfigMap") {
            self.config_map(cx, out);
        } else {
            self.containers(cx, out);
        }
    }

    /// `configMapGenerator` literals, which live in kustomization files.
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        for r in &cx.context.rendered {
            if r.kind != "ConfigMap" || !matches!(r.source, Source::Generated(..)) {
                continue;
            }
            let name = r.previous_names.first().unwrap_or(&r.name.text);
            for (p, v) in &r.overrides {
                let [Step::Key(f), Step::Key(key)] = p.as_slice() else {
                    continue;
                };
                let Some(loc) = v.origin else { continue };
                if f != "data" || v.writer.is_some() {
                    continue;
                }
                let Some((reveals, sample)) = finding(key, &v.text) else {
                    continue;
                };
                let what = format!("configMapGenerator `{}`", key_for_display(name));
                let (severity, note) = weight(sample);
                out.push(
                    Diagnostic::new(
                        META.name,
                        severity,
                        loc,
                        kv_message(&what, key, reveals) + note,
                    )
                    .help(CONFIG_HELP),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;

    const RULE: &str = "secret-in-plaintext";

    fn deploy(env: &str) -> String {
        let env = format!("          env:\n{env}");
        Deploy::default()
            .name("web")
            .app("web")
            .app_extra(&env)
            .yaml()
    }

    #[test]
    fn names_and_values() {
        for yes in ["DB_PASSWORD", "github-token", "apiKey", "STRIPE_API_KEY", "SECRET_KEY_BASE", "AWS_CREDENTIALS"] {
            assert!(credential_name(yes), "{yes}");
        }
        for no in ["PASSWORD_FILE", "TOKEN_URL", "SECRET_NAME", "DATABASE_URL"] {
            assert!(!credential_name(no), "{no}");
        }
        // Counts of tokens are not tokens (thread-bot's ConfigMap).
        for yes in ["LLM_API_KEY", "SLACK_BOT_TOKEN", "CLIENT_SECRET"] {
            assert!(credential_name(yes), "{yes}");
        }
        for no in ["LLM_MAX_TOKENS", "MIN_PASSWORD_LENGTH", "TOKENS_PER_MINUTE"] {
            assert!(!credential_name(no), "{no}");
        }
        assert!(credential_value("hunter2"));
        for no in ["", "${DB_PASSWORD}", "/run/secrets/db", "false"] {
            assert!(!credential_value(no), "{no}");
        }
        assert_eq!(
            url_password("postgres://admin:changeme@postgres:5432/mydb"),
            Some(("admin", "changeme"))
        );
        assert!(url_password("postgres://admin@postgres:5432/mydb").is_none());
        assert!(url_password("postgres://admin:$(DB_PASSWORD)@postgres/mydb").is_none());
        assert!(url_password("postgres://admin:${DB_PASSWORD}@postgres/mydb").is_none());
        assert!(url_password("https://example.com/a:b@c").is_none());
    }

    #[test]
    fn sample_credentials_are_infos_real_ones_errors() {
        assert!(sample_credential("sg", None));
        assert!(sample_credential("hermes", Some("hermes")));
        assert!(sample_credential("my-Example-pass", None));
        assert!(sample_credential("ChangeMe123", None));
        assert!(sample_credential("notsoshort", Some("NotSoShort")));
        assert!(!sample_credential("q7Rt-9vLm2xW", None));
        assert!(!sample_credential("hermes-prod-2931", Some("hermes")));
        let text = deploy(
            "            - name: POSTGRES_PASSWORD\n              value: kong\n            - name: DATABASE_URL\n              value: \"postgres://app:q7Rt-9vLm2xW@db/app\"\n",
        );
        let d = lint_one(&text, RULE);
        assert_eq!(d.len(), 2, "{d:?}");
        let by_sev: Vec<_> = d.iter().map(|d| (d.severity, d.message.contains("sample"))).collect();
        assert!(by_sev.contains(&(Severity::Info, true)), "{d:?}");
        assert!(by_sev.contains(&(Severity::Error, false)), "{d:?}");
        assert!(d.iter().all(|d| !d.message.contains("q7Rt") && !d.message.contains("kong`")));
    }

    #[test]
    fn password_url_and_token_at_the_value() {
        let text = deploy(
            "            - name: DATABASE_URL\n              value: \"postgres://admin:Zq4-rT8p2Lw@postgres:5432/mydb\"\n            - name: API_TOKEN\n              value: tok-123456\n            - name: LOG_LEVEL\n              value: debug\n",
        );
        let d = lint_one(&text, RULE);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(
            &text[d[0].loc.span.range()],
            "\"postgres://admin:Zq4-rT8p2Lw@postgres:5432/mydb\""
        );
        assert_eq!(
            d[0].message,
            "container `web` of Deployment `web` sets `DATABASE_URL` to a literal URL with a password: anyone who can read the manifest (the Git repository, CI logs, `kubectl get -o yaml`) can read it"
        );
        assert_eq!(
            d[0].path.as_deref(),
            Some("spec.template.spec.containers[0].env[0].value")
        );
        assert_eq!(&text[d[1].loc.span.range()], "tok-123456");
        assert_contains(&d[1].message, "sets `API_TOKEN` to a literal value");
        for x in &d {
            let all = format!(
                "{} {} {:?}",
                x.message,
                x.help.clone().unwrap_or_default(),
                x.related
            );
            assert!(!all.contains("changeme") && !all.contains("tok-123456"));
        }
    }

    #[test]
    fn references_and_placeholders_pass() {
        let text = deploy(
            "            - name: DB_PASSWORD\n              valueFrom:\n                secretKeyRef: {name: db, key: password}\n            - name: DATABASE_URL\n              value: postgres://app:$(DB_PASSWORD)@db/app\n            - name: API_TOKEN\n              value: ${API_TOKEN}\n            - name: PASSWORD_FILE\n              value: /run/secrets/pw\n            - name: REDIS_PASSWORD\n              value: \"\"\n",
        );
        assert!(lint_one(&text, RULE).is_empty());
    }

    #[test]
    fn cronjob_init_containers_and_config_maps() {
        for (text, at, start) in [
            (
                "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: report}\nspec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          initContainers:\n            - name: fetch\n              image: curl:8\n              env:\n                - {name: GITHUB_TOKEN, value: ghp_abcdef}\n          containers:\n            - name: report\n              image: app:v1\n",
                "ghp_abcdef",
                "container `fetch` of CronJob `report` sets `GITHUB_TOKEN`",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config}\ndata:\n  DATABASE_URL: mysql://root:pw@db/app\n  DB_HOST: db\n  SECRET_NAME: app-db\n",
                "mysql://root:pw@db/app",
                "ConfigMap `app-config` key `DATABASE_URL` holds a URL with a password",
            ),
        ] {
            let d = lint_one(text, RULE);
            assert_single(&d, text, at);
            assert_starts_with(&d[0].message, start);
        }
    }

    #[test]
    fn config_map_generators() {
        let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\nconfigMapGenerator:\n- name: vars\n  literals:\n  - IMAGE_TAG=v1\n  - DATABASE_URL=postgres://u:p4ss@db/app\n";
        let files = [
            (
                "k/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n",
            ),
            ("k/kustomization.yaml", k),
        ];
        let d = run(RULE, &files);
        assert_single(&d, k, "DATABASE_URL=postgres://u:p4ss@db/app");
        assert_starts_with(
            &d[0].message,
            "configMapGenerator `vars` key `DATABASE_URL` holds a URL with a password",
        );
        assert!(!d[0].message.contains("p4ss"));
    }
}
