//! The CI integrations as users copy them: the GitLab CI template (merged the way GitLab merges
//! an include, `extends:` and variables, then its script run under bash with fake `cargo` and
//! linter binaries), and the versions every copy pins.

use kube_migrate_lint::yaml;
use serde_json::{Map, Value, json};
use std::path::Path;
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");
const TEMPLATE: &str = "ci/gitlab-ci.yml";
const JOB: &str = "kube-migrate-lint";

/// A YAML file (one document) as JSON, read with the project's own parser.
fn yaml_value(text: &str) -> Value {
    let p = yaml::parse(text, yaml::Limits::default());
    assert!(p.error.is_none(), "{:?}", p.error);
    let d = &p.docs[0];
    yaml::from_node(d, d.root, 1_000_000).unwrap()
}

/// GitLab's merge of hashes, for `include` (the including file wins) and `extends:` (the
/// extending job wins): hashes are merged key by key, anything else is replaced.
fn deep_merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(old) => deep_merge(old, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, over) => over.clone(),
    }
}

/// A job with its `extends:` applied (recursively, as GitLab does up to a depth of 11).
fn resolve_job(config: &Value, name: &str, depth: usize) -> Value {
    assert!(depth < 11, "extends is nested too deeply");
    let job = &config[name];
    assert!(job.is_object(), "no job `{name}`");
    let parents: Vec<&str> = match &job["extends"] {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().map(|p| p.as_str().unwrap()).collect(),
        other => panic!("extends: {other}"),
    };
    let mut merged = Value::Object(Map::new());
    for p in parents {
        merged = deep_merge(&merged, &resolve_job(config, p, depth + 1));
    }
    let mut out = deep_merge(&merged, job);
    out.as_object_mut().unwrap().remove("extends");
    out
}

/// The job as GitLab would run it for a project whose `.gitlab-ci.yml` is `user` (which includes
/// the template), with `project_vars` set in the project's CI/CD settings: its stage, its script
/// lines, and the variables its script sees. Variable precedence, as GitLab documents it
/// (highest first): project (settings) variables, job-level YAML variables, global YAML
/// variables.
struct Job {
    stage: String,
    script: Vec<String>,
    variables: Map<String, Value>,
    config: Value,
}

fn gitlab_job(user: &str, project_vars: &[(&str, &str)]) -> Job {
    let template = yaml_value(&std::fs::read_to_string(TEMPLATE).unwrap());
    let mut user = yaml_value(user);
    assert!(
        user["include"].is_array(),
        "the user's file includes the template"
    );
    user.as_object_mut().unwrap().remove("include");
    let config = deep_merge(&template, &user);
    let job = resolve_job(&config, JOB, 0);
    let mut variables = Map::new();
    for scope in [&config["variables"], &job["variables"]] {
        if let Value::Object(m) = scope {
            variables.extend(m.clone());
        }
    }
    for (k, v) in project_vars {
        variables.insert(k.to_string(), json!(v));
    }
    let script = job["script"]
        .as_array()
        .expect("the job has a script")
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    Job {
        // A job without a stage runs in `test`.
        stage: job["stage"].as_str().unwrap_or("test").to_string(),
        script,
        variables,
        config: job,
    }
}

/// What the fakes recorded: `cargo`'s arguments (None: not run), the linter's, and those of
/// `graph` (None: not run).
struct Ran {
    cargo: Option<Vec<String>>,
    lint: Vec<String>,
    graph: Option<Vec<String>>,
}

/// Run the job's script as a GitLab runner does (one bash script, `set -eo pipefail`, variables
/// in the environment, in the project directory) with a fake `cargo` on PATH: `cargo install
/// --root DIR` writes a fake linter into DIR/bin, and each fake records its arguments.
fn run_script(job: &Job, project: &Path) -> Ran {
    run_script_with(job, project, &[])
}

/// [`run_script`] with more predefined CI variables (`CI_MERGE_REQUEST_DIFF_BASE_SHA`).
fn run_script_with(job: &Job, project: &Path, ci_vars: &[(&str, &str)]) -> Ran {
    let fakes = tempfile::tempdir().unwrap();
    let log = fakes.path().join("log");
    std::fs::create_dir_all(fakes.path().join("bin")).unwrap();
    let cargo = fakes.path().join("bin/cargo");
    std::fs::write(
        &cargo,
        r#"#!/bin/bash
set -eu
printf '%s\n' "$@" > "$FAKE_LOG/cargo"
root="${CARGO_HOME:-$HOME/.cargo}"
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then root=$2; fi
  shift
done
mkdir -p "$root/bin"
cat > "$root/bin/kube-migrate-lint" <<'EOF'
#!/bin/bash
if [ "$1" = graph ]; then
  printf '%s\n' "$@" > "$FAKE_LOG/graph"
  printf 'flowchart LR\n  subgraph b0["build k8s"]\n  end\n  n0 -.->|"x"| n1\n'
  exit 0
fi
printf '%s\n' "$@" > "$FAKE_LOG/lint"
EOF
chmod +x "$root/bin/kube-migrate-lint"
"#,
    )
    .unwrap();
    std::fs::create_dir_all(&log).unwrap();
    make_executable(&cargo);
    let mut c = Command::new("bash");
    c.args(["-eo", "pipefail", "-c", &job.script.join("\n")])
        .current_dir(project)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                fakes.path().join("bin").display()
            ),
        )
        .env("HOME", project)
        .env("FAKE_LOG", &log)
        .env("CI", "true")
        .env("CI_PROJECT_DIR", project)
        .envs(ci_vars.iter().copied());
    // GitLab expands variable references in variable values.
    let known = |name: &str| match name {
        "CI_PROJECT_DIR" => Some(project.display().to_string()),
        _ => job
            .variables
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string),
    };
    let reference = regex::Regex::new(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?").unwrap();
    for (k, v) in &job.variables {
        let v = v.as_str().expect("variables are strings");
        let v = reference.replace_all(v, |c: &regex::Captures| known(&c[1]).unwrap_or_default());
        c.env(k, v.as_ref());
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "the script failed:\n{}\n{}{}",
        job.script.join("\n"),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let read = |name: &str| {
        std::fs::read_to_string(log.join(name))
            .ok()
            .map(|s| s.lines().map(str::to_string).collect::<Vec<_>>())
    };
    Ran {
        cargo: read("cargo"),
        lint: read("lint").expect("the linter ran"),
        graph: read("graph"),
    }
}

#[cfg(unix)]
fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn include_url() -> String {
    let raw = REPOSITORY.replace("https://github.com/", "https://raw.githubusercontent.com/");
    format!("{raw}/v{VERSION}/{TEMPLATE}")
}

fn user_file(rest: &str) -> String {
    format!("include:\n  - remote: {}\n{rest}", include_url())
}

/// The `cargo install` the template must run for `version`: the project's repository at the
/// release tag (the crate is not on crates.io), locked, into a directory cached per version.
fn expected_install(version: &str, project: &Path) -> (Vec<String>, String) {
    let argv = vec![
        "install".to_string(),
        "--locked".into(),
        "--git".into(),
        REPOSITORY.into(),
        "--tag".into(),
        format!("v{version}"),
        "--root".into(),
    ];
    (argv, project.display().to_string())
}

fn assert_installs(ran: &Ran, version: &str, project: &Path) {
    let cargo = ran.cargo.as_ref().expect("cargo install ran");
    let (argv, root) = expected_install(version, project);
    assert_eq!(cargo.get(..argv.len()), Some(&argv[..]), "{cargo:?}");
    let dir = &cargo[argv.len()];
    assert!(
        dir.starts_with(&root) && dir.contains(version),
        "the binary is installed inside the project (GitLab caches only there), per version: {cargo:?}"
    );
}

/// The linter's arguments: the paths and extra arguments, then the reports the job publishes.
fn assert_lints(ran: &Ran, job: &Job, leading: &[&str]) {
    assert_eq!(
        ran.lint.get(..leading.len()),
        Some(&leading.iter().map(|s| s.to_string()).collect::<Vec<_>>()[..]),
        "{:?}",
        ran.lint
    );
    let rest = ran.lint[leading.len()..].join(" ");
    let reports = &job.config["artifacts"]["reports"];
    for (kind, format) in [("codequality", "gitlab"), ("junit", "junit")] {
        let path = reports[kind].as_str().unwrap();
        assert!(
            rest.contains(&format!("--output {format}={path}")),
            "{kind}: {:?}",
            ran.lint
        );
    }
    assert_eq!(job.config["artifacts"]["when"], "always");
}

#[test]
fn gitlab_template_as_included_installs_the_pinned_release_and_lints_the_repository() {
    let project = tempfile::tempdir().unwrap();
    let job = gitlab_job(&user_file(""), &[]);
    assert_eq!(job.stage, "test");
    let ran = run_script(&job, project.path());
    assert_installs(&ran, VERSION, project.path());
    assert_lints(&ran, &job, &["."]);
    // The binary comes from the cache next time: no build.
    let ran = run_script(&job, project.path());
    assert!(ran.cargo.is_none(), "{:?}", ran.cargo);
    assert_lints(&ran, &job, &["."]);
    // The cached directory is what the install wrote to.
    let cached = job.config["cache"]["paths"].as_array().unwrap();
    assert!(!cached.is_empty());
    for p in cached {
        let p = p.as_str().unwrap();
        assert!(
            project.path().join(p).exists(),
            "cache path {p} is not where the binary is"
        );
    }
    let key = job.config["cache"]["key"].as_str().unwrap();
    assert!(
        key.contains(VERSION),
        "the cache is keyed by version: {key}"
    );
}

#[test]
fn gitlab_users_variables_and_stage_win_over_the_templates_defaults() {
    // Top-level variables in the user's file, and the stage chosen by overriding the job.
    let user = user_file(
        "variables:\n  KUBE_MIGRATE_LINT_PATHS: \"k8s overlays/prod\"\n  KUBE_MIGRATE_LINT_ARGS: \"--baseline .kube-migrate-lint-baseline.json\"\n  KUBE_MIGRATE_LINT_VERSION: \"9.8.7\"\nstages: [build, lint, deploy]\nkube-migrate-lint:\n  stage: lint\n",
    );
    let project = tempfile::tempdir().unwrap();
    let job = gitlab_job(&user, &[]);
    assert_eq!(job.stage, "lint");
    let ran = run_script(&job, project.path());
    assert_lints(
        &ran,
        &job,
        &[
            "k8s",
            "overlays/prod",
            "--baseline",
            ".kube-migrate-lint-baseline.json",
        ],
    );
    assert_installs(&ran, "9.8.7", project.path());

    // Job-level variables on the user's job, and a project (settings) variable over both.
    let user = user_file(
        "variables:\n  KUBE_MIGRATE_LINT_PATHS: top\nkube-migrate-lint:\n  variables:\n    KUBE_MIGRATE_LINT_PATHS: apps\n    KUBE_MIGRATE_LINT_ARGS: --fail-on error\n",
    );
    let job = gitlab_job(&user, &[]);
    let project = tempfile::tempdir().unwrap();
    let ran = run_script(&job, project.path());
    assert_lints(&ran, &job, &["apps", "--fail-on", "error"]);
    let job = gitlab_job(&user, &[("KUBE_MIGRATE_LINT_PATHS", "deploy")]);
    let ran = run_script(&job, project.path());
    assert_lints(&ran, &job, &["deploy", "--fail-on", "error"]);

    // A job of one's own, from the hidden template job.
    let user = user_file(
        "lint-manifests:\n  extends: .kube-migrate-lint\n  stage: verify\n  variables:\n    KUBE_MIGRATE_LINT_PATHS: charts\n",
    );
    let template = yaml_value(&std::fs::read_to_string(TEMPLATE).unwrap());
    let mut config = deep_merge(&template, &yaml_value(&user));
    config.as_object_mut().unwrap().remove("include");
    let own = resolve_job(&config, "lint-manifests", 0);
    assert_eq!(own["stage"], "verify");
    assert_eq!(own["script"], resolve_job(&config, JOB, 0)["script"]);
}

/// The job draws the graph of the builds a merge request touches — the manifests it changed,
/// not the deleted ones — and of every build outside merge requests, and publishes it with a
/// Markdown summary, even when the lint fails.
#[test]
fn gitlab_template_publishes_the_graph_of_what_a_merge_request_touches() {
    let job = gitlab_job(&user_file(""), &[]);
    let artifacts = &job.config["artifacts"];
    let paths: Vec<&str> = artifacts["paths"]
        .as_array()
        .expect("artifact paths")
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"kube-migrate-lint-graph.md")
            && paths.contains(&"kube-migrate-lint-graph.mmd"),
        "{paths:?}"
    );
    assert_eq!(artifacts["when"], "always");
    assert!(artifacts["expose_as"].is_string());

    // Outside a merge request: every build of the linted paths.
    let project = tempfile::tempdir().unwrap();
    let ran = run_script(&job, project.path());
    assert_eq!(
        ran.graph.as_deref(),
        Some(&["graph", ".", "--format", "mermaid"].map(String::from)[..])
    );
    let md = std::fs::read_to_string(project.path().join("kube-migrate-lint-graph.md")).unwrap();
    assert!(md.contains("1 build(s), 1 broken link(s)"), "{md}");
    let block = md.split("```mermaid\n").nth(1).expect("a mermaid block");
    assert!(
        block.starts_with("flowchart LR\n") && block.ends_with("```\n"),
        "{md}"
    );

    // In a merge request: the manifests changed since its base, deleted ones left out.
    let project = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(project.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    git(&["init", "-q"]);
    for f in ["k8s/job.yaml", "k8s/app.yaml", "k8s/old.yaml", "README.md"] {
        let p = project.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "a: 1\n").unwrap();
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "base"]);
    let base = git(&["rev-parse", "HEAD"]).trim().to_string();
    std::fs::write(project.path().join("k8s/job.yaml"), "a: 2\n").unwrap();
    std::fs::write(project.path().join("README.md"), "b\n").unwrap();
    std::fs::remove_file(project.path().join("k8s/old.yaml")).unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "change"]);
    let ran = run_script_with(
        &job,
        project.path(),
        &[("CI_MERGE_REQUEST_DIFF_BASE_SHA", base.as_str())],
    );
    assert_eq!(
        ran.graph.as_deref(),
        Some(&["graph", "k8s/job.yaml", "--format", "mermaid"].map(String::from)[..])
    );
    // The lint itself still covers the whole configured paths.
    assert_lints(&ran, &job, &["."]);
}

/// The README posts the summary to the merge request with GitLab's notes API, from the file the
/// template publishes.
#[test]
fn readme_posts_the_graph_summary_to_the_merge_request() {
    let text = readme_yaml_after("#### Posting the graph to the merge request");
    let v = yaml_value(&text);
    let job = v.as_object().unwrap().values().next().unwrap();
    let script = job["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        script.contains("body@kube-migrate-lint-graph.md")
            && script.contains("merge_requests/$CI_MERGE_REQUEST_IID/notes"),
        "{script}"
    );
    assert_eq!(job["needs"][0]["job"], JOB, "{text}");
    assert_eq!(job["needs"][0]["artifacts"], true, "{text}");
}

/// The first ```` ```yaml ```` block after the README heading `heading`.
fn readme_yaml_after(heading: &str) -> String {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let at = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no `{heading}`"));
    let rest = &readme[at..];
    let start = rest.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = rest[start..].find("\n```").unwrap();
    rest[start..start + end + 1].to_string()
}

/// The README's GitHub Actions workflow is one that works: the linter installed (pinned to this
/// release), one run that both annotates the pull request and writes SARIF, and an upload that
/// runs even though that run fails on findings, with the permission to upload.
#[test]
fn github_actions_workflow_in_the_readme_works() {
    let text = readme_yaml_after("### GitHub Actions and code scanning");
    let wf = yaml_value(&text);
    // Permissions, for the workflow or the job.
    let jobs = wf["jobs"].as_object().expect("a workflow with jobs");
    assert_eq!(jobs.len(), 1, "{text}");
    let job = jobs.values().next().unwrap();
    let permission = |k: &str| {
        job["permissions"][k]
            .as_str()
            .or(wf["permissions"][k].as_str())
            .map(str::to_string)
    };
    assert_eq!(permission("security-events").as_deref(), Some("write"));
    assert_eq!(permission("contents").as_deref(), Some("read"));
    let steps = job["steps"].as_array().unwrap();
    let find = |what: &str, pred: &dyn Fn(&Value) -> bool| {
        steps
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("no {what} step in\n{text}"))
    };
    let run = |s: &Value| s["run"].as_str().unwrap_or("").to_string();
    let checkout = find("checkout", &|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/checkout@"))
    });
    let install = find("install", &|s| run(s).contains("cargo install"));
    let lint = find("lint", &|s| run(s).contains("--format github"));
    let upload = find("upload", &|s| {
        s["uses"] == "github/codeql-action/upload-sarif@v3"
    });
    assert!(checkout < lint && install < lint && lint < upload, "{text}");
    let sarif = regex::Regex::new(r"--output sarif=(\S+)")
        .unwrap()
        .captures(&run(&steps[lint]))
        .expect("the lint step writes SARIF with --output")[1]
        .to_string();
    assert_eq!(steps[upload]["if"], "always()", "{text}");
    assert_eq!(steps[upload]["with"]["sarif_file"], json!(sarif), "{text}");

    // The install step, with a fake cargo: this release, from the repository's tag, and the
    // binary put on PATH for the next steps.
    let home = tempfile::tempdir().unwrap();
    let fakes = tempfile::tempdir().unwrap();
    let log = fakes.path().join("cargo-args");
    std::fs::write(
        fakes.path().join("cargo"),
        format!("#!/bin/bash\nprintf '%s\\n' \"$@\" > {}\n", log.display()),
    )
    .unwrap();
    make_executable(&fakes.path().join("cargo"));
    let github_path = home.path().join("github-path");
    let o = Command::new("bash")
        .args(["-e", "-c", &run(&steps[install])])
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("GITHUB_PATH", &github_path)
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", fakes.path().display()),
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let args = std::fs::read_to_string(&log).unwrap();
    let args: Vec<String> = args.lines().map(str::to_string).collect();
    let (expected, _) = expected_install(VERSION, home.path());
    assert_eq!(args.get(..expected.len()), Some(&expected[..]), "{args:?}");
    let root = args[expected.len()].replace('~', &home.path().display().to_string());
    let path_added = std::fs::read_to_string(&github_path).unwrap();
    assert_eq!(path_added.trim(), format!("{root}/bin"));

    // The lint step, with the real binary on PATH, on a copy of the bundled example: it fails
    // on the findings (so the upload must not depend on it), prints annotations and writes SARIF.
    let checkout = tempfile::tempdir().unwrap();
    let lint_run = run(&steps[lint]);
    let target = regex::Regex::new(r"kube-migrate-lint (\S+)")
        .unwrap()
        .captures(&lint_run)
        .unwrap()[1]
        .to_string();
    std::fs::create_dir_all(checkout.path().join(&target)).unwrap();
    for f in std::fs::read_dir("testdata/example/k8s").unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(
            &f,
            checkout.path().join(&target).join(f.file_name().unwrap()),
        )
        .unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kube-migrate-lint"))
        .parent()
        .unwrap();
    let o = Command::new("bash")
        .args(["-e", "-c", &lint_run])
        .current_dir(checkout.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("::error file={target}/"))),
        "{stdout}"
    );
    let log: Value =
        serde_json::from_str(&std::fs::read_to_string(checkout.path().join(&sarif)).unwrap())
            .unwrap();
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 6);
}

/// Every copy users make pins this release: a version bump in Cargo.toml must update the
/// include URLs, the template's default version and cache key, the pre-commit `rev:`, and the
/// install commands, or this fails.
#[test]
fn every_integration_pins_the_crates_version() {
    let tag = format!("v{VERSION}");
    let template = std::fs::read_to_string(TEMPLATE).unwrap();
    let readme = std::fs::read_to_string("README.md").unwrap();
    let hooks = std::fs::read_to_string(".pre-commit-hooks.yaml").unwrap();
    let cargo_toml = std::fs::read_to_string("Cargo.toml").unwrap();
    assert!(cargo_toml.contains(&format!("\nversion = \"{VERSION}\"\n")));
    // (file, text, pattern whose first group is a version or tag, what it must be, at least)
    let checks: &[(&str, &str, &str, &str, usize)] = &[
        (
            TEMPLATE,
            &template,
            r"raw\.githubusercontent\.com/[^/\s]+/[^/\s]+/([^/\s]+)/ci/gitlab-ci\.yml",
            &tag,
            1,
        ),
        (
            "README.md",
            &readme,
            r"raw\.githubusercontent\.com/[^/\s]+/[^/\s]+/([^/\s]+)/ci/gitlab-ci\.yml",
            &tag,
            1,
        ),
        (
            TEMPLATE,
            &template,
            r"KUBE_MIGRATE_LINT_VERSION:-([^}]+)\}",
            VERSION,
            1,
        ),
        (
            TEMPLATE,
            &template,
            r"\(default: ([^,]+), this file's\)",
            VERSION,
            1,
        ),
        (
            TEMPLATE,
            &template,
            r"key: kube-migrate-lint-(\S+)",
            VERSION,
            1,
        ),
        ("README.md", &readme, r"\brev: (\S+)", &tag, 1),
        (".pre-commit-hooks.yaml", &hooks, r"\brev: (\S+)", &tag, 1),
        ("README.md", &readme, r"--tag\s+([^\s`]+)", &tag, 2),
        (
            "README.md",
            &readme,
            r"key: kube-migrate-lint-([0-9][^-\s]*)",
            VERSION,
            1,
        ),
    ];
    for (file, text, pattern, want, at_least) in checks {
        let found: Vec<&str> = regex::Regex::new(pattern)
            .unwrap()
            .captures_iter(text)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        assert!(
            found.len() >= *at_least,
            "{file}: expected `{pattern}` at least {at_least} times"
        );
        for f in found {
            assert_eq!(f, *want, "{file}: `{pattern}`");
        }
    }
    // The repository everything installs from is the crate's.
    let repos = regex::Regex::new(r"(?:--git\s+|- repo: )([^\s`]+)").unwrap();
    for (file, text) in [(TEMPLATE, &template), ("README.md", &readme)] {
        for c in repos.captures_iter(text) {
            assert_eq!(&c[1], REPOSITORY, "{file}");
        }
    }
}
