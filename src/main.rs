//! The command line: parse arguments into plain options and hand them to the library.

use clap::{Parser, Subcommand, ValueEnum};
use kube_migrate_lint::app::{self, Color, FixMode, RunOptions};
use kube_migrate_lint::base::diagnostic::Severity;
use kube_migrate_lint::base::internal;
use kube_migrate_lint::output::Format;
use kube_migrate_lint::output::graph::GraphFormat;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "kube-migrate-lint",
    version,
    about = "Lint Kubernetes manifests for broken database-migration rollouts",
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 no finding at or above --fail-on, 1 findings, 2 usage, config or I/O error, or an internal error (a bug)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    lint: LintArgs,
}

#[derive(clap::Args, Debug)]
struct LintArgs {
    /// Files or directories to lint (`-` reads stdin); default: the current directory
    paths: Vec<PathBuf>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also write a report to a file, e.g. `--output gitlab=gl-code-quality-report.json`
    /// (repeatable)
    #[arg(long, value_name = "FORMAT=PATH", value_parser = parse_output)]
    output: Vec<(Format, PathBuf)>,
    /// Report only findings not recorded in this baseline file
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Record today's findings in this baseline file (and exit 0)
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// Configuration file (default: .kube-migrate-lint.yaml found by walking up from the paths)
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    config: Option<PathBuf>,
    /// Ignore configuration files
    #[arg(long)]
    no_config: bool,
    /// Run only these rules (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    select: Vec<String>,
    /// Do not run these rules (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    ignore: Vec<String>,
    /// Skip files and directories matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Lowest severity that makes the exit status 1
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    fail_on: FailOn,
    /// Name to report stdin as (and to find its configuration by)
    #[arg(long, value_name = "PATH")]
    stdin_filename: Option<String>,
    /// Colour the human report
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// Worker threads (default: one per core)
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Skip files larger than this many bytes (default 10 MiB)
    #[arg(long, value_name = "BYTES")]
    max_file_size: Option<u64>,
    /// How files form contexts: `auto` (each kustomization, and each directory of other
    /// manifests) or `all` (everything given is one context)
    #[arg(long, value_enum, default_value_t = ContextArg::Auto)]
    context: ContextArg,
    /// Apply safe fixes, each verified before the file is rewritten atomically; then report
    /// what is left
    #[arg(long, conflicts_with_all = ["diff", "write_baseline"])]
    fix: bool,
    /// Also apply (with --fix) or show (with --diff) fixes that may change behaviour
    #[arg(long)]
    unsafe_fixes: bool,
    /// Print the fixes as a unified diff and write nothing (exit status 1 when there is
    /// something to fix)
    #[arg(long, conflicts_with = "write_baseline")]
    diff: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ContextArg {
    Auto,
    All,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List every rule: name, default severity, category, fixable, summary
    Rules {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print a rule's page: what it checks, why it matters, examples, the fix
    Explain { rule: String },
    /// Print a kustomization's rendered objects as kustomize builds them (patches, transformers,
    /// generators evaluated natively); `--provenance` says where each value comes from
    Build {
        dir: PathBuf,
        /// Comment each object with its source and each value a patch or transformer wrote
        #[arg(long)]
        provenance: bool,
    },
    /// Draw each build's migration path: the migration Jobs, who waits for them and how,
    /// their ServiceAccounts and RBAC, what writes the version and where the database URL
    /// comes from; a link a finding is about is drawn red and dashed, labelled with its rule
    Graph {
        /// Files or directories (default: the --build directories, else the current directory)
        paths: Vec<PathBuf>,
        /// `mermaid` (GitLab and GitHub render it in Markdown), `dot` (Graphviz) or `json`
        /// (versioned, schema/graph-output-v1.schema.json)
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
        /// Draw only this build (a kustomization's directory; repeatable)
        #[arg(long, value_name = "DIR")]
        build: Vec<PathBuf>,
        /// Configuration file (default: .kube-migrate-lint.yaml found by walking up from the paths)
        #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
        config: Option<PathBuf>,
        /// Ignore configuration files
        #[arg(long)]
        no_config: bool,
        /// Skip files and directories matching this glob (repeatable)
        #[arg(long, value_name = "GLOB")]
        exclude: Vec<String>,
    },
    /// Run the language server: LSP over stdin and stdout, for editors
    Server,
    /// Print a shell completion script (e.g. `kube-migrate-lint completions bash > ~/.local/share/bash-completion/completions/kube-migrate-lint`)
    Completions { shell: clap_complete::Shell },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

fn parse_output(s: &str) -> Result<(Format, PathBuf), String> {
    let (f, p) = s
        .split_once('=')
        .ok_or("expected FORMAT=PATH, e.g. gitlab=gl-code-quality-report.json")?;
    let format = Format::from_str(f, false).map_err(|_| {
        format!("unknown format `{f}` (human, json, concise, gitlab, junit, sarif, github)")
    })?;
    if p.is_empty() {
        return Err("the PATH after = is empty".into());
    }
    Ok((format, PathBuf::from(p)))
}

/// The completion script for `shell`. `explain`, `--select` and `--ignore` complete rule names
/// (given to the generator only: the commands keep their own "did you mean" errors). In bash, clap_complete spells
/// the state of a hyphenated binary two ways (clap-rs/clap#6421, open), so nothing after a
/// subcommand completed; the case labels are respelled the way its dispatch loop spells them.
fn completions(shell: clap_complete::Shell) -> String {
    let bin = "kube-migrate-lint";
    let rule_names = || clap::builder::PossibleValuesParser::new(kube_migrate_lint::rules::names());
    let mut cmd = <Cli as clap::CommandFactory>::command()
        .mut_arg("select", |a| a.value_parser(rule_names()))
        .mut_arg("ignore", |a| a.value_parser(rule_names()))
        .mut_subcommand("explain", |c| {
            c.mut_arg("rule", |a| a.value_parser(rule_names()))
        });
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, bin, &mut buf);
    let script = String::from_utf8_lossy(&buf).into_owned();
    if shell == clap_complete::Shell::Bash {
        let loop_spelling = bin.replace('-', "__");
        let label_spelling = bin.replace('-', "__subcmd__");
        return script.replace(&label_spelling, &loop_spelling);
    }
    script
}

fn main() -> ExitCode {
    // Panics are bugs. The hook records them silently (their text could quote input); each
    // phase of a run catches its own and reports them redacted, with where they happened.
    internal::install_hook();
    let cli = Cli::parse();
    // What escapes every phase's isolation still ends in a clear word and status 2.
    match internal::isolate(|| run(cli)) {
        Ok(code) => code,
        Err(c) => {
            eprint!("{}", internal::crash_report(&c));
            ExitCode::from(app::EXIT_ERROR as u8)
        }
    }
}

fn run(cli: Cli) -> ExitCode {
    if let Some(Command::Server) = cli.command {
        internal::enter("serving the language server");
        // The transport writes to stdout from its own thread: nothing here may hold the lock.
        return ExitCode::from(kube_migrate_lint::app::lsp::run() as u8);
    }
    let mut stdout = std::io::stdout().lock();
    // Not locked for the whole run: the progress line writes to stderr from its own thread
    // while the run goes on, and holding the lock here would block it (and the run) forever.
    let mut stderr = std::io::stderr();
    let code = match cli.command {
        Some(Command::Rules { format: f }) => app::print(&mut stdout, &app::rules_table(f)),
        Some(Command::Completions { shell }) => app::print(&mut stdout, &completions(shell)),
        Some(Command::Server) => app::EXIT_CLEAN, // served above
        Some(Command::Build { dir, provenance }) => {
            app::build(&dir, provenance, &mut stdout, &mut stderr)
        }
        Some(Command::Graph {
            paths,
            format,
            build,
            config,
            no_config,
            exclude,
        }) => app::graph::graph(
            &app::graph::GraphOptions {
                paths,
                format,
                builds: build,
                config,
                no_config,
                exclude,
                repo_root: None,
            },
            &mut stdout,
            &mut stderr,
        ),
        Some(Command::Explain { rule }) => match app::explain(&rule) {
            Ok(page) => app::print(&mut stdout, &page),
            Err(e) => {
                let _ = app::print(&mut stderr, &format!("error: {e}\n"));
                app::EXIT_ERROR
            }
        },
        None => {
            let a = cli.lint;
            if let Some(n) = a.threads {
                let _ = rayon::ThreadPoolBuilder::new()
                    .num_threads(n.max(1))
                    .build_global();
            }
            let opts = RunOptions {
                paths: a.paths,
                stdin_filename: a.stdin_filename,
                format: a.format,
                config: a.config,
                no_config: a.no_config,
                select: a.select,
                ignore: a.ignore,
                exclude: a.exclude,
                fail_on: match a.fail_on {
                    FailOn::Error => Some(Severity::Error),
                    FailOn::Warning => Some(Severity::Warning),
                    FailOn::Info => Some(Severity::Info),
                    FailOn::Never => None,
                },
                color: match a.color {
                    ColorArg::Auto => Color::Auto,
                    ColorArg::Always => Color::Always,
                    ColorArg::Never => Color::Never,
                },
                max_file_size: a.max_file_size,
                context_all: matches!(a.context, ContextArg::All),
                outputs: a.output,
                baseline: a.baseline,
                write_baseline: a.write_baseline,
                fix: if a.fix {
                    FixMode::Fix
                } else if a.diff {
                    FixMode::Diff
                } else {
                    FixMode::Off
                },
                unsafe_fixes: a.unsafe_fixes,
                under_pre_commit: app::under_pre_commit(),
                repo_root: None,
                exit_after: true,
            };
            app::run(
                &opts,
                &mut std::io::stdin().lock(),
                &mut stdout,
                &mut stderr,
            )
        }
    };
    ExitCode::from(code as u8)
}
