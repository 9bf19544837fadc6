//! Every output format against its schema or documented rules, snapshotted on input with CRLF
//! line ends and non-ASCII text; baselines; several reports in one run.

use crate::fixtures::run as run_lib;
use kube_migrate_lint::output::Format;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kube-migrate-lint"));
    c.env_remove("NO_COLOR").env_remove("COLUMNS");
    c
}

fn schema(path: &str) -> jsonschema::Validator {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&v).unwrap()
}

fn errors(validator: &jsonschema::Validator, v: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Trees with findings of many rules, CRLF input and non-ASCII text.
const TARGETS: &[&str] = &["testdata/example", "testdata/fixtures", "testdata/formats"];

#[test]
fn gitlab_report_satisfies_gitlabs_fields_and_types() {
    let validator = schema("testdata/schemas/gitlab-code-quality.json");
    for t in TARGETS {
        let (_, out, _) = run_lib(&[t], Format::Gitlab);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            errors(&validator, &v).is_empty(),
            "{t}: {:?}",
            errors(&validator, &v)
        );
        let issues = v.as_array().unwrap();
        assert!(!issues.is_empty());
        let mut fps: Vec<&str> = issues
            .iter()
            .map(|i| i["fingerprint"].as_str().unwrap())
            .collect();
        let n = fps.len();
        fps.sort();
        fps.dedup();
        assert_eq!(
            fps.len(),
            n,
            "{t}: GitLab shows only the first issue of a fingerprint"
        );
    }
    // The schema can fail.
    let bad = serde_json::json!([{"description": "x", "check_name": "r", "fingerprint": "f", "severity": "error", "location": {"path": "a", "lines": {"begin": 0}}}]);
    assert!(!validator.is_valid(&bad));
}

#[test]
fn sarif_validates_against_the_official_2_1_0_schema() {
    let validator = schema("testdata/schemas/sarif-2.1.0.json");
    for t in TARGETS {
        let (_, out, _) = run_lib(&[t], Format::Sarif);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            errors(&validator, &v).is_empty(),
            "{t}: {:?}",
            errors(&validator, &v)
        );
        let run = &v["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        // Exactly the rules with results, each described: what GitHub shows for an alert.
        let mut ids: Vec<&str> = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ruleId"].as_str().unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        let described: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(described, ids, "{t}");
        for r in rules {
            let id = r["id"].as_str().unwrap();
            assert!(
                r["helpUri"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("rules/{id}.md"))
            );
            assert!(r["name"].as_str().is_some_and(|n| n != id));
            assert!(
                r["fullDescription"]["text"]
                    .as_str()
                    .is_some_and(|d| d.len() > 20)
            );
            assert!(r["help"]["text"].as_str().is_some_and(|h| !h.is_empty()));
        }
        for res in run["results"].as_array().unwrap() {
            let idx = res["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[idx]["id"], res["ruleId"]);
            let region = &res["locations"][0]["physicalLocation"]["region"];
            assert!(
                region["startLine"].as_u64().unwrap() >= 1
                    && region["startColumn"].as_u64().unwrap() >= 1
            );
        }
    }
    let (_, out, _) = run_lib(
        &["testdata/fixtures/name-invalid-substituted"],
        Format::Sarif,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let related = &v["runs"][0]["results"][0]["relatedLocations"];
    assert_eq!(
        related[0]["physicalLocation"]["artifactLocation"]["uri"],
        "testdata/fixtures/name-invalid-substituted/flux.yaml"
    );
    assert!(
        !validator.is_valid(&serde_json::json!({"version": "2.1.0", "runs": [{"results": []}]}))
    );
}

#[test]
fn junit_is_well_formed_and_counts_add_up() {
    use quick_xml::events::Event;
    for t in TARGETS {
        let (_, out, _) = run_lib(&[t], Format::Junit);
        let mut reader = quick_xml::Reader::from_str(&out);
        let (mut suites, mut cases, mut failures) = (0, 0, 0);
        let mut declared = (0usize, 0usize);
        loop {
            match reader
                .read_event()
                .unwrap_or_else(|e| panic!("{t}: malformed XML: {e}"))
            {
                Event::Start(e) | Event::Empty(e) => {
                    let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                    let attr = |k: &str| {
                        e.try_get_attribute(k)
                            .unwrap()
                            .map(|a| a.unescape_value().unwrap().into_owned())
                    };
                    match name.as_str() {
                        "testsuites" => {
                            declared = (
                                attr("tests").unwrap().parse().unwrap(),
                                attr("failures").unwrap().parse().unwrap(),
                            )
                        }
                        "testsuite" => suites += 1,
                        "testcase" => {
                            cases += 1;
                            assert!(
                                attr("classname").is_some()
                                    && attr("name").is_some()
                                    && attr("file").is_some()
                            );
                        }
                        "failure" => {
                            failures += 1;
                            assert!(attr("message").is_some_and(|m| !m.is_empty()));
                        }
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert!(suites > 0 && cases >= suites, "{t}");
        assert_eq!(declared, (cases, failures), "{t}: totals in <testsuites>");
    }
}

/// One test case per finding (named by rule and position, classed by file), so the Tests tab
/// lists each finding; a file without findings is one passing case.
#[test]
fn junit_has_a_test_case_per_finding() {
    use quick_xml::events::Event;
    for t in TARGETS {
        let (_, out, _) = run_lib(&[t], Format::Junit);
        let (_, json, _) = run_lib(&[t], Format::Json);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut expected: Vec<(String, String)> = v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let name = format!(
                    "{} at {}:{}",
                    d["rule"].as_str().unwrap(),
                    d["range"]["start"]["line"],
                    d["range"]["start"]["column"]
                );
                (d["file"].as_str().unwrap().to_string(), name)
            })
            .collect();
        expected.sort();
        // (classname, name, failed)
        let mut cases: Vec<(String, String, bool)> = Vec::new();
        let mut reader = quick_xml::Reader::from_str(&out);
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) | Event::Empty(e) => {
                    let attr = |k: &str| {
                        e.try_get_attribute(k)
                            .unwrap()
                            .map(|a| a.unescape_value().unwrap().into_owned())
                    };
                    match e.name().as_ref() {
                        b"testcase" => {
                            cases.push((attr("classname").unwrap(), attr("name").unwrap(), false))
                        }
                        b"failure" => cases.last_mut().unwrap().2 = true,
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let mut failed: Vec<(String, String)> = cases
            .iter()
            .filter(|c| c.2)
            .map(|c| (c.0.clone(), c.1.clone()))
            .collect();
        failed.sort();
        assert_eq!(failed, expected, "{t}: one failing test case per finding");
        for (file, name, _) in cases.iter().filter(|c| !c.2) {
            assert_eq!(name, "kube-migrate-lint", "{t}: {file}");
            assert!(
                !expected.iter().any(|(f, _)| f == file),
                "{t}: {file} has findings and a passing case"
            );
        }
        // Every file checked is there: those with findings, and one passing case for each other.
        let mut with_findings: Vec<&String> = expected.iter().map(|(f, _)| f).collect();
        with_findings.dedup();
        assert_eq!(
            with_findings.len() + cases.iter().filter(|c| !c.2).count(),
            v["summary"]["files"].as_u64().unwrap() as usize,
            "{t}"
        );
    }
}

#[test]
fn github_annotations_follow_the_workflow_command_syntax() {
    let re = regex::Regex::new(r"^::(error|warning|notice) file=[^,:]+,line=\d+(,col=\d+)?,endLine=\d+(,endColumn=\d+)?,title=[^:,]+::\S.*$").unwrap();
    let lines_re = regex::Regex::new(r"line=(\d+).*endLine=(\d+)").unwrap();
    for t in TARGETS {
        let (_, out, _) = run_lib(&[t], Format::Github);
        assert!(!out.is_empty());
        for line in out.lines() {
            assert!(re.is_match(line), "{line}");
            let caps: Vec<u64> = lines_re
                .captures(line)
                .unwrap()
                .iter()
                .skip(1)
                .map(|c| c.unwrap().as_str().parse().unwrap())
                .collect();
            if caps[0] != caps[1] {
                assert!(
                    !line.contains(",col="),
                    "multi-line ranges carry no columns: {line}"
                );
            }
        }
    }
}

/// `errorformat=%f:%l:%c:\ %m` (vim's quickfix) and editors' problem matchers read every line:
/// a finding, then each related location as a `note:` line of its own, at its own position.
#[test]
fn concise_lines_are_read_by_errorformat_related_locations_included() {
    let efm = regex::Regex::new(r"^([^\s:][^:]*):(\d+):(\d+): (.+)$").unwrap();
    let mut notes = 0;
    for t in TARGETS {
        let (_, out, _) = run_lib(&[t], Format::Concise);
        let (_, json, _) = run_lib(&[t], Format::Json);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        // What the lines must say, in order: each finding, then its related locations.
        let mut expected = Vec::new();
        for d in v["diagnostics"].as_array().unwrap() {
            let at = |f: &serde_json::Value, r: &serde_json::Value| {
                format!(
                    "{}:{}:{}",
                    f.as_str().unwrap(),
                    r["start"]["line"],
                    r["start"]["column"]
                )
            };
            expected.push(format!(
                "{}: {}[{}] {}",
                at(&d["file"], &d["range"]),
                d["severity"].as_str().unwrap(),
                d["rule"].as_str().unwrap(),
                d["message"].as_str().unwrap()
            ));
            for r in d["related"].as_array().unwrap() {
                expected.push(format!(
                    "{}: note: {}",
                    at(&r["file"], &r["range"]),
                    r["message"].as_str().unwrap()
                ));
            }
        }
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines, expected, "{t}");
        notes += lines.iter().filter(|l| l.contains(": note: ")).count();
        for line in lines {
            assert!(efm.is_match(line), "{t}: errorformat cannot read {line:?}");
        }
    }
    assert!(notes > 0, "some finding has related locations");
}

#[test]
fn every_format_on_crlf_and_non_ascii_input_is_snapshotted() {
    let elapsed = regex::Regex::new(r"in \d+ ms").unwrap();
    let junit_time = regex::Regex::new(r#"time="[0-9.]+""#).unwrap();
    for (name, format) in [
        ("human", Format::Human),
        ("json", Format::Json),
        ("concise", Format::Concise),
        ("gitlab", Format::Gitlab),
        ("junit", Format::Junit),
        ("sarif", Format::Sarif),
        ("github", Format::Github),
    ] {
        let (code, out, _) = run_lib(&["testdata/formats"], format);
        assert_eq!(code, 1);
        // Timings vary: blank them out.
        let out = elapsed.replace_all(&out, "in <elapsed>");
        let out = junit_time
            .replace_all(&out, "time=\"<elapsed>\"")
            .into_owned();
        // Rule metadata (the pages) is validated above; the snapshot keeps the results.
        let out = if format == Format::Sarif {
            let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
            let rules = &mut v["runs"][0]["tool"]["driver"]["rules"];
            *rules = serde_json::Value::from("<the rules of the results, validated above>");
            // The working directory, which differs from machine to machine.
            let base = &mut v["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"];
            assert!(base.as_str().unwrap().starts_with("file:///"));
            *base = serde_json::Value::from("file:///<working directory>/");
            v["runs"][0]["results"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .for_each(|r| {
                    r.as_object_mut().unwrap().remove("ruleIndex");
                });
            serde_json::to_string_pretty(&v).unwrap()
        } else {
            out
        };
        insta::assert_snapshot!(format!("format-{name}"), out);
    }
}

#[test]
fn several_reports_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let gl = dir.path().join("gl-code-quality-report.json");
    let junit = dir.path().join("junit.xml");
    let o = bin()
        .args(["testdata/example", "--format", "concise", "--output"])
        .arg(format!("gitlab={}", gl.display()))
        .arg("--output")
        .arg(format!("junit={}", junit.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    // One line per finding; related locations are `note:` lines below theirs.
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        stdout.lines().filter(|l| !l.contains(": note: ")).count(),
        6,
        "{stdout}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&gl).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 6);
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuites")
    );
    let o = bin()
        .args(["testdata/example", "--output", "xml=out.xml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn baseline_round_trip_hides_old_findings_and_shows_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let k8s = dir.path().join("k8s");
    std::fs::create_dir_all(&k8s).unwrap();
    for f in std::fs::read_dir("testdata/example/k8s").unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, k8s.join(f.file_name().unwrap())).unwrap();
    }
    let baseline = dir.path().join("baseline.json");
    let tree = k8s.to_str().unwrap();
    let o = bin()
        .args([tree, "--write-baseline", baseline.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // An unrelated edit moves every line of the Job.
    let job = k8s.join("migration-job.yaml");
    let text = std::fs::read_to_string(&job).unwrap();
    std::fs::write(
        &job,
        format!("# reviewed by the platform team\n# see the runbook\n{text}"),
    )
    .unwrap();
    let o = bin()
        .args([
            tree,
            "--baseline",
            baseline.to_str().unwrap(),
            "--format",
            "concise",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("6 finding(s) recorded in the baseline"));
    // A new problem shows.
    std::fs::write(k8s.join("second-job.yaml"), "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: reports-migration-v2\n  annotations: {kustomize.toolkit.fluxcd.io/force: enabled}\nspec:\n  backoffLimit: 4\n  template: {spec: {restartPolicy: Never, containers: [{name: m, image: \"app:v2\"}]}}\n").unwrap();
    let o = bin()
        .args([
            tree,
            "--baseline",
            baseline.to_str().unwrap(),
            "--format",
            "concise",
            "--select",
            // The new file is a migration Job the kustomization does not list.
            "job-not-in-kustomization",
        ])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1));
    // One finding (the other line is its related location, the kustomization).
    assert_eq!(s.matches("warning[").count(), 1, "{s}");
    assert!(s.contains("second-job.yaml:4:9: warning[job-not-in-kustomization]"));
    // A damaged baseline is an error, not silence.
    std::fs::write(&baseline, "{not json").unwrap();
    let o = bin()
        .args([tree, "--baseline", baseline.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
