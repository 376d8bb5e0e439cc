//! The CertLogic specification's own conformance suites, every case,
//! including those its reference runner marks `skip` (null-safe `in` and the
//! "patched" `reduce` that sees the original data, both of which we implement).

use std::fs;
use std::path::{Path, PathBuf};

use healthcode_core::certlogic::{self, Expr};
use serde_json::Value;

const CERTLOGIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/certlogic");

fn suite_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(Path::new(CERTLOGIC).join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no suite files in {dir}");
    files
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn evaluator_passes_the_whole_test_suite() {
    let (mut passed, mut failed) = (0usize, Vec::new());
    for file in suite_files("testSuite") {
        let suite = read_json(&file);
        for case in suite["cases"].as_array().unwrap() {
            for (i, assertion) in case["assertions"].as_array().unwrap().iter().enumerate() {
                let expr = assertion
                    .get("certLogicExpression")
                    .or(case.get("certLogicExpression"))
                    .unwrap();
                let outcome = certlogic::evaluate(expr, &assertion["data"]);
                match outcome {
                    Ok(actual) if actual == assertion["expected"] => passed += 1,
                    other => failed.push(format!(
                        "{} / {} #{i}: expected {}, got {other:?}",
                        file.file_name().unwrap().to_string_lossy(),
                        case["name"],
                        assertion["expected"]
                    )),
                }
            }
        }
    }
    println!(
        "certlogic testSuite: {passed} passed, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "failures:\n{}", failed.join("\n"));
    assert!(passed > 200, "suspiciously few assertions: {passed}");
}

#[test]
fn validator_passes_the_whole_validation_suite() {
    let (mut passed, mut failed) = (0usize, Vec::new());
    for file in suite_files("validation-testSuite") {
        let suite = read_json(&file);
        for (i, case) in suite["cases"].as_array().unwrap().iter().enumerate() {
            let expr = &case["certLogicExpression"];
            let expected: Vec<(Value, String)> = case["issues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|issue| {
                    (
                        issue["expr"].clone(),
                        issue["message"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let actual: Vec<(Value, String)> = certlogic::validate(expr)
                .into_iter()
                .map(|issue| (issue.expr.clone(), issue.message_en()))
                .collect();
            // The compiler must agree with the validator.
            let compiles = Expr::compile(expr).is_ok();
            if actual == expected && compiles == expected.is_empty() {
                passed += 1;
            } else {
                failed.push(format!(
                    "{} #{i} {expr}: expected {expected:?}, got {actual:?}",
                    file.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    println!(
        "certlogic validation-testSuite: {passed} passed, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "failures:\n{}", failed.join("\n"));
    assert!(passed >= 20, "suspiciously few cases: {passed}");
}

#[test]
fn invalid_expressions_name_what_and_where() {
    let expr: Value = serde_json::json!({
        "and": [
            {"var": "a"},
            {"plusTime": [{"var": "b."}, 1.5, "week"]},
            {"if": [true, 1]}
        ]
    });
    let issues = certlogic::validate(&expr);
    let rendered: Vec<String> = issues.iter().map(ToString::to_string).collect();
    assert_eq!(issues.len(), 4, "{rendered:#?}");
    assert_eq!(issues[0].at, "/and/1");
    assert!(rendered[0].contains("amount"), "{}", rendered[0]);
    assert_eq!(issues[1].at, "/and/1");
    assert!(rendered[1].contains("\"year\""), "{}", rendered[1]);
    assert_eq!(issues[2].at, "/and/1/plusTime/0");
    assert!(rendered[2].contains("data access path doesn't have a valid format: b."));
    assert_eq!(issues[3].at, "/and/2");
    assert!(rendered[3].contains("exactly 3") && rendered[3].contains("个操作数"));
}

#[test]
fn evaluation_errors_point_at_the_operation() {
    let expr = Expr::compile(&serde_json::json!({
        "if": [true, {"and": [true, {"after": [{"plusTime": [{"var": "d"}, 0, "day"]}, 1]}]}, 0]
    }))
    .unwrap();
    let err = expr
        .evaluate(&serde_json::json!({"d": "2021-01-01"}))
        .unwrap_err();
    assert_eq!(err.at, "/if/1/and/1");
    assert!(err.to_string().contains("must be date-times"), "{err}");
    let err = expr
        .evaluate(&serde_json::json!({"d": "yesterday"}))
        .unwrap_err();
    assert_eq!(err.at, "/if/1/and/1/after/0");
    assert!(err.to_string().contains("yesterday"), "{err}");
}

#[test]
fn traced_reads_follow_lazy_evaluation() {
    let expr = Expr::compile(&serde_json::json!({
        "if": [
            {"var": "a"},
            {"var": "b"},
            {"reduce": [{"var": "list"}, {"+": [{"var": "accumulator"}, {"var": "data.step"}]}, 0]}
        ]
    }))
    .unwrap();
    let data = serde_json::json!({"a": true, "b": 1, "list": [1, 2], "step": 5});
    let mut reads = Vec::new();
    expr.truthiness_traced(&data, &mut reads).unwrap();
    assert_eq!(reads, ["a", "b"]);
    let data = serde_json::json!({"a": false, "b": 1, "list": [1, 2], "step": 5});
    let mut reads = Vec::new();
    assert_eq!(expr.evaluate(&data).unwrap(), 10);
    expr.truthiness_traced(&data, &mut reads).unwrap();
    assert_eq!(reads, ["a", "list", "step", "step"]);
    assert_eq!(expr.data_paths(), ["a", "b", "list", "step"]);
}
