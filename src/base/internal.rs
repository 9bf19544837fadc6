//! Internal errors: a panic is a bug in the linter, never a problem in the manifests.
//!
//! Every phase of a run is isolated with [`isolate`] (per file for parsing, reading objects,
//! suppressions and redaction; per context for evaluation; per object, context or workspace for
//! each rule; and the fix pipeline, each emitter and each language-server lint as a whole). A
//! panic in one becomes an [`InternalError`] that names the phase, the file or context, and
//! where in our source the panic happened, with the panic's message redacted like any other
//! message; the rest of the run goes on, and the run exits 2 whatever `--fail-on` says.
//!
//! The panic hook ([`install_hook`]) records each panic's message and location so that the
//! isolation site that catches it can say where it happened; it prints nothing, since a panic
//! message can quote the input (a secret, in a CI log). A panic that escapes every isolation is
//! reported by `main`, redacted the same way ([`crash_report`]).

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, Once, PoisonError};
use std::thread::ThreadId;

/// Where bugs are reported.
pub(crate) const ISSUES: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/issues");

/// The longest panic message shown, in characters.
const MAX_PAYLOAD: usize = 200;

/// Panics recorded by the hook, newest last, until the site that catches them takes them. A
/// panic caught by rayon on a worker thread is resumed on the thread that waits for it, so a
/// site looks for its own thread's panic first, then for one with the same message.
static CAPTURED: Mutex<Vec<Captured>> = Mutex::new(Vec::new());
/// Kept at most (panics caught by nobody of ours, e.g. inside a dependency, are not taken).
const KEEP: usize = 64;

struct Captured {
    thread: ThreadId,
    message: String,
    location: Option<String>,
}

thread_local! {
    /// How many isolations this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// What the run was doing, for a panic that escapes every isolation.
static PHASE: Mutex<&'static str> = Mutex::new("starting");

/// The binary's hook: record every panic, print nothing (what is caught is reported by the
/// site that caught it, what escapes by `main`).
pub fn install_hook() {
    HOOK.call_once(|| std::panic::set_hook(Box::new(record)));
}

/// Used as a library (tests, the fuzz harness, an embedding), the previous hook still speaks
/// for panics outside any isolation; those inside are recorded silently.
fn ensure_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            record(info);
            if DEPTH.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}

fn record(info: &std::panic::PanicHookInfo<'_>) {
    let captured = Captured {
        thread: std::thread::current().id(),
        message: payload_text(info.payload()),
        location: info
            .location()
            .map(|l| format!("{}:{}:{}", short_path(l.file()), l.line(), l.column())),
    };
    let mut all = CAPTURED.lock().unwrap_or_else(PoisonError::into_inner);
    if all.len() >= KEEP {
        all.remove(0);
    }
    all.push(captured);
}

/// Our files are `src/…` already; a dependency's absolute path in the cargo registry is cut to
/// `crate-version/src/…`.
fn short_path(file: &str) -> &str {
    match file.find("/registry/src/") {
        Some(i) => {
            let rest = &file[i + "/registry/src/".len()..];
            rest.split_once('/').map_or(rest, |(_, r)| r)
        }
        None => file,
    }
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Record what the run is doing, for [`crash_report`].
pub fn enter(phase: &'static str) {
    *PHASE.lock().unwrap_or_else(PoisonError::into_inner) = phase;
}

/// A panic caught by [`isolate`]: where it happened and its message, redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caught {
    /// `src/engine/mod.rs:123:9`, when the hook saw the panic.
    pub(crate) location: Option<String>,
    /// The panic's message, with secret-looking values masked, on one line, truncated.
    pub(crate) payload: String,
}

/// Run `f`; a panic in it is caught and described instead of unwinding further.
pub fn isolate<T>(f: impl FnOnce() -> T) -> Result<T, Caught> {
    ensure_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    let r = catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    r.map_err(|payload| caught(&*payload))
}

fn caught(payload: &(dyn Any + Send)) -> Caught {
    let message = payload_text(payload);
    let me = std::thread::current().id();
    let mut all = CAPTURED.lock().unwrap_or_else(PoisonError::into_inner);
    let at = all
        .iter()
        .rposition(|c| c.thread == me && c.message == message)
        .or_else(|| all.iter().rposition(|c| c.message == message));
    let location = at.and_then(|i| all.remove(i).location);
    drop(all);
    Caught {
        location,
        payload: crate::base::mask::message_for_display(&message, MAX_PAYLOAD),
    }
}

impl Caught {
    /// The internal error of a phase (`phase` is its short name, see [`InternalError::phase`];
    /// `doing` says it in words: "evaluating the kustomization k8s/prod").
    pub(crate) fn error(
        self,
        phase: &'static str,
        doing: impl Into<String>,
        subject: Option<&str>,
    ) -> InternalError {
        InternalError {
            phase,
            doing: doing.into(),
            subject: subject.map(str::to_string),
            location: self.location,
            payload: self.payload,
        }
    }
}

/// A phase of the run that failed on a bug.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InternalError {
    /// The phase's short name: `parse`, `objects`, `contexts`, `rule`, `suppressions`,
    /// `redaction`, `fix`, `output`, `server`.
    pub(crate) phase: &'static str,
    /// What was being done, in words, naming the context or report when there is one.
    pub(crate) doing: String,
    /// The file or context involved, if any.
    pub(crate) subject: Option<String>,
    pub(crate) location: Option<String>,
    /// The panic's message, redacted.
    pub(crate) payload: String,
}

impl InternalError {
    /// `internal error while <doing>: <payload> (at src/…:L:C)`.
    pub(crate) fn summary(&self) -> String {
        format!(
            "internal error while {}: {}{}",
            self.doing,
            self.payload.trim_end(),
            at(&self.location)
        )
    }

    /// The summary and what to do about it.
    pub(crate) fn message(&self) -> String {
        format!(
            "{}; this is a bug, please report it at {ISSUES}",
            self.summary()
        )
    }
}

impl std::fmt::Display for InternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// What `main` prints when a panic escaped every isolation.
pub fn crash_report(c: &Caught) -> String {
    let phase = *PHASE.lock().unwrap_or_else(PoisonError::into_inner);
    format!(
        "kube-migrate-lint crashed: this is a bug, please report it at {ISSUES}\n  while {phase}: {}{}\n",
        c.payload.trim_end(),
        at(&c.location)
    )
}

/// ` (at src/…:L:C)`, or nothing when the location is unknown.
fn at(location: &Option<String>) -> String {
    location
        .as_ref()
        .map(|l| format!(" (at {l})"))
        .unwrap_or_default()
}

/// Test builds only: panic on purpose in `phase` when `KUBE_MIGRATE_LINT_TEST_PANIC` asks for
/// it (`PHASE[:SUBSTRING]`, several separated by `,`; SUBSTRING must occur in `subject`), so
/// tests can drive each isolation through the binary and the language server. The message
/// carries a password in a URL, which every report must mask. Release builds have no such hook.
#[cfg(debug_assertions)]
#[track_caller]
pub(crate) fn inject(phase: &str, subject: &str) {
    inject_with(phase, || subject.to_string());
}

/// [`inject`], with the subject made only when `phase` is asked for (hot paths).
#[cfg(debug_assertions)]
#[track_caller]
pub(crate) fn inject_with(phase: &str, subject: impl FnOnce() -> String) {
    static SPEC: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        std::env::var("KUBE_MIGRATE_LINT_TEST_PANIC")
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| match s.split_once(':') {
                Some((p, f)) => (p.to_string(), f.to_string()),
                None => (s.to_string(), String::new()),
            })
            .collect()
    });
    if !spec.iter().any(|(p, _)| p == phase) {
        return;
    }
    let subject = subject();
    if spec
        .iter()
        .any(|(p, f)| p == phase && subject.contains(f.as_str()))
    {
        panic!(
            "deliberate test panic in {phase} for {subject}, connecting to postgres://admin:{}@db:5432/app",
            TEST_SECRET
        );
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub(crate) fn inject(_phase: &str, _subject: &str) {}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub(crate) fn inject_with(_phase: &str, _subject: impl FnOnce() -> String) {}

/// The password in an injected panic's message: it must never be shown.
pub const TEST_SECRET: &str = "inj3cted-s3cret";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_carries_its_location_and_a_redacted_message() {
        let secret = "s3cr3t-value";
        let c = isolate::<()>(|| {
            panic!("could not parse DATABASE_URL=postgres://u:{secret}@db/x; password: {secret}")
        })
        .unwrap_err();
        let at = c.location.clone().unwrap();
        assert!(at.starts_with("src/base/internal.rs:"), "{at}");
        assert!(!c.payload.contains(secret), "{}", c.payload);
        assert!(c.payload.contains("postgres://u:***@db/x"), "{}", c.payload);
        let e = c.error("rule", "running x", None);
        assert!(
            e.message()
                .contains("this is a bug, please report it at https://")
        );
        assert!(e.message().ends_with("/issues"));
        assert_eq!(isolate(|| 7), Ok(7));
    }

    #[test]
    fn long_and_multi_line_messages_are_cut() {
        let c = isolate::<()>(|| panic!("{}\nsecond line", "x".repeat(1000))).unwrap_err();
        assert!(
            c.payload.chars().count() <= MAX_PAYLOAD + 1,
            "{}",
            c.payload
        );
        assert!(!c.payload.contains('\n'));
    }

    #[test]
    fn a_panic_resumed_on_another_thread_keeps_its_location() {
        use rayon::prelude::*;
        let c = isolate(|| {
            (0..64).into_par_iter().for_each(|i| {
                if i == 63 {
                    panic!("worker {i} failed");
                }
            })
        })
        .unwrap_err();
        assert_eq!(c.payload, "worker 63 failed");
        assert!(
            c.location
                .is_some_and(|l| l.starts_with("src/base/internal.rs:")),
            "the location recorded on the worker"
        );
    }

    #[test]
    fn registry_paths_are_shortened() {
        assert_eq!(
            short_path("/home/u/.cargo/registry/src/index.crates.io-1/saphyr-0.3/src/lib.rs"),
            "saphyr-0.3/src/lib.rs"
        );
        assert_eq!(short_path("src/engine.rs"), "src/engine.rs");
    }
}
