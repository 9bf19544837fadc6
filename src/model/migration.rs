//! Which Jobs are migration Jobs, and which Jobs are deploy-tool hooks.
//!
//! The heuristic, in order:
//! 1. the annotation `kube-migrate-lint.io/migration: "true"` / `"false"` decides outright;
//! 2. the name or `generateName` has a word that starts with `migrat`, alone or after `db`,
//!    `schema`, `data`, `sql` or `auto` (`myapp-migration-v1`, `dbmigrate`) — not `immigration`;
//! 3. a container's command and args run a known migration tool (flyway, liquibase, alembic,
//!    rails, …);
//!    A container without `command` runs its image's entrypoint, named here by the image's
//!    last path component (`liquibase/liquibase` with `args: [--changelog-file=…, update]`,
//!    `flyway/flyway` with `args: [migrate]`, `migrate/migrate` with `args: [-path, …, up]`);
//!    the words of a tool may have options between them;
//! 4. a container image's repository (not its tag) has such a word (`myapp-migration:v1`);
//! 5. the file the Job is written in is named after a migration (`db-migrate.yaml`).

use crate::model::Object;
use crate::yaml::{Document, Seg};

pub(crate) const MIGRATION_ANNOTATION: &str = "kube-migrate-lint.io/migration";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    Annotation,
    Name,
    Command(String),
    Image,
    File,
}

/// Whether a word of `text` (split on anything not alphanumeric) names a migration.
pub(crate) fn mentions_migration(text: &str) -> bool {
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
pub(crate) fn migration_command(words: &[&str]) -> Option<String> {
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
        if let Some(tool) = TOOLS.iter().find(|t| runs_at(&tokens, i, t)) {
            return Some(tool.join(" "));
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

/// Commands that report a migration tool's state without changing it: each a sequence of
/// words in order, where the first is compared by its basename and flags between the words are
/// skipped (`flyway -url=… info`). An init container that retries one until it succeeds holds
/// the app back until the migrations are applied.
const STATUS_TOOLS: &[&[&str]] = &[
    &["kong", "migrations", "list"],
    &["alembic", "current"],
    &["alembic", "check"],
    &["flyway", "info"],
    &["flyway", "validate"],
    &["liquibase", "status"],
    &["rails", "db:migrate:status"],
    &["rake", "db:migrate:status"],
    &["manage.py", "migrate", "--check"],
    &["manage.py", "showmigrations"],
    &["prisma", "migrate", "status"],
    &["dbmate", "status"],
    &["goose", "status"],
    &["goose", "version"],
    &["atlas", "migrate", "status"],
    &["knex", "migrate:status"],
    &["sequelize", "db:migrate:status"],
    &["sequelize-cli", "db:migrate:status"],
    &["artisan", "migrate:status"],
    &["diesel", "migration", "list"],
    &["sqlx", "migrate", "info"],
    &["migrate", "version"],
];

/// Tables in which migration tools record what they applied: a database query that names one
/// checks the migrations' state.
const MIGRATION_TABLES: &[&str] = &[
    "schema_migrations",
    "flyway_schema_history",
    "alembic_version",
    "databasechangelog",
    "django_migrations",
    "knex_migrations",
    "goose_db_version",
    "__efmigrationshistory",
    "sequelizemeta",
    "migrations",
];

/// Database clients whose query can check a migration table.
const SQL_CLIENTS: &[&str] = &["psql", "mysql", "mariadb", "sqlite3", "sqlcmd", "cockroach"];

/// The basename of a command word (`/usr/bin/kong` → `kong`).
fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Whether `tool` occurs in `words` from index `i`: its first word by basename, each next one
/// within a few words of the last (options and their values may sit between them:
/// `migrate -path /m -database "$URL" version`).
fn runs_at(words: &[&str], i: usize, tool: &[&str]) -> bool {
    const GAP: usize = 6;
    if basename(words[i]) != tool[0] {
        return false;
    }
    let mut at = i;
    tool[1..].iter().all(|want| {
        let found = words
            .iter()
            .enumerate()
            .skip(at + 1)
            .take(GAP)
            .find(|(_, w)| *w == want);
        found.map(|(j, _)| at = j).is_some()
    })
}

/// The migration status check a simple command (one command's words, shell syntax removed)
/// runs, if any: a tool's status command, or a SQL client querying a migration table.
pub(crate) fn migration_status_command(words: &[&str]) -> Option<String> {
    for i in 0..words.len() {
        if let Some(tool) = STATUS_TOOLS.iter().find(|t| runs_at(words, i, t)) {
            return Some(tool.join(" "));
        }
        let client = basename(words[i]);
        if SQL_CLIENTS.contains(&client) {
            // A query (`-c 'select … from schema_migrations'`), not a file path that
            // happens to name a migrations directory.
            let rest = words[i + 1..].join(" ").to_ascii_lowercase();
            let mut t: Vec<&str> = rest
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|t| !t.is_empty())
                .collect();
            t.push("");
            // `from schema_migrations`, `from public.schema_migrations`
            let queries_table = t.contains(&"select")
                && t.windows(3).any(|w| {
                    w[0] == "from"
                        && (MIGRATION_TABLES.contains(&w[1]) || MIGRATION_TABLES.contains(&w[2]))
                });
            if queries_table {
                return Some(format!("{client} query on the migration table"));
            }
        }
    }
    None
}

/// The repository part of an image reference, without tag or digest.
pub(crate) fn image_repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(c) if !no_digest[c..].contains('/') => &no_digest[..c],
        _ => no_digest,
    }
}

/// The words a container runs: `command` and `args`, or without `command` the image's
/// entrypoint (named by the repository's last path component) and `args`.
fn container_words(c: &crate::model::ContainerView) -> Vec<&str> {
    let entrypoint = match (&c.command, &c.image) {
        (None, Some(image)) => image_repository(image).rsplit('/').next(),
        _ => None,
    };
    entrypoint
        .into_iter()
        .chain(c.command.iter().flatten().map(String::as_str))
        .chain(c.args.iter().flatten().map(String::as_str))
        .collect()
}

/// Decide whether `obj` (a Job or CronJob), written in file `file` (its path as shown), is a
/// migration Job, and why. Its annotations are read in its manifest `doc`, its containers in
/// `spec_doc` (the manifest, or a patched rendering of it).
pub(crate) fn classify(
    obj: &Object,
    doc: &Document,
    spec_doc: &Document,
    file: &str,
) -> Option<Reason> {
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
    let spec = obj.pod_spec(spec_doc)?;
    let mut image_hit = false;
    for c in spec.all() {
        if let Some(tool) = migration_command(&container_words(c)) {
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
    if image_hit {
        return Some(Reason::Image);
    }
    let stem = file.rsplit('/').next().unwrap_or(file);
    let stem = stem.split('.').next().unwrap_or(stem);
    (obj.kind == "Job" && mentions_migration(stem)).then_some(Reason::File)
}

/// An annotation value on the object's metadata.
pub(crate) fn annotation<'d>(obj: &Object, doc: &'d Document, key: &str) -> Option<&'d str> {
    let ann = doc.at(obj.root, &[Seg::Key("metadata"), Seg::Key("annotations")])?;
    doc.get_str(ann, key)
}

/// A label or annotation value on the object's metadata.
pub(crate) fn label_or_annotation<'d>(
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
pub(crate) enum Hook {
    Helm,
    ArgoCd,
}

pub(crate) fn hook(obj: &Object, doc: &Document) -> Option<Hook> {
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
        for yes in [
            "myapp-migration-${IMAGE_TAG}",
            "db-migrate",
            "dbmigrate",
            "run-migrations",
        ] {
            assert!(mentions_migration(yes), "{yes}");
        }
        for no in ["immigration-service", "api"] {
            assert!(!mentions_migration(no), "{no}");
        }
    }

    /// Each command's words, and what `f` makes of them.
    fn check<T: AsRef<str>>(f: impl Fn(&[&str]) -> Option<T>, cases: &[(&[&str], Option<&str>)]) {
        for (words, want) in cases {
            assert_eq!(f(words).as_ref().map(|t| t.as_ref()), *want, "{words:?}");
        }
    }

    #[test]
    fn commands() {
        check(
            migration_command,
            &[
                (
                    &["npx", "prisma", "migrate", "deploy"],
                    Some("prisma migrate"),
                ),
                (
                    &["python", "manage.py", "migrate"],
                    Some("manage.py migrate"),
                ),
                (
                    &["npm", "run", "db:migrate:deploy"],
                    Some("npm run db:migrate:deploy"),
                ),
                (
                    &["/bin/sh", "-c", "alembic upgrade head && echo ok"],
                    Some("alembic upgrade"),
                ),
                (
                    &["migrate", "-path", "/m", "-database", "$(DB)", "up"],
                    Some("migrate up"),
                ),
                (
                    &["bundle", "exec", "rake", "db:migrate"],
                    Some("rake db:migrate"),
                ),
                (
                    &["dotnet", "ef", "database", "update"],
                    Some("ef database update"),
                ),
                // An image's entrypoint with options between the tool's words.
                (
                    &["liquibase", "--changelog-file=changelog.xml", "update"],
                    Some("liquibase update"),
                ),
                (
                    &[
                        "flyway",
                        "-url=jdbc:postgresql://db/app",
                        "-user=app",
                        "migrate",
                    ],
                    Some("flyway migrate"),
                ),
                (&["flyway", "info"], None),
                (&["nginx", "-g", "daemon off;"], None),
                (&["npm", "start"], None),
            ],
        );
    }

    #[test]
    fn status_commands() {
        check(
            migration_status_command,
            &[
                (
                    &["kong", "migrations", "list"],
                    Some("kong migrations list"),
                ),
                (
                    &["/usr/local/bin/flyway", "-url=jdbc:x", "info"],
                    Some("flyway info"),
                ),
                (
                    &["migrate", "-path", "/m", "-database", "$DB_URL", "version"],
                    Some("migrate version"),
                ),
                (
                    &["bundle", "exec", "rails", "db:migrate:status"],
                    Some("rails db:migrate:status"),
                ),
                // Running migrations, readiness probes and files are not status checks.
                (&["kong", "migrations", "up"], None),
                (&["alembic", "upgrade", "head"], None),
                (&["pg_isready", "-h", "db"], None),
                (&["psql", "-f", "/migrations/001.sql"], None),
                (&["psql", "-c", "select 1"], None),
            ],
        );
        let query = "SELECT 1 FROM public.schema_migrations WHERE version = '42'";
        assert!(migration_status_command(&["psql", "-h", "db", "-c", query]).is_some());
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
