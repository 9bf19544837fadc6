//! Which Jobs are migration Jobs, and which Jobs are deploy-tool hooks.
//!
//! The heuristic, in order:
//! 1. the annotation `kube-migrate-lint.io/migration: "true"` / `"false"` decides outright;
//! 2. the name or `generateName` has a word that starts with `migrat`, alone or after `db`,
//!    `schema`, `data`, `sql` or `auto` (`myapp-migration-v1`, `dbmigrate`) — not `immigration`;
//! 3. a container's command and args run a known migration tool (flyway, liquibase, alembic,
//!    rails, …);
//! 4. a container image's repository (not its tag) has such a word (`myapp-migration:v1`).

use crate::model::Object;
use crate::yaml::{Document, Seg};

pub const MIGRATION_ANNOTATION: &str = "kube-migrate-lint.io/migration";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Annotation,
    Name,
    Command(String),
    Image,
}

/// Whether a word of `text` (split on anything not alphanumeric) names a migration.
pub fn mentions_migration(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .any(|w| {
            let w = ["db", "schema", "data", "sql", "auto"]
                .iter()
                .find_map(|p| w.strip_prefix(p))
                .unwrap_or(&w);
            w.starts_with("migrat")
        })
}

/// Known migration commands: each a sequence of words that must appear in order, adjacent,
/// where the first word is compared by its basename.
const TOOLS: &[&[&str]] = &[
    &["prisma", "migrate"],
    &["prisma", "db", "push"],
    &["manage.py", "migrate"],
    &["alembic", "upgrade"],
    &["flask", "db", "upgrade"],
    &["rails", "db:migrate"],
    &["rake", "db:migrate"],
    &["bin/rails", "db:migrate"],
    &["dbmate", "up"],
    &["dbmate", "migrate"],
    &["goose", "up"],
    &["atlas", "migrate", "apply"],
    &["flyway", "migrate"],
    &["liquibase", "update"],
    &["knex", "migrate:latest"],
    &["sequelize", "db:migrate"],
    &["sequelize-cli", "db:migrate"],
    &["artisan", "migrate"],
    &["ef", "database", "update"],
    &["phinx", "migrate"],
    &["typeorm", "migration:run"],
    &["diesel", "migration", "run"],
    &["sqlx", "migrate", "run"],
    &["mix", "ecto.migrate"],
    &["migrate", "up"],
];

/// The migration tool a command line runs, if any.
pub fn migration_command(words: &[&str]) -> Option<String> {
    // Split shell one-liners (`sh -c "a && b"`) into words too.
    let mut tokens: Vec<&str> = Vec::new();
    for w in words {
        tokens.extend(
            w.split(|c: char| {
                c.is_whitespace() || c == ';' || c == '&' || c == '|' || c == '(' || c == ')'
            })
            .filter(|t| !t.is_empty())
            .map(|t| t.trim_matches(|c| c == '"' || c == '\'')),
        );
    }
    let base = |t: &str| t.rsplit('/').next().unwrap_or(t).to_string();
    for i in 0..tokens.len() {
        for tool in TOOLS {
            if i + tool.len() > tokens.len() {
                continue;
            }
            let first_ok = base(tokens[i]) == tool[0] || tokens[i] == tool[0];
            if first_ok && tool[1..].iter().zip(&tokens[i + 1..]).all(|(a, b)| a == b) {
                return Some(tool.join(" "));
            }
        }
        // `npm run migrate`, `yarn db:migrate:deploy`, `pnpm run migrate:up`, `make migrate`
        let t = base(tokens[i]);
        if matches!(
            t.as_str(),
            "npm" | "yarn" | "pnpm" | "bun" | "make" | "just" | "task"
        ) {
            let mut j = i + 1;
            if tokens
                .get(j)
                .is_some_and(|w| *w == "run" || *w == "run-script")
            {
                j += 1;
            }
            if let Some(script) = tokens.get(j)
                && mentions_migration(script)
            {
                return Some(format!("{t} {}", tokens[i + 1..=j].join(" ")));
            }
        }
        // golang-migrate: `migrate -path ... up` / `migrate -source ... -database ... up`
        if t == "migrate" && tokens[i + 1..].iter().take(8).any(|w| *w == "up") {
            return Some("migrate up".into());
        }
    }
    None
}

/// The repository part of an image reference, without tag or digest.
pub fn image_repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(c) if !no_digest[c..].contains('/') => &no_digest[..c],
        _ => no_digest,
    }
}

/// Decide whether `obj` (a Job or CronJob) is a migration Job, and why.
pub fn classify(obj: &Object, doc: &Document) -> Option<Reason> {
    if let Some(v) = annotation(obj, doc, MIGRATION_ANNOTATION) {
        return match v.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(Reason::Annotation),
            _ => None,
        };
    }
    if obj.name.as_deref().is_some_and(mentions_migration)
        || obj.generate_name.as_deref().is_some_and(mentions_migration)
    {
        return Some(Reason::Name);
    }
    let spec = obj.pod_spec()?;
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter());
    let mut image_hit = false;
    for c in containers {
        let words: Vec<&str> = c
            .command
            .iter()
            .flatten()
            .chain(c.args.iter().flatten())
            .map(String::as_str)
            .collect();
        if let Some(tool) = migration_command(&words) {
            return Some(Reason::Command(tool));
        }
        if c.image
            .as_deref()
            .map(image_repository)
            .is_some_and(mentions_migration)
        {
            image_hit = true;
        }
    }
    image_hit.then_some(Reason::Image)
}

/// An annotation value on the object's metadata.
pub fn annotation<'d>(obj: &Object, doc: &'d Document, key: &str) -> Option<&'d str> {
    let ann = doc.at(obj.root, &[Seg::Key("metadata"), Seg::Key("annotations")])?;
    doc.get_str(ann, key)
}

/// A label or annotation value on the object's metadata.
pub fn label_or_annotation<'d>(
    obj: &Object,
    doc: &'d Document,
    key: &str,
) -> Option<(&'d str, crate::yaml::NodeId)> {
    for field in ["annotations", "labels"] {
        if let Some(m) = doc.at(obj.root, &[Seg::Key("metadata"), Seg::Key(field)])
            && let Some(v) = doc.get(m, key)
        {
            return Some((doc.string(v).unwrap_or(""), v));
        }
    }
    None
}

/// Which deploy tool runs this Job as a hook, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Helm,
    ArgoCd,
}

pub fn hook(obj: &Object, doc: &Document) -> Option<Hook> {
    if annotation(obj, doc, "argocd.argoproj.io/hook").is_some() {
        return Some(Hook::ArgoCd);
    }
    if annotation(obj, doc, "helm.sh/hook").is_some() {
        return Some(Hook::Helm);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(mentions_migration("myapp-migration-${IMAGE_TAG}"));
        assert!(mentions_migration("db-migrate"));
        assert!(mentions_migration("dbmigrate"));
        assert!(mentions_migration("run-migrations"));
        assert!(!mentions_migration("immigration-service"));
        assert!(!mentions_migration("api"));
    }

    #[test]
    fn commands() {
        let c = |w: &[&str]| migration_command(w);
        assert_eq!(
            c(&["npx", "prisma", "migrate", "deploy"]).as_deref(),
            Some("prisma migrate")
        );
        assert_eq!(
            c(&["python", "manage.py", "migrate"]).as_deref(),
            Some("manage.py migrate")
        );
        assert_eq!(
            c(&["npm", "run", "db:migrate:deploy"]).as_deref(),
            Some("npm run db:migrate:deploy")
        );
        assert_eq!(
            c(&["/bin/sh", "-c", "alembic upgrade head && echo ok"]).as_deref(),
            Some("alembic upgrade")
        );
        assert_eq!(
            c(&["migrate", "-path", "/m", "-database", "$(DB)", "up"]).as_deref(),
            Some("migrate up")
        );
        assert_eq!(
            c(&["bundle", "exec", "rake", "db:migrate"]).as_deref(),
            Some("rake db:migrate")
        );
        assert_eq!(
            c(&["dotnet", "ef", "database", "update"]).as_deref(),
            Some("ef database update")
        );
        assert_eq!(c(&["nginx", "-g", "daemon off;"]), None);
        assert_eq!(c(&["npm", "start"]), None);
    }

    #[test]
    fn image_repositories() {
        assert_eq!(
            image_repository("registry:5000/app-migration:v1"),
            "registry:5000/app-migration"
        );
        assert_eq!(image_repository("app@sha256:abc"), "app");
        assert_eq!(image_repository("registry:5000/app"), "registry:5000/app");
        assert!(!mentions_migration(image_repository("app:migration")));
    }
}
