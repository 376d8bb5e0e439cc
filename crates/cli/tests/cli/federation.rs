//! `healthcode channels`, `healthcode trust` and `healthcode keys rotate`
//! through the real binary, against a real SQLite data directory.

use super::{assert_usage_error, healthcode, json, stderr, stdout};

fn generate(dir: &std::path::Path, issuer: &str) -> serde_json::Value {
    let o = healthcode(&[
        "keys",
        "generate",
        "--issuer",
        issuer,
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    json(&o)
}

#[test]
fn trust_import_pins_and_refuses_rollback_channels_and_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let issuer = generate(dir, "cn-61");
    let publisher = generate(dir, "cn-61-publisher");
    let fingerprint = publisher["fingerprint"].as_str().unwrap();
    let list = |sequence: &str, out: &str| {
        let o = healthcode(&[
            "keys",
            "trust-list",
            "--publisher-key",
            publisher["private_key_file"].as_str().unwrap(),
            "--out",
            dir.join(out).to_str().unwrap(),
            "--sequence",
            sequence,
            issuer["public_key_file"].as_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(json(&o)["sequence"], sequence.parse::<u64>().unwrap());
        dir.join(out).to_str().unwrap().to_owned()
    };
    let (five, six) = (list("5", "five.json"), list("6", "six.json"));
    // A list past its next update: the verifier warns (and still verifies).
    let old = dir.join("old.json");
    let o = healthcode(&[
        "keys",
        "trust-list",
        "--publisher-key",
        publisher["private_key_file"].as_str().unwrap(),
        "--out",
        old.to_str().unwrap(),
        "--at",
        "2020-01-01T00:00:00Z",
        "--next-update",
        "1d",
        issuer["public_key_file"].as_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = healthcode(&["verify", "--trust", old.to_str().unwrap(), "HCP1:X"]);
    assert!(stderr(&o).contains("is stale"), "{}", stderr(&o));
    let o = healthcode(&["verify", "--trust", &six, "HCP1:X"]);
    assert!(!stderr(&o).contains("is stale"), "{}", stderr(&o));

    let o = healthcode(&[
        "trust",
        "import",
        "--data",
        data,
        "--file",
        &six,
        "--pin",
        fingerprint,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("imported: cn-61-publisher (sequence 6, 1 key(s))"),
        "{}",
        stdout(&o)
    );
    let o = healthcode(&[
        "trust",
        "import",
        "--data",
        data,
        "--file",
        &five,
        "--pin",
        fingerprint,
    ]);
    assert_usage_error(&o, "Rollback refused");
    let wrong = "00".repeat(32);
    let o = healthcode(&[
        "trust", "import", "--data", data, "--file", &six, "--pin", &wrong,
    ]);
    assert_usage_error(&o, "pin");
    let o = healthcode(&["trust", "list", "--data", data, "--json"]);
    let listed = json(&o);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["sequence"], 6);
    assert_eq!(listed[0]["fingerprint"], fingerprint);

    let o = healthcode(&[
        "channels",
        "add",
        "--data",
        data,
        "--client-id",
        "tb-mini",
        "--name",
        "某某 on Alipay",
        "--kind",
        "alipay",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(json(&o)["secret"].as_str().unwrap().starts_with("hcs_"));
    let o = healthcode(&[
        "channels",
        "add",
        "--data",
        data,
        "--client-id",
        "tb-mini",
        "--name",
        "x",
        "--kind",
        "alipay",
    ]);
    assert_usage_error(&o, "already registered");
    let o = healthcode(&[
        "channels",
        "add",
        "--data",
        data,
        "--client-id",
        "x-mini",
        "--name",
        "x",
        "--kind",
        "myspace",
    ]);
    assert_usage_error(&o, "kind");
    let o = healthcode(&["channels", "disable", "--data", data, "tb-mini"]);
    assert!(stdout(&o).contains("disabled"), "{}", stderr(&o));
    let o = healthcode(&["channels", "list", "--data", data, "--json"]);
    let listed = json(&o);
    assert_eq!(listed[0]["kind"], "alipay");
    assert!(listed[0]["disabled_at"].is_string());
    assert!(listed[0]["created_by"]
        .as_str()
        .unwrap()
        .starts_with("cli:"));

    // Rotation: a new key; the current one shortened to end at the switch.
    let switch = "2099-01-01T00:00:00Z";
    let o = healthcode(&[
        "keys",
        "rotate",
        "--current",
        issuer["private_key_file"].as_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--switch-at",
        switch,
        "--valid-for",
        "30d",
    ]);
    assert_usage_error(&o, "before the switch");
    let o = healthcode(&[
        "keys",
        "rotate",
        "--current",
        issuer["private_key_file"].as_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = json(&o);
    assert!(std::path::Path::new(plan["new_public_key_file"].as_str().unwrap()).exists());
    let old = healthcode(&["keys", "show", issuer["private_key_file"].as_str().unwrap()]);
    let old = json(&old);
    assert_eq!(
        time::OffsetDateTime::parse(
            old["valid_to"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .unwrap(),
        time::OffsetDateTime::parse(
            plan["switch_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .unwrap(),
    );
}
