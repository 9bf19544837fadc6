//! `kube-migrate-lint server`: the real process, driven over JSON-RPC on its stdin and stdout
//! as an editor would. Every wait has a deadline, so a hang fails the test instead of CI.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long any one answer may take before the test fails (generous: a loaded CI machine).
const DEADLINE: Duration = Duration::from_secs(60);

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    next_id: i64,
    /// Notifications read while waiting for something else, oldest first.
    pending: Vec<Value>,
    /// Everything received, for failure messages.
    log: Vec<String>,
}

impl Client {
    fn start(dir: &Path) -> Client {
        Client::start_with(dir, &[])
    }

    fn start_with(dir: &Path, env: &[(&str, &str)]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kube-migrate-lint"))
            .arg("server")
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; len.expect("a Content-Length header")];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                let v: Value = serde_json::from_slice(&body).expect("the server sends JSON");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Client {
            stdin: child.stdin.take(),
            child,
            messages: rx,
            next_id: 1,
            pending: Vec::new(),
            log: Vec::new(),
        }
    }

    fn send(&mut self, msg: Value) {
        let body = serde_json::to_string(&msg).unwrap();
        let stdin = self.stdin.as_mut().expect("stdin open");
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn recv(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(v) => {
                self.log.push(v.to_string());
                v
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "no message from the server within {DEADLINE:?}; received:\n{}",
                self.log.join("\n")
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "the server closed its output; received:\n{}",
                self.log.join("\n")
            ),
        }
    }

    /// The whole response (`result` or `error`) to a request.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + DEADLINE;
        loop {
            let v = self.recv(deadline);
            if v.get("id") == Some(&json!(id)) && v.get("method").is_none() {
                return v;
            }
            self.pending.push(v);
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let resp = self.call(method, params);
        assert!(resp.get("error").is_none(), "{method} failed: {resp}");
        resp["result"].clone()
    }

    /// The next diagnostics published for `uri` that satisfy `want` (earlier ones for it are
    /// skipped: the server may publish intermediate states).
    fn diagnostics(&mut self, uri: &str, want: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        let is_for = |v: &Value| {
            v["method"] == "textDocument/publishDiagnostics" && v["params"]["uri"] == uri
        };
        loop {
            let v = match self.pending.iter().position(is_for) {
                Some(i) => self.pending.remove(i),
                None => {
                    let v = self.recv(deadline);
                    if !is_for(&v) {
                        self.pending.push(v);
                        continue;
                    }
                    v
                }
            };
            let ds = v["params"]["diagnostics"].as_array().cloned().unwrap();
            if want(&ds) {
                return ds;
            }
        }
    }

    /// The next `window/logMessage` satisfying `want`.
    fn log_message(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        let is_it = |v: &Value| v["method"] == "window/logMessage" && want(&v["params"]);
        loop {
            if let Some(i) = self.pending.iter().position(is_it) {
                return self.pending.remove(i)["params"].clone();
            }
            let v = self.recv(deadline);
            if is_it(&v) {
                return v["params"].clone();
            }
            self.pending.push(v);
        }
    }

    /// `shutdown`, `exit`, and the exit status.
    fn stop(mut self) -> Option<i32> {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        drop(self.stdin.take());
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rules(ds: &[Value]) -> Vec<&str> {
    ds.iter().filter_map(|d| d["code"].as_str()).collect()
}

fn uri(p: &Path) -> String {
    // The temporary directory's path is plain ASCII without spaces: no escapes needed.
    format!("file://{}", p.display())
}

/// The 0-based UTF-16 column of the first `needle` on 0-based `line` of `text`.
fn utf16_column(text: &str, line: usize, needle: &str) -> u64 {
    let l = text.lines().nth(line).unwrap();
    l[..l.find(needle).unwrap()].encode_utf16().count() as u64
}

/// Apply LSP text edits (UTF-16 positions) to a text.
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let mut units = 0;
        for (i, ch) in text[start..].char_indices() {
            if units >= p["character"].as_u64().unwrap() as usize || ch == '\n' {
                return start + i;
            }
            units += ch.len_utf16();
        }
        text.len()
    };
    let mut spans: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap(),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (start, end, new) in spans {
        out.replace_range(start..end, new);
    }
    out
}

/// The pattern-ok tree, with a finding on the Job (`backoffLimit: 2`) and the Deployment's
/// wait-for container on one line after CJK text and an emoji (wider in UTF-16 than in
/// characters, and in bytes than in UTF-16).
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fixtures/pattern-ok/k8s");
    let k8s = d.path().join("k8s");
    std::fs::create_dir(&k8s).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), k8s.join(e.file_name())).unwrap();
    }
    let job = std::fs::read_to_string(k8s.join("migration-job.yaml")).unwrap();
    assert!(job.contains("backoffLimit: 0\n"));
    std::fs::write(
        k8s.join("migration-job.yaml"),
        job.replace("backoffLimit: 0\n", "backoffLimit: 2\n"),
    )
    .unwrap();
    let deploy = std::fs::read_to_string(k8s.join("deployment.yaml")).unwrap();
    let (start, end) = (
        deploy.find("        - name: wait-for-migration").unwrap(),
        deploy.find("      containers:").unwrap(),
    );
    let deploy = format!(
        "{}        - {{name: wait-for-migration, env: [{{name: NOTE, value: \"等待迁移 🚀\"}}], image: \"groundnuty/k8s-wait-for:v2.0\", args: [\"job-wr\", \"myapp-migration-TAG\"], resources: {{requests: {{cpu: 10m, memory: 32Mi}}, limits: {{cpu: 100m, memory: 64Mi}}}}}}\n{}",
        &deploy[..start],
        &deploy[end..]
    );
    std::fs::write(k8s.join("deployment.yaml"), deploy).unwrap();
    d
}

#[test]
fn the_server_lints_buffers_in_their_context() {
    let d = tree();
    let root = d.path().canonicalize().unwrap();
    let k8s = root.join("k8s");
    let job_path = k8s.join("migration-job.yaml");
    let (job_uri, deploy_uri) = (uri(&job_path), uri(&k8s.join("deployment.yaml")));
    let job = std::fs::read_to_string(&job_path).unwrap();
    let deploy = std::fs::read_to_string(k8s.join("deployment.yaml")).unwrap();

    let mut c = Client::start(&root);
    let init = c.request(
        "initialize",
        json!({
            "processId": null,
            "rootUri": uri(&root),
            "capabilities": {},
            "workspaceFolders": [{"uri": uri(&root), "name": "w"}],
        }),
    );
    let caps = &init["capabilities"];
    assert_eq!(caps["textDocumentSync"]["change"], 1, "full sync: {init}");
    assert_eq!(caps["textDocumentSync"]["openClose"], true);
    assert_eq!(caps["hoverProvider"], true);
    assert_eq!(
        caps["codeActionProvider"]["codeActionKinds"],
        json!(["quickfix"])
    );
    assert_eq!(caps["positionEncoding"], "utf-16");
    assert_eq!(init["serverInfo"]["name"], "kube-migrate-lint");
    c.notify("initialized", json!({}));

    // Open the Job: its finding is published, and the rest of its context is linted with it.
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": job_uri, "languageId": "yaml", "version": 1, "text": job}}),
    );
    let ds = c.diagnostics(&job_uri, |_| true);
    assert_eq!(rules(&ds), ["job-backoff-limit-nonzero"], "{ds:?}");
    let backoff = ds[0].clone();
    let line = job
        .lines()
        .position(|l| l.contains("backoffLimit"))
        .unwrap();
    assert_eq!(backoff["range"]["start"]["line"], line as u64);
    assert_eq!(
        backoff["range"]["start"]["character"],
        utf16_column(&job, line, "2")
    );
    // An explicit backoffLimit is a warning (LSP severity 2).
    assert_eq!(backoff["severity"], 2);
    assert_eq!(backoff["source"], "kube-migrate-lint");
    assert!(
        backoff["codeDescription"]["href"]
            .as_str()
            .unwrap()
            .ends_with("rules/job-backoff-limit-nonzero.md")
    );
    assert!(
        backoff["message"]
            .as_str()
            .unwrap()
            .contains("\nhelp: each retry re-runs the migration")
    );
    let ds = c.diagnostics(&deploy_uri, |_| true);
    assert_eq!(rules(&ds), Vec::<&str>::new(), "{ds:?}");

    // Rename the Job in the buffer (not on disk): the Deployment waiting for it breaks.
    let renamed = job.replace("name: myapp-migration-TAG", "name: myapp-migrate-TAG");
    assert_ne!(renamed, job);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": job_uri, "version": 2}, "contentChanges": [{"text": renamed}]}),
    );
    let ds = c.diagnostics(&deploy_uri, |ds| rules(ds).contains(&"wait-target-missing"));
    let wait = ds
        .iter()
        .find(|d| d["code"] == "wait-target-missing")
        .unwrap();
    let line = deploy.lines().position(|l| l.contains("等待迁移")).unwrap();
    assert_eq!(wait["range"]["start"]["line"], line as u64);
    // UTF-16 units: the emoji counts two (one character, four bytes), the CJK one each.
    let col = utf16_column(&deploy, line, "\"myapp-migration-TAG\"");
    let l = deploy.lines().nth(line).unwrap();
    let prefix = &l[..l.find("\"myapp-migration-TAG\"").unwrap()];
    assert_eq!(col, prefix.chars().count() as u64 + 1);
    assert!(col < prefix.len() as u64);
    assert_eq!(wait["range"]["start"]["character"], col, "{wait}");
    assert_eq!(wait["severity"], 1);
    let related = wait["relatedInformation"].as_array().unwrap();
    let kust_uri = uri(&k8s.join("kustomization.yaml"));
    assert!(
        related
            .iter()
            .any(|r| r["location"]["uri"] == kust_uri.as_str()
                && r["message"] == "written by replacement"),
        "{related:?}"
    );
    assert!(
        related
            .iter()
            .any(|r| r["location"]["uri"] == job_uri.as_str()
                && r["message"].as_str().unwrap().contains("closest job")),
        "{related:?}"
    );
    // The message names the job, never a value from the environment.
    assert!(!wait["message"].as_str().unwrap().contains("等待"));

    // Rename it back: the Deployment's finding is cleared.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": job_uri, "version": 3}, "contentChanges": [{"text": job}]}),
    );
    let ds = c.diagnostics(&deploy_uri, |ds| {
        !rules(ds).contains(&"wait-target-missing")
    });
    assert_eq!(rules(&ds), Vec::<&str>::new());

    // Hover on the Job's finding: the message and the rule's page.
    let at = backoff["range"]["start"].clone();
    let hover = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": job_uri}, "position": at}),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert_eq!(hover["contents"]["kind"], "markdown");
    assert!(
        text.contains("migration job retries up to 2 times"),
        "{text}"
    );
    let page = kube_migrate_lint::app::explain("job-backoff-limit-nonzero").unwrap();
    assert!(text.contains(page.trim()), "{text}");
    assert_eq!(hover["range"], backoff["range"]);
    // Nothing to say away from findings.
    let nothing = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": job_uri}, "position": {"line": 0, "character": 0}}),
    );
    assert_eq!(nothing, Value::Null);

    // The finding's fix as a code action; applied as an editor would, the finding goes.
    let actions = c.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": job_uri},
            "range": backoff["range"],
            "context": {"diagnostics": [backoff]},
        }),
    );
    let actions = actions.as_array().expect("a list of code actions");
    assert_eq!(actions.len(), 1, "{actions:?}");
    let fix = &actions[0];
    assert_eq!(fix["title"], "set spec.backoffLimit: 0");
    assert_eq!(fix["kind"], "quickfix");
    assert_eq!(fix["isPreferred"], true);
    assert_eq!(fix["diagnostics"][0]["code"], "job-backoff-limit-nonzero");
    let changes = fix["edit"]["changes"].as_object().unwrap();
    assert_eq!(changes.keys().collect::<Vec<_>>(), [&job_uri]);
    let fixed = apply(&job, changes[&job_uri].as_array().unwrap());
    assert_eq!(fixed, job.replace("backoffLimit: 2\n", "backoffLimit: 0\n"));
    // Other kinds than quick fixes, and places without findings: nothing.
    let only = c.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": job_uri},
            "range": backoff["range"],
            "context": {"diagnostics": [], "only": ["refactor"]},
        }),
    );
    assert_eq!(only, json!([]));
    let elsewhere = c.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": job_uri},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 3}},
            "context": {"diagnostics": []},
        }),
    );
    assert_eq!(elsewhere, json!([]));
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": job_uri, "version": 4}, "contentChanges": [{"text": fixed}]}),
    );
    let ds = c.diagnostics(&job_uri, |ds| ds.is_empty());
    assert!(ds.is_empty());

    // Bad input is answered, not fatal.
    let e = c.call("textDocument/hover", json!({"nonsense": true}));
    assert_eq!(e["error"]["code"], -32602, "{e}");
    let e = c.call("workspace/nonexistent", json!({}));
    assert_eq!(e["error"]["code"], -32601, "{e}");

    // Closing the last buffer of the context (unsaved, with the Job renamed again) clears
    // what was published for the context.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": job_uri, "version": 5}, "contentChanges": [{"text": renamed}]}),
    );
    c.diagnostics(&deploy_uri, |ds| rules(ds).contains(&"wait-target-missing"));
    c.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": job_uri}}),
    );
    let ds = c.diagnostics(&deploy_uri, |_| true);
    assert!(ds.is_empty(), "{ds:?}");

    assert_eq!(c.stop(), Some(0));
}

#[test]
fn exit_without_shutdown_is_status_1() {
    let d = tempfile::tempdir().unwrap();
    let mut c = Client::start(d.path());
    c.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    c.notify("initialized", json!({}));
    c.notify("exit", Value::Null);
    drop(c.stdin.take());
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = c.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
}

/// A bug while linting is logged to the client as an error, and the server keeps serving: the
/// other files get their diagnostics, a bug inside the engine is an `internal-error` finding on
/// its file, and requests are still answered. (Debug builds only: the panics are injected.)
#[cfg(debug_assertions)]
#[test]
fn a_panic_while_linting_is_logged_and_the_server_goes_on() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let job = crate::support::job("app", 2);
    for dir in ["explodes", "fine"] {
        std::fs::create_dir(root.join(dir)).unwrap();
        std::fs::write(root.join(dir).join("job.yaml"), &job).unwrap();
    }
    std::fs::write(root.join("fine/broken.yaml"), "kind: ConfigMap\n").unwrap();
    let mut c = Client::start_with(
        &root,
        &[(
            "KUBE_MIGRATE_LINT_TEST_PANIC",
            "server:explodes,parse:broken.yaml",
        )],
    );
    c.request(
        "initialize",
        json!({"processId": null, "rootUri": uri(&root), "capabilities": {}}),
    );
    c.notify("initialized", json!({}));
    let open = |c: &mut Client, p: &Path| {
        c.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri(p), "languageId": "yaml", "version": 1, "text": std::fs::read_to_string(p).unwrap()}}),
        );
    };

    open(&mut c, &root.join("explodes/job.yaml"));
    let log = c.log_message(|p| p["type"] == 1);
    let text = log["message"].as_str().unwrap();
    assert!(
        text.starts_with("internal error while linting ") && text.contains("explodes"),
        "{text}"
    );
    assert!(text.contains("(at src/app/lsp/mod.rs:"), "{text}");
    assert!(
        text.contains("this is a bug, please report it at https://"),
        "{text}"
    );
    assert!(
        text.contains("postgres://admin:***@")
            && !text.contains(kube_migrate_lint::base::internal::TEST_SECRET),
        "{text}"
    );

    // The server goes on: another unit is linted and published, with the engine's own
    // internal error on the file it failed to parse.
    let fine = root.join("fine/job.yaml");
    open(&mut c, &fine);
    let ds = c.diagnostics(&uri(&fine), |_| true);
    assert_eq!(rules(&ds), ["job-backoff-limit-nonzero"], "{ds:?}");
    let ds = c.diagnostics(&uri(&root.join("fine/broken.yaml")), |_| true);
    assert_eq!(rules(&ds), ["internal-error"], "{ds:?}");
    let message = ds[0]["message"].as_str().unwrap();
    assert!(
        message.contains("internal error while parsing this file")
            && message.contains("(at src/engine/mod.rs:"),
        "{message}"
    );
    // A later change to the failing unit fails again, and is logged again; requests are answered.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&root.join("explodes/job.yaml")), "version": 2}, "contentChanges": [{"text": job}]}),
    );
    c.log_message(|p| p["type"] == 1 && p["message"].as_str().unwrap().contains("explodes"));
    let hover = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri(&fine)}, "position": {"line": 6, "character": 16}}),
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("backoff"),
        "{hover}"
    );
    assert_eq!(c.stop(), Some(0));
}

/// The 0-based line and UTF-16 column of the first `needle` in `text` after `after`, as an
/// LSP position.
fn pos_of(text: &str, needle: &str, after: &str) -> Value {
    let from = text.find(after).unwrap();
    let at = from + text[from..].find(needle).unwrap();
    let line = text[..at].matches('\n').count();
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": text[start..at].encode_utf16().count()})
}

/// The LSP range of the first `needle` in `text` after `after`.
fn range_of(text: &str, needle: &str, after: &str) -> Value {
    let start = pos_of(text, needle, after);
    let mut end = start.clone();
    end["character"] =
        json!(start["character"].as_u64().unwrap() + needle.encode_utf16().count() as u64);
    json!({"start": start, "end": end})
}

/// `file:line:column` as hovers show it (1-based, columns in characters), of the first
/// `needle` after `after`.
fn shown_at(name: &str, text: &str, needle: &str, after: &str) -> String {
    let p = pos_of(text, needle, after);
    let line = p["line"].as_u64().unwrap() as usize;
    let l = text.lines().nth(line).unwrap();
    let col = l[..l.find(needle).unwrap()].chars().count() + 1;
    format!("{name}:{}:{col}", line + 1)
}

/// `initialize` as a client that can show documents (LSP 3.16), and `initialized`.
fn initialize(c: &mut Client, root: &Path) -> Value {
    initialize_with(
        c,
        root,
        json!({"window": {"showDocument": {"support": true}}}),
    )
}

fn initialize_with(c: &mut Client, root: &Path, capabilities: Value) -> Value {
    let init = c.request(
        "initialize",
        json!({
            "processId": null,
            "rootUri": uri(root),
            "capabilities": capabilities,
            "workspaceFolders": [{"uri": uri(root), "name": "w"}],
        }),
    );
    c.notify("initialized", json!({}));
    init
}

fn open(c: &mut Client, p: &Path) -> String {
    open_diagnostics(c, p).0
}

/// Open the file as it is on disk: its text, and the first diagnostics published for it.
fn open_diagnostics(c: &mut Client, p: &Path) -> (String, Vec<Value>) {
    let text = std::fs::read_to_string(p).unwrap();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(p), "languageId": "yaml", "version": 1, "text": text}}),
    );
    let ds = c.diagnostics(&uri(p), |_| true);
    (text, ds)
}

fn at(p: &Path, position: Value) -> Value {
    json!({"textDocument": {"uri": uri(p)}, "position": position})
}

/// The markdown a hover shows, and its range.
fn hover_at(c: &mut Client, p: &Path, position: Value) -> (String, Value) {
    let hover = c.request("textDocument/hover", at(p, position));
    let text = hover["contents"]["value"].as_str().unwrap().to_string();
    (text, hover["range"].clone())
}

fn hover_text(c: &mut Client, p: &Path, position: Value) -> String {
    hover_at(c, p, position).0
}

fn definition(c: &mut Client, p: &Path, position: Value) -> Value {
    c.request("textDocument/definition", at(p, position))
}

/// Hover, definition, references and code lenses on the pattern (the wait-for container on one
/// line after CJK text and an emoji, so UTF-16 columns differ from characters and bytes).
#[test]
fn the_server_navigates_the_migration_path() {
    let d = tree();
    let root = d.path().canonicalize().unwrap();
    let k8s = root.join("k8s");
    let (job_path, deploy_path) = (k8s.join("migration-job.yaml"), k8s.join("deployment.yaml"));
    let (rbac_path, kust_path) = (k8s.join("rbac.yaml"), k8s.join("kustomization.yaml"));
    let vars_path = k8s.join("deployment-variables.yaml");
    let mut c = Client::start(&root);
    let init = initialize(&mut c, &root);
    let caps = &init["capabilities"];
    assert_eq!(caps["definitionProvider"], true, "{init}");
    assert_eq!(caps["referencesProvider"], true);
    assert_eq!(caps["codeLensProvider"]["resolveProvider"], false);
    assert_eq!(
        caps["executeCommandProvider"]["commands"],
        json!(["kube-migrate-lint.show"])
    );
    let deploy = open(&mut c, &deploy_path);
    let job = open(&mut c, &job_path);
    let rbac = std::fs::read_to_string(&rbac_path).unwrap();
    let kust = std::fs::read_to_string(&kust_path).unwrap();
    let vars = std::fs::read_to_string(&vars_path).unwrap();

    // Hover on the wait argument: its value in the build, written by the replacement that
    // reads the ConfigMap; the range is the argument's node (quotes included), in UTF-16.
    let wait_arg = "\"myapp-migration-TAG\"";
    let (text, range) = hover_at(
        &mut c,
        &deploy_path,
        pos_of(&deploy, "migration", "等待迁移"),
    );
    assert_eq!(range, range_of(&deploy, wait_arg, "等待迁移"), "{text}");
    let expected = format!(
        "**`myapp-migration-TAG`** as each build renders it:\n\n- `k8s`: `myapp-migration-v1.2286938253.0`\n  - written `myapp-migration-TAG` at [{}]({}#L{})\n  - replacement → `myapp-migration-v1.2286938253.0` at [{}]({}#L{}), reading [{}]({}#L6)",
        shown_at("k8s/deployment.yaml", &deploy, wait_arg, "等待迁移"),
        uri(&deploy_path),
        pos_of(&deploy, wait_arg, "等待迁移")["line"]
            .as_u64()
            .unwrap()
            + 1,
        shown_at(
            "k8s/kustomization.yaml",
            &kust,
            "spec.template",
            "Deployment"
        ),
        uri(&kust_path),
        pos_of(&kust, "spec.template", "Deployment")["line"]
            .as_u64()
            .unwrap()
            + 1,
        shown_at("k8s/deployment-variables.yaml", &vars, "\"v1.", ""),
        uri(&vars_path),
    );
    assert_eq!(text, expected);
    // The Job's name, and its image (shown as written: nothing changes it).
    let text = hover_text(&mut c, &job_path, pos_of(&job, "myapp-migration-TAG", ""));
    assert!(
        text.contains("- `k8s`: `myapp-migration-v1.2286938253.0`"),
        "{text}"
    );
    assert!(
        text.contains(&shown_at(
            "k8s/kustomization.yaml",
            &kust,
            "metadata.name",
            ""
        )),
        "{text}"
    );
    let text = hover_text(&mut c, &job_path, pos_of(&job, "registry", ""));
    assert!(
        text.starts_with("**`registry.example.com/myapp-migration:"),
        "{text}"
    );
    // A field no build changes, and a key: nothing (no finding there either).
    let none = c.request(
        "textDocument/hover",
        at(&deploy_path, pos_of(&deploy, "2", "replicas")),
    );
    assert_eq!(none, Value::Null);

    // Definition: the wait argument to the Job's name.
    let job_name = range_of(&job, "myapp-migration-TAG", "");
    let def = definition(
        &mut c,
        &deploy_path,
        pos_of(&deploy, "migration-TAG", "等待迁移"),
    );
    assert_eq!(def, json!([{"uri": uri(&job_path), "range": job_name}]));
    // serviceAccountName to the ServiceAccount, roleRef (from its key) to the Role, a
    // binding's subject to the ServiceAccount.
    let sa_name = range_of(&rbac, "myapp-service", "");
    let def = definition(&mut c, &deploy_path, pos_of(&deploy, "myapp-service", ""));
    assert_eq!(def, json!([{"uri": uri(&rbac_path), "range": sa_name}]));
    let def = definition(&mut c, &rbac_path, pos_of(&rbac, "name", "roleRef"));
    assert_eq!(
        def,
        json!([{"uri": uri(&rbac_path), "range": range_of(&rbac, "myapp-job-reader", "kind: Role")}])
    );
    let def = definition(
        &mut c,
        &rbac_path,
        pos_of(&rbac, "myapp-service", "subjects"),
    );
    assert_eq!(def, json!([{"uri": uri(&rbac_path), "range": sa_name}]));
    // A replacement to the field it reads.
    let def = definition(&mut c, &kust_path, pos_of(&kust, "IMAGE_TAG", "fieldPath"));
    assert_eq!(
        def,
        json!([{"uri": uri(&vars_path), "range": range_of(&vars, "\"v1.2286938253.0\"", "")}])
    );
    // Nothing to go to from a plain field.
    let def = definition(&mut c, &deploy_path, pos_of(&deploy, "2", "replicas"));
    assert_eq!(def, Value::Null);

    // References: the Job's waiters; with the declaration, the Job's name first.
    let wait_loc =
        json!({"uri": uri(&deploy_path), "range": range_of(&deploy, wait_arg, "等待迁移")});
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri(&job_path)}, "position": pos_of(&job, "restartPolicy", ""), "context": {"includeDeclaration": false}}),
    );
    assert_eq!(refs, json!([wait_loc]));
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri(&deploy_path)}, "position": pos_of(&deploy, "migration", "等待迁移"), "context": {"includeDeclaration": true}}),
    );
    assert_eq!(
        refs,
        json!([{"uri": uri(&job_path), "range": job_name}, wait_loc])
    );
    // The ServiceAccount's binding and the pod that runs as it.
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri(&rbac_path)}, "position": pos_of(&rbac, "myapp-service", ""), "context": {"includeDeclaration": false}}),
    );
    assert_eq!(
        refs,
        json!([
            {"uri": uri(&rbac_path), "range": range_of(&rbac, "myapp-service", "subjects")},
            {"uri": uri(&deploy_path), "range": range_of(&deploy, "myapp-service", "")},
        ])
    );

    // A code lens above the Job, whose command has the client show the waiter.
    let lenses = c.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri(&job_path)}}),
    );
    let deploy_name =
        json!({"uri": uri(&deploy_path), "range": range_of(&deploy, "myapp", "metadata")});
    assert_eq!(
        lenses,
        json!([{
            "range": job_name,
            "command": {
                "title": "awaited by Deployment `myapp` (job-wr)",
                "command": "kube-migrate-lint.show",
                "arguments": [deploy_name],
            },
        }])
    );
    let shown = c.request(
        "workspace/executeCommand",
        json!({"command": "kube-migrate-lint.show", "arguments": [deploy_name]}),
    );
    assert_eq!(shown, Value::Null);
    let deadline = Instant::now() + DEADLINE;
    let request = loop {
        if let Some(i) = c
            .pending
            .iter()
            .position(|v| v["method"] == "window/showDocument")
        {
            break c.pending.remove(i);
        }
        let v = c.recv(deadline);
        if v["method"] == "window/showDocument" {
            break v;
        }
        c.pending.push(v);
    };
    assert_eq!(request["params"]["uri"], uri(&deploy_path));
    assert_eq!(request["params"]["selection"], deploy_name["range"]);
    assert_eq!(request["params"]["takeFocus"], true);
    assert!(request.get("id").is_some(), "{request}");
    c.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": {"success": true}}));
    let e = c.call(
        "workspace/executeCommand",
        json!({"command": "nope", "arguments": []}),
    );
    assert_eq!(e["error"]["code"], -32602, "{e}");

    // Requests answer from the latest lint: the Job renamed in its buffer is no longer awaited.
    let renamed = job.replace("name: myapp-migration-TAG", "name: myapp-migrate-TAG");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&job_path), "version": 2}, "contentChanges": [{"text": renamed}]}),
    );
    let lenses = c.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri(&job_path)}}),
    );
    assert_eq!(
        lenses[0]["command"]["title"], "nothing waits for this Job",
        "{lenses}"
    );
    assert_eq!(lenses.as_array().unwrap().len(), 1);
    let def = definition(
        &mut c,
        &deploy_path,
        pos_of(&deploy, "migration-TAG", "等待迁移"),
    );
    assert_eq!(def, Value::Null);
    assert_eq!(c.stop(), Some(0));
}

/// Flux substitution and a patch: the variable's value and where it is defined, the patch's
/// step in the chain, and definition from the patch to the object it changes.
#[test]
fn hover_follows_flux_substitution_and_patches() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let app = root.join("app");
    std::fs::create_dir(&app).unwrap();
    let files = [
        (
            "kustomization.yaml",
            "resources: [deploy.yaml, job.yaml, flux.yaml]\npatches:\n  - path: patch.yaml\n",
        ),
        (
            "deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, \"app-migration-${TAG}\"]\n      containers:\n        - name: app\n          image: \"app:${TAG}\"\n",
        ),
        (
            "job.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: app-migration-${TAG}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: \"app:v0\"}]\n",
        ),
        (
            "patch.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: app-migration-${TAG}\nspec:\n  template:\n    spec:\n      containers: [{name: m, image: \"app:${TAG}\"}]\n",
        ),
        (
            "flux.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: flux-system}\nspec:\n  path: ./app\n  postBuild:\n    substitute:\n      TAG: v3\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(app.join(name), text).unwrap();
    }
    let mut c = Client::start(&root);
    initialize(&mut c, &root);
    let deploy_path = app.join("deploy.yaml");
    let deploy = open(&mut c, &deploy_path);
    let flux = files[4].1;
    let var_at = shown_at("app/flux.yaml", flux, "v3", "");

    // On `${TAG}` in the image: the value, the substitution step and the variable.
    let (text, range) = hover_at(&mut c, &deploy_path, pos_of(&deploy, "TAG", "image: \"app"));
    assert_eq!(range, range_of(&deploy, "${TAG}", "image: \"app"), "{text}");
    assert!(text.contains("- `app`: `app:v3`"), "{text}");
    assert!(
        text.contains(&format!("  - Flux substitution → `app:v3` at [{var_at}]")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "**`${{TAG}}`** (Flux post-build substitution):\n\n- `app`: `v3`, from [{var_at}]"
        )),
        "{text}"
    );

    // In the patch: the image it writes, patched then substituted.
    let patch_path = app.join("patch.yaml");
    let patch = open(&mut c, &patch_path);
    let text = hover_text(&mut c, &patch_path, pos_of(&patch, "app:", "image"));
    let job = files[2].1;
    assert!(
        text.contains(&format!(
            "- `app`: `app:v3`\n  - written `app:v0` at [{}]",
            shown_at("app/job.yaml", job, "\"app:v0\"", "")
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  - patch → `app:${{TAG}}` at [{}]",
            shown_at("app/patch.yaml", &patch, "\"app:", "")
        )),
        "{text}"
    );
    // Definition from the patch, and from the kustomization's entry naming it: the Job.
    let job_name = json!([{"uri": uri(&app.join("job.yaml")), "range": range_of(job, "app-migration-${TAG}", "")}]);
    let def = definition(&mut c, &patch_path, pos_of(&patch, "Job", ""));
    assert_eq!(def, job_name);
    let kust_path = app.join("kustomization.yaml");
    let kust = open(&mut c, &kust_path);
    let def = definition(&mut c, &kust_path, pos_of(&kust, "patch.yaml", ""));
    assert_eq!(def, job_name);
    assert_eq!(c.stop(), Some(0));
}

/// Neovim's own LSP client (no plugin) attached to the server: `K`'s request shows the value
/// as the build renders it, and go-to-definition on the wait argument opens the Job at its
/// name. Skipped with a message when `nvim` is missing; CI installs it (Debian's package).
#[test]
fn neovim_hovers_and_jumps_to_the_job() {
    let nvim = Command::new("nvim")
        .args(["--headless", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    if nvim.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Neovim is required in CI (.ci/run installs it)"
        );
        eprintln!("SKIPPED neovim_hovers_and_jumps_to_the_job: nvim is not installed");
        return;
    }
    let d = tree();
    let root = d.path().canonicalize().unwrap();
    let deploy_path = root.join("k8s/deployment.yaml");
    let job_path = root.join("k8s/migration-job.yaml");
    let deploy = std::fs::read_to_string(&deploy_path).unwrap();
    let job = std::fs::read_to_string(&job_path).unwrap();
    // Neovim's cursor: 1-based line, 0-based byte column (it converts to UTF-16 itself).
    let cursor = |text: &str, needle: &str, after: &str| {
        let from = text.find(after).unwrap();
        let at = from + text[from..].find(needle).unwrap();
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        (text[..at].matches('\n').count() + 1, at - start)
    };
    let (line, col) = cursor(&deploy, "migration-TAG", "等待迁移");
    let out = root.join("nvim-result.json");
    let config = root.join("init.lua");
    std::fs::write(
        &config,
        r#"
local env = vim.env
local function finish(result)
  local f = io.open(env.KML_OUT, "w")
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd("qall!")
end
local ok, err = pcall(function()
  vim.cmd("edit " .. vim.fn.fnameescape(env.KML_FILE))
  local id = vim.lsp.start_client({
    name = "kube-migrate-lint",
    cmd = { env.KML_BIN, "server" },
    root_dir = env.KML_ROOT,
  })
  vim.lsp.buf_attach_client(0, id)
  assert(vim.wait(30000, function()
    local c = vim.lsp.get_client_by_id(id)
    return c ~= nil and c.initialized
  end, 20), "the server did not initialize")
  vim.api.nvim_win_set_cursor(0, { tonumber(env.KML_LINE), tonumber(env.KML_COL) })
  local hover = ""
  local answers = vim.lsp.buf_request_sync(0, "textDocument/hover", vim.lsp.util.make_position_params(), 30000)
  for _, a in pairs(answers or {}) do
    if a.result and a.result.contents then hover = a.result.contents.value end
  end
  vim.lsp.buf.definition()
  local jumped = vim.wait(30000, function()
    return vim.api.nvim_buf_get_name(0) == env.KML_TARGET
  end, 20)
  local pos = vim.api.nvim_win_get_cursor(0)
  finish({ hover = hover, jumped = jumped, buffer = vim.api.nvim_buf_get_name(0), line = pos[1], col = pos[2] })
end)
if not ok then finish({ error = tostring(err) }) end
"#,
    )
    .unwrap();
    let xdg = root.join("xdg");
    let mut child = Command::new("nvim")
        .args(["--headless", "-n", "-i", "NONE", "-u"])
        .arg(&config)
        .env("XDG_CONFIG_HOME", &xdg)
        .env("XDG_DATA_HOME", &xdg)
        .env("XDG_STATE_HOME", &xdg)
        .env("XDG_CACHE_HOME", &xdg)
        .env("KML_BIN", env!("CARGO_BIN_EXE_kube-migrate-lint"))
        .env("KML_ROOT", &root)
        .env("KML_FILE", &deploy_path)
        .env("KML_TARGET", &job_path)
        .env("KML_LINE", line.to_string())
        .env("KML_COL", col.to_string())
        .env("KML_OUT", &out)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nvim starts");
    let deadline = Instant::now() + DEADLINE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nvim did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let result: Value = serde_json::from_str(
        &std::fs::read_to_string(&out).expect("the Lua config writes its result"),
    )
    .unwrap();
    assert!(result.get("error").is_none(), "{result}");
    let hover = result["hover"].as_str().unwrap();
    assert!(
        hover.starts_with(
            "**`myapp-migration-TAG`** as each build renders it:\n\n- `k8s`: `myapp-migration-v1.2286938253.0`"
        ),
        "{hover}"
    );
    assert_eq!(result["jumped"], true, "{result}");
    assert_eq!(result["buffer"], job_path.to_str().unwrap());
    let (line, col) = cursor(&job, "myapp-migration-TAG", "");
    assert_eq!(
        (result["line"].as_u64(), result["col"].as_u64()),
        (Some(line as u64), Some(col as u64))
    );
}

/// A base Job in two overlays (one with a prefix whose Deployment waits for it in job-wr mode,
/// one whose worker waits in job mode), with only the base's files open: hover, definition and
/// the code lens see every build that includes the file, and a secret's value is masked.
#[test]
fn a_base_file_alone_is_seen_in_every_build_that_includes_it() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let files = [
        (
            "base/kustomization.yaml",
            "resources: [job.yaml, secret.yaml]\n",
        ),
        (
            "base/job.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: app-migration-v1\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: \"app:v1\"}]\n",
        ),
        (
            "base/secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: \"hunter2-${SUFFIX}\"\n",
        ),
        (
            "prod/kustomization.yaml",
            "namePrefix: prod-\nresources: [../base, deploy.yaml]\n",
        ),
        (
            "prod/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, prod-app-migration-v1]\n      containers: [{name: app, image: \"app:v1\"}]\n",
        ),
        (
            "staging/kustomization.yaml",
            "resources: [../base, worker.yaml]\n",
        ),
        (
            "staging/worker.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job, app-migration-v1]\n      containers: [{name: w, image: \"app:v1\"}]\n",
        ),
    ];
    for (name, text) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let mut c = Client::start(&root);
    // A client without `window/showDocument`.
    initialize_with(&mut c, &root, json!({}));
    let job_path = root.join("base/job.yaml");
    // Only the base's Job is open: it is linted in both overlays, not as the base alone.
    let job = open(&mut c, &job_path);

    let text = hover_text(&mut c, &job_path, pos_of(&job, "migration", ""));
    let job_at = shown_at("base/job.yaml", &job, "app-migration-v1", "");
    let k = files[3].1;
    assert!(
        text.contains(&format!(
            "- `staging`: `app-migration-v1`\n  - written `app-migration-v1` at [{job_at}]"
        )) && !text.contains("`base`"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "- `prod`: `prod-app-migration-v1`\n  - written `app-migration-v1` at [{job_at}]"
        )) && text.contains(&format!(
            "  - namePrefix/nameSuffix → `prod-app-migration-v1` at [{}]",
            shown_at("prod/kustomization.yaml", k, "prod-", "")
        )),
        "{text}"
    );
    // The lens counts the waiters of both builds, each in its own.
    let lenses = c.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri(&job_path)}}),
    );
    let deploy_path = root.join("prod/deploy.yaml");
    let worker_path = root.join("staging/worker.yaml");
    assert_eq!(
        lenses,
        json!([{
            "range": range_of(&job, "app-migration-v1", ""),
            "command": {
                "title": "awaited by Deployment `prod-app` (job-wr) in `prod` only",
                "command": "kube-migrate-lint.show",
                "arguments": [{"uri": uri(&deploy_path), "range": range_of(files[4].1, "app", "name:")}],
            },
        }, {
            "range": range_of(&job, "app-migration-v1", ""),
            "command": {
                "title": "awaited by Deployment `worker` (job) in `staging` only",
                "command": "kube-migrate-lint.show",
                "arguments": [{"uri": uri(&worker_path), "range": range_of(files[6].1, "worker", "name:")}],
            },
        }])
    );
    // References from the Job: both waiters.
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri(&job_path)}, "position": pos_of(&job, "migration", ""), "context": {"includeDeclaration": false}}),
    );
    assert_eq!(refs.as_array().map(Vec::len), Some(2), "{refs}");
    // This client cannot be asked to show the waiter: the command fails, saying where it is.
    let e = c.call(
        "workspace/executeCommand",
        json!({"command": "kube-migrate-lint.show", "arguments": lenses[0]["command"]["arguments"]}),
    );
    assert_eq!(e["error"]["code"], -32803, "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with(&format!("it is {}:4", deploy_path.display())),
        "{message}"
    );
    // From the overlay's wait argument, the base's Job; its hover shows it as written (no
    // build changes it: kustomize never prefixes init-container arguments).
    let deploy = open(&mut c, &deploy_path);
    let text = hover_text(&mut c, &deploy_path, pos_of(&deploy, "prod-app", ""));
    assert_eq!(
        text,
        format!(
            "**`prod-app-migration-v1`** as each build renders it:\n\n- `prod`: `prod-app-migration-v1`\n  - written `prod-app-migration-v1` at [{}]({}#L11)",
            shown_at("prod/deploy.yaml", &deploy, "prod-app", ""),
            uri(&deploy_path)
        )
    );
    let def = definition(&mut c, &deploy_path, pos_of(&deploy, "prod-app", ""));
    assert_eq!(
        def,
        json!([{"uri": uri(&job_path), "range": range_of(&job, "app-migration-v1", "")}])
    );
    // A Secret's value is never shown.
    let secret_path = root.join("base/secret.yaml");
    let secret = open(&mut c, &secret_path);
    let text = hover_text(&mut c, &secret_path, pos_of(&secret, "hunter2", ""));
    assert!(
        text.contains("`***`") && !text.contains("hunter2"),
        "{text}"
    );
    assert_eq!(c.stop(), Some(0));
}

/// A finding as (rule, 0-based start and end line and column, message with its help), from
/// the CLI's JSON report or from a published LSP diagnostic.
type Seen = (String, [u64; 4], String);

fn from_cli(d: &Value) -> Seen {
    let n = |v: &Value| v.as_u64().unwrap() - 1;
    let r = &d["range"];
    let mut message = d["message"].as_str().unwrap().to_string();
    if let Some(h) = d["help"].as_str() {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    (
        d["rule"].as_str().unwrap().to_string(),
        [
            n(&r["start"]["line"]),
            n(&r["start"]["column"]),
            n(&r["end"]["line"]),
            n(&r["end"]["column"]),
        ],
        message,
    )
}

fn from_lsp(d: &Value) -> Seen {
    let r = &d["range"];
    let n = |v: &Value| v.as_u64().unwrap();
    (
        d["code"].as_str().unwrap().to_string(),
        [
            n(&r["start"]["line"]),
            n(&r["start"]["character"]),
            n(&r["end"]["line"]),
            n(&r["end"]["character"]),
        ],
        d["message"].as_str().unwrap().to_string(),
    )
}

/// For files of several fixtures (a base shared by overlays, a base whose Job only one overlay
/// provides, a prefixed overlay, loose and unlisted files), the diagnostics the server publishes
/// when only that file is open are the findings `kube-migrate-lint FILE --format json` reports
/// on it: same rules, ranges and messages, merged across builds ("in … only").
#[test]
fn a_buffer_shows_what_the_cli_reports_for_its_file_alone() {
    let cases = [
        ("build-sibling-overlay-wait", "base/deployment.yaml"),
        (
            "build-sibling-overlay-wait",
            "overlays/prod/migration-job.yaml",
        ),
        ("build-base-completed-by-overlays", "base/deployment.yaml"),
        (
            "build-base-completed-by-overlays",
            "base/migration-job.yaml",
        ),
        ("overlay-prefix", "base/job.yaml"),
        ("overlay-prefix", "base/deploy.yaml"),
        ("overlay-prefix", "base/kustomization.yaml"),
        ("job-not-in-kustomization", "loose/migrate-job.yaml"),
        ("job-not-in-kustomization", "overlays/prod/migrate-job.yaml"),
        ("pattern-ok", "k8s/deployment.yaml"),
        ("image-tag-latest", "deployment.yaml"),
        ("flux-staged-jobs", "app-pre-deploy/migration-job.yaml"),
        ("patch-sets-bad-backoff", "k8s/migration-job.yaml"),
        ("rbac-missing", "k8s/deployment.yaml"),
        // Deployed by Flux Kustomizations elsewhere: their namespace, substitutions and stages.
        ("wait-namespace-flux-target", "app/deploy.yaml"),
        ("env-source-envfrom-different", "k8s/deployment.yaml"),
    ];
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fixtures");
    let (mut total, mut partial) = (0, 0);
    for (fixture, file) in cases {
        if !fixtures.join(fixture).join(file).is_file() {
            panic!("{fixture}/{file} is not a fixture file");
        }
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        crate::paths::copy_tree(&fixtures.join(fixture), &root);
        let out = Command::new(env!("CARGO_BIN_EXE_kube-migrate-lint"))
            .args([file, "--format", "json"])
            .current_dir(&root)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
        let mut cli: Vec<Seen> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["file"] == file)
            .map(from_cli)
            .collect();
        let mut c = Client::start(&root);
        initialize(&mut c, &root);
        let (_, published) = open_diagnostics(&mut c, &root.join(file));
        let mut lsp: Vec<Seen> = published.iter().map(from_lsp).collect();
        cli.sort();
        lsp.sort();
        assert_eq!(lsp, cli, "{fixture}/{file}");
        total += cli.len();
        partial += cli.iter().filter(|s| s.2.contains(" only)")).count();
        assert_eq!(c.stop(), Some(0));
    }
    assert!(total >= 10, "{total} findings compared");
    assert!(partial >= 1, "no finding shown by some builds only");
}

/// A base Deployment whose wait argument each overlay fills from its own Job by a replacement:
/// with only the base's file open, hover shows the value each overlay renders and the chain
/// that wrote it, and definition jumps to the Job of each overlay. A file no kustomization
/// includes is still linted, as a loose file.
#[test]
fn a_base_wait_resolves_in_each_overlay() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let job = |v: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: app-migration-{v}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: m, image: \"app:{v}\"}}]\n"
        )
    };
    let overlay = "resources: [../base, job.yaml]\nreplacements:\n  - source: {kind: Job, fieldPath: metadata.name}\n    targets:\n      - select: {kind: Deployment}\n        fieldPaths: [\"spec.template.spec.initContainers.[name=wait].args.1\"]\n";
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait\n          image: groundnuty/k8s-wait-for:v2.0\n          args: [job-wr, app-migration-TAG]\n      containers: [{name: app, image: \"app:v1\"}]\n";
    let files = [
        (
            "base/kustomization.yaml",
            "resources: [deploy.yaml]\n".to_string(),
        ),
        ("base/deploy.yaml", deploy.to_string()),
        ("prod/kustomization.yaml", overlay.to_string()),
        ("prod/job.yaml", job("v2")),
        ("staging/kustomization.yaml", overlay.to_string()),
        ("staging/job.yaml", job("v1")),
        (
            "scratch/job.yaml",
            job("v3").replace("backoffLimit: 0", "backoffLimit: 4"),
        ),
    ];
    for (name, text) in &files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let mut c = Client::start(&root);
    initialize(&mut c, &root);
    let deploy_path = root.join("base/deploy.yaml");
    open(&mut c, &deploy_path);
    let arg = pos_of(deploy, "migration-TAG", "job-wr");
    let text = hover_text(&mut c, &deploy_path, arg.clone());
    let written = shown_at("base/deploy.yaml", deploy, "app-migration-TAG", "");
    for (build, v) in [("prod", "v2"), ("staging", "v1")] {
        assert!(
            text.contains(&format!(
                "- `{build}`: `app-migration-{v}`\n  - written `app-migration-TAG` at [{written}]"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "  - replacement → `app-migration-{v}` at [{}]",
                shown_at(
                    &format!("{build}/kustomization.yaml"),
                    overlay,
                    "\"spec.template",
                    ""
                )
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("reading [{build}/job.yaml:4:")),
            "{text}"
        );
    }
    // Definition: the Job of each overlay, at its name.
    let def = definition(&mut c, &deploy_path, arg);
    let name_of = |b: &str, v: &str| json!({"uri": uri(&root.join(b).join("job.yaml")), "range": range_of(&job(v), &format!("app-migration-{v}"), "")});
    let mut got: Vec<Value> = def.as_array().cloned().unwrap_or_default();
    got.sort_by_key(|l| l["uri"].to_string());
    assert_eq!(got, vec![name_of("prod", "v2"), name_of("staging", "v1")]);
    // A loose file: linted with what is beside it, its finding published, its Job navigable.
    let scratch = root.join("scratch/job.yaml");
    let (_, ds) = open_diagnostics(&mut c, &scratch);
    assert!(rules(&ds).contains(&"job-backoff-limit-nonzero"), "{ds:?}");
    let lenses = c.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri(&scratch)}}),
    );
    assert_eq!(lenses[0]["command"]["title"], "nothing waits for this Job");
    assert_eq!(c.stop(), Some(0));
}

/// Write `files` (relative path, text) under `root`, creating their directories.
fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// The lens above a migration Job that a status-check gate holds the app back for names the
/// gate; the lens above a migration init container says which pods run it, and that several
/// can at once.
#[test]
fn lenses_for_gates_and_init_container_migrations() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let files = [
        (
            "k8s/kustomization.yaml",
            "resources: [job.yaml, gate.yaml, web.yaml]\n",
        ),
        (
            "k8s/job.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: kong-migrations-v3\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: \"kong:3.9.0\", command: [kong, migrations, up]}]\n",
        ),
        (
            "k8s/gate.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kong\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: wait-for-migrations\n          image: kong:3.9.0\n          command: [sh, -c, \"until kong migrations list; do sleep 2; done\"]\n      containers: [{name: proxy, image: \"kong:3.9.0\"}]\n",
        ),
        (
            "k8s/web.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n  template:\n    spec:\n      initContainers:\n        - name: migrate\n          image: web:v1\n          command: [npm, run, migrate]\n      containers: [{name: web, image: \"web:v1\"}]\n",
        ),
    ];
    write_tree(&root, &files);
    let mut c = Client::start(&root);
    initialize(&mut c, &root);
    let job_path = root.join("k8s/job.yaml");
    let job = open(&mut c, &job_path);
    let gate_path = root.join("k8s/gate.yaml");
    let lenses = c.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri(&job_path)}}),
    );
    assert_eq!(
        lenses,
        json!([{
            "range": range_of(&job, "kong-migrations-v3", ""),
            "command": {
                "title": "awaited by Deployment `kong` (status check kong migrations list)",
                "command": "kube-migrate-lint.show",
                "arguments": [{"uri": uri(&gate_path), "range": range_of(files[2].1, "kong", "name:")}],
            },
        }])
    );
    // Definition from the gate's command goes to the Job it holds the app back for.
    let gate = open(&mut c, &gate_path);
    let def = definition(&mut c, &gate_path, pos_of(&gate, "until", ""));
    assert_eq!(
        def,
        json!([{"uri": uri(&job_path), "range": range_of(&job, "kong-migrations-v3", "")}])
    );
    let web_path = root.join("k8s/web.yaml");
    let web = open(&mut c, &web_path);
    let lenses = c.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri(&web_path)}}),
    );
    assert_eq!(
        lenses,
        json!([{
            "range": range_of(&web, "migrate", "name: "),
            "command": {
                "title": "runs in every pod of Deployment `web` before its app containers (init-migration-race)",
                "command": "kube-migrate-lint.show",
                "arguments": [{"uri": uri(&web_path), "range": range_of(&web, "web", "name: ")}],
            },
        }])
    );
    assert_eq!(c.stop(), Some(0));
}
