//! Lockout scenarios under `fixtures/scenarios/NAME/`: `scenario.json` (the key, extra
//! arguments, and what must hold: verdict, exit code, recoverable admins, lockout event,
//! findings), an optional `policy.json` (the current policy), an optional `events/` folder
//! (CloudTrail evidence), an optional `bundle.json` (what `kmsdoctor collect` saves,
//! DescribeKey's answer included: the only offline way to give the key's state), and
//! `expected.snap`, the full JSON output as reviewed (an insta snapshot).
//!
//! `INSTA_UPDATE=always cargo test --test cli scenarios` rewrites the `expected.snap` files
//! that differ; review the diff before committing.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde::Deserialize;

const NOW: &str = "2026-11-23T00:00:00Z";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[allow(dead_code)]
    description: String,
    /// The AWS documentation the expectation rests on: required from scenario 27 on.
    source: Option<Source>,
    key: String,
    args: Vec<String>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    page: String,
    section: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    verdict: String,
    exit_code: i32,
    admins: Vec<String>,
    lockout_event: Option<String>,
    findings: Vec<String>,
    ok_requirement: Option<String>,
    admin_requirement: Option<String>,
    /// Who can still use the key's data: principal to its operations (issue 28), exactly.
    #[serde(default)]
    data_paths: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/scenarios")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn run(dir: &Path, s: &Scenario, output: &str) -> (i32, String, String) {
    let mut args: Vec<String> = vec![
        "why-locked".into(),
        s.key.clone(),
        "--now".into(),
        NOW.into(),
        "--output".into(),
        output.into(),
    ];
    if dir.join("bundle.json").exists() {
        args.push("--from".into());
        args.push(dir.join("bundle.json").display().to_string());
    }
    if dir.join("policy.json").exists() {
        args.push("--policy-file".into());
        args.push(dir.join("policy.json").display().to_string());
    }
    if dir.join("events").exists() {
        args.push("--events-file".into());
        args.push(dir.join("events").display().to_string());
    }
    args.extend(s.args.iter().cloned());
    let out = Command::cargo_bin("kmsdoctor")
        .expect("binary")
        .args(&args)
        .output()
        .expect("run");
    let dir_text = format!("{}/", dir.display());
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(&dir_text, "");
    (
        out.status.code().unwrap_or(-1),
        clean(&out.stdout),
        clean(&out.stderr),
    )
}

fn check(dir: &Path) -> Result<(), String> {
    let s: Scenario = serde_json::from_str(
        &std::fs::read_to_string(dir.join("scenario.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("scenario.json: {e}"))?;
    let (code, stdout, stderr) = run(dir, &s, "json");
    let mut problems = Vec::new();
    let number: u32 = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('-').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    match &s.source {
        Some(src)
            if src.page.starts_with("https://docs.aws.amazon.com/") && !src.section.is_empty() => {}
        Some(_) => {
            problems.push("source: page must be an AWS documentation page, with its section".into())
        }
        None if number >= 27 => {
            problems.push("source: the AWS doc page and section are required".into())
        }
        None => {}
    }
    if code != s.expect.exit_code {
        problems.push(format!(
            "exit code {code}, expected {}; stderr: {stderr}",
            s.expect.exit_code
        ));
    }
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|e| format!("stdout is not JSON ({e}): {stdout}{stderr}"))?;
    if v["verdict"] != s.expect.verdict.as_str() {
        problems.push(format!(
            "verdict {}, expected {}",
            v["verdict"], s.expect.verdict
        ));
    }
    let mut admins: Vec<String> = v["recoverable_admins"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["principal"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut expected_admins = s.expect.admins.clone();
    admins.sort();
    expected_admins.sort();
    if admins != expected_admins {
        problems.push(format!("admins {admins:?}, expected {expected_admins:?}"));
    }
    let lockout = v["lockout_event"]["event_id"].as_str().map(str::to_string);
    if lockout != s.expect.lockout_event {
        problems.push(format!(
            "lockout event {lockout:?}, expected {:?}",
            s.expect.lockout_event
        ));
    }
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["id"].as_str()).collect())
        .unwrap_or_default();
    for f in &s.expect.findings {
        if !ids.contains(&f.as_str()) {
            problems.push(format!("finding {f} missing; findings: {ids:?}"));
        }
    }
    let texts = |alts: &serde_json::Value| -> Vec<String> {
        alts.as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["all_of"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r["text"].as_str().map(str::to_string))
            .collect()
    };
    if let Some(want) = &s.expect.ok_requirement {
        if !texts(&v["ok_requirements"]).contains(want) {
            problems.push(format!("ok_requirements lack {want:?}"));
        }
    }
    if let Some(want) = &s.expect.admin_requirement {
        let all: Vec<String> = v["recoverable_admins"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| texts(&a["requirements"]))
            .collect();
        if !all.contains(want) {
            problems.push(format!("no admin requirement {want:?}: {all:?}"));
        }
    }
    if let Some(want) = &s.expect.data_paths {
        let got: std::collections::BTreeMap<String, Vec<String>> = v["data_paths"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["principal"].as_str().unwrap_or_default().to_string(),
                    p["operations"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|o| o.as_str().map(str::to_string))
                        .collect(),
                )
            })
            .collect();
        if &got != want {
            problems.push(format!("data paths {got:?}, expected {want:?}"));
        }
    }
    if v["schema_version"] != 2
        || !v["history"].is_array()
        || !v["findings"].is_array()
        || !v.get("key").is_some_and(|k| k["id"].is_string())
    {
        problems.push("the JSON contract fields are missing".into());
    }

    // The full output, as reviewed.
    insta::with_settings!({
        snapshot_path => dir,
        prepend_module_to_snapshot => false,
        description => dir.file_name().unwrap_or_default().to_string_lossy(),
    }, {
        insta::assert_snapshot!("expected", stdout);
    });

    // The table reads in 80 columns; only copy-paste commands may be longer.
    let (tcode, table, _) = run(dir, &s, "table");
    if tcode != code {
        problems.push(format!("table output exits {tcode}, json {code}"));
    }
    for line in table.lines() {
        // Commands may run past 80 columns.
        if !crate::fits_80_columns(line) && !line.trim_start().starts_with("$ ") {
            problems.push(format!("table line over 80 columns: {line}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n  "))
    }
}

#[test]
fn lockout_scenarios() {
    let dirs = scenarios();
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| {
            check(d).err().map(|e| {
                format!(
                    "{}:\n  {e}",
                    d.file_name().unwrap_or_default().to_string_lossy()
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
    assert!(dirs.len() >= 20, "only {} scenarios", dirs.len());
}

/// Every command of every scenario's plan, run with `--profile`, `--region` and
/// `--endpoint-url`, carries them: pasted, it reaches the account, region and endpoint the
/// run reached. `--profile` is left out only after a step that exported other credentials
/// (a profile would override them); an `aws` command names the key's region. Each is
/// pasted into bash and zsh.
#[test]
fn every_plan_command_carries_the_run_flags() {
    const ENDPOINT: &str = "--endpoint-url http://127.0.0.1:4566";
    let mut problems = Vec::new();
    let mut commands = 0;
    for dir in scenarios() {
        let s: Scenario =
            serde_json::from_str(&std::fs::read_to_string(dir.join("scenario.json")).unwrap())
                .unwrap();
        let mut s = s;
        s.args.extend(
            [
                "--profile",
                "kd-recovery",
                "--endpoint-url",
                "http://127.0.0.1:4566",
            ]
            .map(String::from),
        );
        let (_, stdout, stderr) = run(&dir, &s, "json");
        let v: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{}: {e}: {stderr}", dir.display()));
        let region = v["key"]["region"].as_str().map(|r| format!("--region {r}"));
        let mut exported = false;
        let stubs = crate::hostile::Stubs::new();
        for step in v["recovery_plan"].as_array().into_iter().flatten() {
            // Each command pasted in bash and zsh, with stub `aws` and `kmsdoctor`: the
            // shell takes it whole and runs nothing else.
            for c in [&step["command"], &step["alternative"]["command"]]
                .into_iter()
                .filter_map(|c| c.as_str())
            {
                stubs.paste(c);
            }
            if let Some(alt) = step["alternative"]["command"].as_str() {
                commands += 1;
                if !alt.contains(ENDPOINT) {
                    problems.push(format!("{}: no {ENDPOINT}: {alt}", dir.display()));
                }
            }
            let Some(c) = step["command"].as_str() else {
                continue;
            };
            commands += 1;
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            if !c.contains(ENDPOINT) {
                problems.push(format!("{name}: no {ENDPOINT}: {c}"));
            }
            if !exported && !c.contains("--profile kd-recovery") {
                problems.push(format!("{name}: no --profile: {c}"));
            }
            // The key's region, or (a rescue through a related multi-Region key) that key's.
            let related: Vec<String> = v["related_keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k["region"].as_str().map(|r| format!("--region {r}")))
                .collect();
            if let (true, Some(r)) = (c.contains("aws "), &region) {
                if !c.contains(r.as_str()) && !related.iter().any(|x| c.contains(x.as_str())) {
                    problems.push(format!("{name}: no {r}: {c}"));
                }
            }
            exported |= c.contains("export ");
        }
    }
    assert!(commands > 100, "only {commands} commands checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
