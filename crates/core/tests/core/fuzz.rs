//! Property tests: the evaluator, validator, date-time parser and rule-set
//! loader never panic, whatever JSON they meet.

use healthcode_core::certlogic::{self, CertDateTime, Expr, TimeUnit};
use healthcode_core::RuleSet;
use proptest::prelude::*;
use serde_json::{json, Value};

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-3i64..5).prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z.0-9]{0,6}".prop_map(Value::String),
        "(19|20)[0-9]{2}(-[01][0-9](-[0-3][0-9](T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,4})?(Z|[+-][0-9]{1,2}(:?[0-9]{2})?)?)?)?)?"
            .prop_map(Value::String),
        "(URN:UVCI:)?[0-9A-Z:/#]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner.clone(), 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Expressions shaped like CertLogic (real operators, random operands), so
/// evaluation paths are reached, not only validation errors.
fn arbitrary_expression() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        (-3i64..400).prop_map(Value::from),
        "[a-z]{0,3}".prop_map(Value::String),
        prop_oneof![
            Just(""),
            Just("a"),
            Just("a.b"),
            Just("0"),
            Just("x.0.y"),
            Just("current"),
            Just("accumulator"),
            Just("data.a")
        ]
        .prop_map(|p| json!({"var": p})),
        Just(Value::Null),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        let op = prop_oneof![
            Just("if"),
            Just("and"),
            Just("!"),
            Just("==="),
            Just("in"),
            Just("+"),
            Just("<"),
            Just(">="),
            Just("after"),
            Just("not-before"),
            Just("reduce"),
            Just("dccDateOfBirth"),
            Just("var"),
            Just("or"),
        ];
        prop_oneof![
            (op, prop::collection::vec(inner.clone(), 0..4))
                .prop_map(|(op, args)| json!({ op: args })),
            (
                inner.clone(),
                -5i64..5,
                prop_oneof![
                    Just("year"),
                    Just("month"),
                    Just("day"),
                    Just("hour"),
                    Just("week")
                ]
            )
                .prop_map(|(e, n, u)| json!({"plusTime": [e, n, u]})),
            (inner.clone(), -2i64..6).prop_map(|(e, i)| json!({"extractFromUVCI": [e, i]})),
            prop::collection::vec(inner, 0..3).prop_map(Value::Array),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(expr in arbitrary_json(), data in arbitrary_json()) {
        let issues = certlogic::validate(&expr);
        let compiled = Expr::compile(&expr);
        prop_assert_eq!(issues.is_empty(), compiled.is_ok());
        if let Ok(expr) = compiled {
            let _ = expr.evaluate(&data);
        }
    }

    #[test]
    fn operator_shaped_expressions_never_panic(expr in arbitrary_expression(), data in arbitrary_json()) {
        if let Ok(compiled) = Expr::compile(&expr) {
            let plain = compiled.evaluate(&data);
            let mut reads = Vec::new();
            let traced = compiled.truthiness_traced(&data, &mut reads);
            // Tracing observes; it never changes the outcome.
            prop_assert_eq!(plain.is_ok(), traced.is_ok());
            for path in reads {
                prop_assert!(compiled.data_paths().contains(&path));
            }
        } else {
            prop_assert!(!certlogic::validate(&expr).is_empty());
        }
    }

    #[test]
    fn date_time_parsing_and_offsets_never_panic(s in "\\PC{0,40}", amount in any::<i64>()) {
        if let Some(d) = CertDateTime::parse(&s) {
            for unit in [TimeUnit::Year, TimeUnit::Month, TimeUnit::Day, TimeUnit::Hour] {
                if let Some(later) = d.plus(amount, unit) {
                    let _ = later.to_string();
                }
            }
        }
    }

    #[test]
    fn formatted_date_times_parse_back(millis in -62_135_596_800_000i64..253_402_300_799_999) {
        let d = CertDateTime::from_unix_millis(millis).unwrap();
        prop_assert_eq!(CertDateTime::parse(&d.to_string()), Some(d));
    }

    #[test]
    fn rule_set_loading_never_panics(doc in arbitrary_json(), logic in arbitrary_expression()) {
        let _ = RuleSet::from_json_value(doc);
        let set = json!({
            "id": "fuzz", "version": "1", "region": {"code": "CN", "name": {"zh": "全国", "en": "Nationwide"}},
            "name": {"zh": "模糊测试", "en": "Fuzz"}, "colours": ["green", "red"], "default_colour": "green",
            "rules": [{"id": "R", "description": {"zh": "规则", "en": "rule"}, "colour": "red", "priority": 1,
                       "valid_from": "2020-01-01T00:00:00Z", "logic": logic}]
        });
        let _ = RuleSet::from_json_value(set);
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let mut expr = json!(true);
    // Deeper than MAX_DEPTH, yet shallow enough for serde_json to drop on a test thread.
    for _ in 0..300 {
        expr = json!({"!": [expr]});
    }
    let issues = certlogic::validate(&expr);
    assert_eq!(issues.len(), 1);
    assert!(issues[0].message_en().contains("nested deeper"));
    // Values built by a reduce cannot nest without bound either.
    let nest =
        Expr::compile(&json!({"reduce": [{"var": "xs"}, [{"var": "accumulator"}], 0]})).unwrap();
    let data = json!({"xs": vec![0; 1000]});
    let err = nest.evaluate(&data).unwrap_err();
    assert!(err.to_string().contains("nested deeper"), "{err}");
}
