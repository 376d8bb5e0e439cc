//! `healthcode import` and `healthcode carrier`, through the real binary on
//! a temporary SQLite database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn healthcode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_healthcode"))
        .args(args)
        .env(
            "HEALTHCODE_PHONE_HASH_SECRET",
            "a-test-secret-of-some-length",
        )
        .env_remove("HEALTHCODE_DATABASE_URL")
        .env_remove("HEALTHCODE_CONFIG")
        .output()
        .expect("run healthcode")
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn db(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("healthcode.db").display())
}

#[test]
fn carrier_records_line_by_line_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("stays.csv");
    std::fs::write(
        &csv,
        "phone,city_code,first_seen,last_seen,cell\n\
         13800000001,220100,2022-05-01T08:00:00+08:00,2022-05-01T20:00:00+08:00,c-1\n\
         13800000001,2201,2022-05-01T08:00:00+08:00,2022-05-01T20:00:00+08:00,\n\
         138 0000 0002,110100,2022-05-02T08:00:00Z,2022-05-02T09:00:00Z,\n\
         13800000003,110100,tomorrow,2022-05-02T09:00:00Z,\n\
         13800000003,110100,2022-05-02T08:00:00Z\n\
         13800000001,220100,2022-05-01T08:00:00+08:00,2022-05-01T20:00:00+08:00,c-1\n",
    )
    .unwrap();
    let url = db(dir.path());
    let csv_path = csv.to_str().unwrap();
    let o = healthcode(&[
        "import",
        "carrier-records",
        csv_path,
        "--database",
        &url,
        "--carrier",
        "test-mobile",
    ]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("6 read"), "{text}");
    assert!(
        text.contains("2 imported")
            && text.contains("1 already present")
            && text.contains("3 rejected"),
        "{text}"
    );
    assert!(text.contains("line 3: city_code"), "{text}");
    assert!(text.contains("line 5: first_seen"), "{text}");
    assert!(
        text.contains("line 6: 3 fields, the header has 5"),
        "{text}"
    );
    assert!(
        !text.contains("13800000001"),
        "phones are not echoed: {text}"
    );

    // Again: everything valid is already there.
    let o = healthcode(&["import", "carrier-records", csv_path, "--database", &url]);
    assert!(
        out(&o).contains("0 imported") && out(&o).contains("3 already present"),
        "{}",
        out(&o)
    );

    // NDJSON, chosen by extension; a clean file exits 0.
    let nd = dir.path().join("stays.ndjson");
    std::fs::write(
        &nd,
        "{\"phone\":\"13800000009\",\"city_code\":\"440300\",\"first_seen\":\"2022-05-03T08:00:00Z\",\"last_seen\":\"2022-05-03T18:00:00Z\"}\n\n",
    )
    .unwrap();
    let o = healthcode(&[
        "import",
        "carrier-records",
        nd.to_str().unwrap(),
        "--database",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("1 imported"));
    let o = healthcode(&[
        "import",
        "carrier-records",
        nd.to_str().unwrap(),
        "--format",
        "csv",
        "--database",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("lacks the column \"phone\""),
        "{}",
        out(&o)
    );

    // A column the records do not have, or one named twice: the file is
    // refused before any line is read.
    let odd = dir.path().join("odd.csv");
    std::fs::write(
        &odd,
        "phone,city_code,first_seen,last_seen,colour\n13800000001,220100,2022-05-01T08:00:00Z,2022-05-01T09:00:00Z,red\n",
    )
    .unwrap();
    let o = healthcode(&[
        "import",
        "carrier-records",
        odd.to_str().unwrap(),
        "--database",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("unknown column \"colour\""), "{}", out(&o));
    std::fs::write(
        &odd,
        "phone,city_code,first_seen,last_seen,phone\n13800000001,220100,2022-05-01T08:00:00Z,2022-05-01T09:00:00Z,1\n",
    )
    .unwrap();
    let o = healthcode(&[
        "import",
        "carrier-records",
        odd.to_str().unwrap(),
        "--database",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("\"phone\" twice"), "{}", out(&o));
    // Records per transaction: a small batch gives the same result.
    let o = healthcode(&[
        "import",
        "carrier-records",
        csv_path,
        "--database",
        &url,
        "--batch",
        "1000",
    ]);
    assert!(
        out(&o).contains("0 imported") && out(&o).contains("3 already present"),
        "{}",
        out(&o)
    );
    let o = healthcode(&[
        "import",
        "carrier-records",
        csv_path,
        "--database",
        &url,
        "--batch",
        "10",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("from 1000 to 10000000"), "{}", out(&o));

    // Usage errors: one line, exit 2.
    let o = healthcode(&[
        "import",
        "carrier-records",
        "/nonexistent.csv",
        "--database",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).contains("cannot read /nonexistent.csv"),
        "{}",
        out(&o)
    );
    let o = healthcode(&[
        "import",
        "carrier-records",
        csv_path,
        "--data",
        dir.path().join("empty").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("holds no database"), "{}", out(&o));
    let o = healthcode(&[
        "import",
        "carrier-records",
        csv_path,
        "--database",
        &url,
        "--carrier",
        "bad name",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn risk_areas_and_carrier_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(dir.path());
    let csv = dir.path().join("areas.csv");
    std::fs::write(
        &csv,
        "city_code,area_zh,area_en,level,starts_at,ends_at\n\
         220100,南关区,Nanguan District,high,2022-04-01T00:00:00+08:00,\n\
         310100,浦东新区,Pudong New Area,medium,2022-03-01T00:00:00+08:00,2022-04-01T00:00:00+08:00\n\
         310100,浦东新区,Pudong New Area,low,2022-03-01T00:00:00+08:00,\n",
    )
    .unwrap();
    let o = healthcode(&[
        "import",
        "risk-areas",
        csv.to_str().unwrap(),
        "--database",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("2 imported") && out(&o).contains("line 4: level"),
        "{}",
        out(&o)
    );
    let o = healthcode(&[
        "import",
        "risk-areas",
        csv.to_str().unwrap(),
        "--database",
        &url,
    ]);
    assert!(
        out(&o).contains("0 imported") && out(&o).contains("2 already present"),
        "{}",
        out(&o)
    );

    let o = healthcode(&[
        "carrier",
        "create-account",
        "demo-mobile",
        "--display-name",
        "DEMO 移动",
        "--database",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let key = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.starts_with("hck_"))
        .map(str::to_owned)
        .expect("a key");
    assert_eq!(key.len(), 68);
    let o = healthcode(&[
        "carrier",
        "create-account",
        "demo-mobile",
        "--database",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("already exists"), "{}", out(&o));
}
