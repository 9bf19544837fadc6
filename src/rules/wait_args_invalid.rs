//! `wait_for.sh` needs a mode it knows and a target: `<mode> <name-or-selector> [kubectl args]`.

use super::meta::WAIT_ARGS_INVALID as META;
use super::{ContextCx, ObjectCx, Rule};
use crate::analysis::wait_target::{arg_path, args_are_script_args};
use crate::base::diagnostic::{Diagnostic, Loc};
use crate::base::mask::display_value;
use crate::base::text::edit_distance;
use crate::render::Rendered;
use crate::render::links::{self, MODES, WaitFor};
use crate::render::path::Step;

pub(crate) struct WaitArgsInvalid;

const MODES_LIST: &str = "pod, pod-we, pod-wr, service, job, job-we, job-wr";

/// The closest real mode, for a hint.
fn closest_mode(mode: &str) -> Option<&'static str> {
    MODES
        .iter()
        .copied()
        .map(|m| (edit_distance(mode, m), m))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, m)| m)
}

/// Where the container's `args` are, or the container itself when it has none.
fn args_loc(cx: &ContextCx<'_>, r: &Rendered, w: &WaitFor) -> Option<Loc> {
    let env = cx.env();
    let args = w.container.field("args");
    links::value_loc(&env, r, &args, None).or_else(|| {
        let name = [w.container.path(), vec![Step::Key("name".into())]].concat();
        links::value_loc(&env, r, &name, None)
    })
}

impl Rule for WaitArgsInvalid {
    fn check_context(&self, cx: &ContextCx<'_>, out: &mut Vec<Diagnostic>) {
        let env = cx.env();
        for w in cx.ws.wait_fors(cx.context) {
            let r = &cx.context.rendered[w.rendered];
            if r.patched || !args_are_script_args(w) {
                continue;
            }
            let Some(o) = r.object() else { continue };
            let ocx = ObjectCx::new(cx.ws, &cx.ws.objects[o as usize]);
            // Count the manifest's arguments: an argument whose value is unknown is still one.
            let count = env.len(r, &w.container.field("args"));
            if count < 2 {
                let Some(loc) = args_loc(cx, r, w) else {
                    continue;
                };
                let got = match count {
                    0 => "no arguments".to_string(),
                    _ => format!(
                        "only one argument (`{}`)",
                        w.container
                            .args
                            .first()
                            .map(|a| display_value(&a.text))
                            .unwrap_or_default()
                    ),
                };
                let path = crate::render::path::display(&w.container.field("args"));
                out.push(
                    ocx.diag_at(
                        &META,
                        loc,
                        path,
                        format!(
                            "k8s-wait-for init container `{}` has {got}, but wait_for.sh needs a mode and a job, pod or service name: it prints its usage and exits 1, so the pod crash-loops in Init (Init:CrashLoopBackOff)",
                            w.container.name.as_deref().unwrap_or("?")
                        ),
                    )
                    .help("give the mode and the name, e.g. `args: [job-wr, myapp-migration-v1.2.3]` (the image's entrypoint is wait_for.sh, so these are its arguments)"),
                );
                continue;
            }
            let Some(mode) = w.mode.as_ref() else {
                continue;
            };
            if MODES.contains(&mode.text.as_str()) || mode.text.contains("${") {
                continue;
            }
            let shown = display_value(&mode.text);
            let help = match closest_mode(&mode.text) {
                Some(m) => format!(
                    "did you mean `{m}`? The modes are {MODES_LIST}; wait for a migration Job with `job-wr`"
                ),
                None => format!("use one of {MODES_LIST}; wait for a migration Job with `job-wr`"),
            };
            out.push(
                cx.diag_value(
                    &META,
                    &ocx,
                    r,
                    &arg_path(w, 0),
                    Some(mode),
                    format!(
                        "`{shown}` is not a wait_for.sh mode: the script prints `ERROR: Unknown resource type` and exits 1, so the pod crash-loops in Init (Init:CrashLoopBackOff) and never starts"
                    ),
                )
                .help(help),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    fn deploy(container: &str) -> String {
        let init = format!("        - name: wait\n          image: {WAIT_IMAGE}\n{container}");
        Deploy::default().init(&init).yaml()
    }

    #[test]
    fn unknown_modes_point_at_the_mode() {
        for (mode, hint) in [
            ("job-r", Some("job-wr")),
            ("pod-r", Some("pod-wr")),
            ("service-wr", None),
            ("jobs", Some("job")),
            ("deployment", None),
        ] {
            let text = deploy(&format!("          args: [{mode}, myapp-migration-v1]\n"));
            let d = lint_one(&text, "wait-args-invalid");
            assert_single(&d, &text, mode);
            assert_contains(&d[0].message, "ERROR: Unknown resource type");
            let help = d[0].help.as_deref().unwrap();
            match hint {
                Some(h) => assert!(help.contains(&format!("did you mean `{h}`")), "{help}"),
                None => assert!(!help.contains("did you mean"), "{help}"),
            }
        }
    }

    #[test]
    fn too_few_arguments() {
        let text = deploy("          args: [job-wr]\n");
        let d = lint_one(&text, "wait-args-invalid");
        assert_single(&d, &text, "[job-wr]");
        assert_contains(&d[0].message, "only one argument (`job-wr`)");
        assert_contains(&d[0].message, "usage");
        let text = deploy("");
        let d = lint_one(&text, "wait-args-invalid");
        assert_single(&d, &text, "wait");
        assert_contains(&d[0].message, "no arguments");
    }

    #[test]
    fn valid_and_unjudgeable_arguments_pass() {
        for c in [
            "          args: [job-wr, myapp-migration-v1]\n",
            "          args: [pod-wr, -lapp=db]\n",
            "          args: [service, db, -n, data]\n",
            "          args: [\"${WAIT_MODE}\", x]\n",
            // The command shifts the arguments: not judged.
            "          command: [wait_for.sh, job-wr]\n          args: [x]\n",
            // A command that is not the script: not a wait-for container at all.
            "          command: [sh, -c, 'wait_for.sh job-wr x']\n",
        ] {
            let text = deploy(c);
            assert!(lint_one(&text, "wait-args-invalid").is_empty(), "{c}");
        }
        // A plain `wait_for.sh` command keeps the args as the script's.
        let text =
            deploy("          command: [/usr/local/bin/wait_for.sh]\n          args: [job-r, x]\n");
        assert_eq!(lint_one(&text, "wait-args-invalid").len(), 1);
    }
}
