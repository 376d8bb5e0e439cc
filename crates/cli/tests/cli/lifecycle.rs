//! `healthcode purge` and `healthcode service ...` through the real binary,
//! on an SQLite data directory.

use std::path::Path;
use std::process::{Command, Output};

use healthcode_store::lifecycle::LifecycleStore;
use healthcode_store::Store;
use healthcode_store_sqlite::SqliteStore;

use super::{assert_usage_error, setup, stderr, stdout};

const SECRET: &str = "cli-lifecycle-phone-hash-secret";

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_healthcode"))
        .args(args)
        .env("HEALTHCODE_CONFIG", config)
        .env("HEALTHCODE_PHONE_HASH_SECRET", SECRET)
        .env_remove("HEALTHCODE_DATABASE_URL")
        .output()
        .expect("run healthcode")
}

/// Stdout with runs of whitespace as one space.
fn words(o: &Output) -> String {
    stdout(o).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn purge_shutdown_status_and_statement() {
    let s = setup();
    let data = s.root.join("data");
    let config = s.root.join("healthcode.toml");
    std::fs::write(
        &config,
        format!(
            "region_id = \"cn-22\"\nissuer_key_file = {:?}\n[retention]\noutbox_hours = 1\n",
            s.issuer_key.to_str().unwrap()
        ),
    )
    .unwrap();
    let d = data.to_str().unwrap();

    // No database there yet: a clear error, nothing created.
    let o = run(&config, &["purge", "--data", d]);
    assert_usage_error(&o, "no database there");

    // A deployment with a person and an old outbox message.
    let person = healthcode_store::conformance::person(7);
    runtime().block_on(async {
        let store = SqliteStore::open_dir(&data).await.unwrap();
        store.create_person(&person).await.unwrap();
        let old = time::OffsetDateTime::now_utc() - time::Duration::hours(3);
        store
            .push_outbox("139****5678", "验证码 123456", old)
            .await
            .unwrap();
        store.close().await;
    });

    let o = run(&config, &["purge", "--data", d, "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        words(&o).contains("would delete 1 sms_outbox_messages"),
        "{}",
        stdout(&o)
    );
    let o = run(&config, &["purge", "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        words(&o).contains("deleted 1 sms_outbox_messages"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("audit chain"), "{}", stdout(&o));

    let o = run(&config, &["service", "status", "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("health-code: online"), "{}", stdout(&o));

    // Bad input: one clear line, nothing recorded.
    let decision = "第 1 号决定 / Decision 1";
    for (args, mentions) in [
        (vec!["nonsense", "--at", "now"], "unknown service"),
        (vec!["health-code", "--at", "tomorrow"], "--at"),
        (
            vec!["itinerary", "--at", "now", "--keep", "code-face"],
            "code face",
        ),
        (
            vec!["health-code", "--at", "now", "--keep", "everything"],
            "everything",
        ),
    ] {
        let mut full = vec!["service", "shutdown"];
        full.extend(args);
        full.extend(["--decision", decision, "--data", d]);
        assert_usage_error(&run(&config, &full), mentions);
    }
    let o = run(
        &config,
        &[
            "service",
            "shutdown",
            "health-code",
            "--at",
            "now",
            "--decision",
            "x",
            "--data",
            d,
        ],
    );
    assert_usage_error(&o, "decision");

    // The shutdown, now: offline, erased, statement published.
    let o = run(
        &config,
        &[
            "service",
            "shutdown",
            "health-code",
            "--at",
            "now",
            "--decision",
            decision,
            "--keep",
            "code-face",
            "--data",
            d,
        ],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let out = words(&o);
    assert!(out.contains("deleted 1 people"), "{out}");
    assert!(out.contains("storage: VACUUM done"), "{out}");
    let fingerprint = out
        .split("publisher fingerprint ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_owned();

    let o = run(&config, &["service", "status", "--data", d]);
    assert!(
        stdout(&o).contains("health-code: ended, statement health-code-"),
        "{}",
        stdout(&o)
    );
    let again = run(
        &config,
        &[
            "service",
            "shutdown",
            "health-code",
            "--at",
            "now",
            "--decision",
            decision,
            "--data",
            d,
        ],
    );
    assert_usage_error(&again, "already ended");

    let statement = runtime().block_on(async {
        let store = SqliteStore::open_dir(&data).await.unwrap();
        assert_eq!(store.person(&person.id).await.unwrap(), None);
        let all = store.deletion_statements().await.unwrap();
        store.close().await;
        all.into_iter().next().unwrap()
    });
    let file = s.root.join("statement.json");
    std::fs::write(&file, &statement.signed_json).unwrap();
    let f = file.to_str().unwrap();
    let o = run(
        &config,
        &["service", "verify-statement", f, "--pin", &fingerprint],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("valid: deletion statement health-code-"),
        "{}",
        stdout(&o)
    );
    let o = run(
        &config,
        &["service", "verify-statement", f, "--pin", &"0".repeat(64)],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not match"), "{}", stderr(&o));
}

#[test]
fn purge_counts_check_ins_and_the_checkins_shutdown_runs() {
    use healthcode_store::venues::{CheckIn, Dependent, VenueMode};
    use healthcode_store::VenueStore;

    let s = setup();
    let data = s.root.join("data");
    let config = s.root.join("healthcode.toml");
    std::fs::write(
        &config,
        format!(
            "region_id = \"cn-22\"\nissuer_key_file = {:?}\n[retention]\ncheckins_days = 21\n",
            s.issuer_key.to_str().unwrap()
        ),
    )
    .unwrap();
    let d = data.to_str().unwrap();
    let person = healthcode_store::conformance::person(7);
    let venue = healthcode_store::conformance::venue(1, VenueMode::Open);
    runtime().block_on(async {
        let store = SqliteStore::open_dir(&data).await.unwrap();
        store.create_person(&person).await.unwrap();
        store.create_venue(&venue).await.unwrap();
        store
            .add_dependent(&Dependent {
                guardian: person.id.clone(),
                number: 1,
                full_name: "孙小七".into(),
                identity: healthcode_core::Identity::Resident {
                    id: healthcode_store::conformance::resident_id(707),
                },
                created_at: time::OffsetDateTime::now_utc(),
            })
            .await
            .unwrap();
        let now = time::OffsetDateTime::now_utc();
        // Ended 22 days ago (past checkins_days = 21), and an hour ago.
        let stay = |ago: time::Duration, dependent| CheckIn {
            venue: venue.id,
            person: person.id.clone(),
            dependent,
            arrived: now - ago - time::Duration::hours(2),
            left: now - ago,
        };
        store
            .insert_checkins(&[
                stay(time::Duration::days(22), 0),
                stay(time::Duration::hours(1), 0),
                stay(time::Duration::hours(1), 1),
            ])
            .await
            .unwrap();
        store.close().await;
    });

    let o = run(&config, &["purge", "--data", d, "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        words(&o).contains("would delete 1 checkins"),
        "{}",
        stdout(&o)
    );
    let o = run(&config, &["purge", "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(words(&o).contains("deleted 1 checkins"), "{}", stdout(&o));

    // A bad retention setting is refused naming it.
    let bad = s.root.join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "region_id = \"cn-22\"\nissuer_key_file = {:?}\n[retention]\ncheckins_days = 7\n",
            s.issuer_key.to_str().unwrap()
        ),
    )
    .unwrap();
    let o = run(&bad, &["purge", "--data", d, "--dry-run"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("retention.checkins_days"),
        "{}",
        stderr(&o)
    );

    let o = run(
        &config,
        &[
            "service",
            "shutdown",
            "checkins",
            "--at",
            "now",
            "--decision",
            "第 9 号决定：停止场所码扫码登记 / Decision 9",
            "--data",
            d,
        ],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let out = words(&o);
    assert!(out.contains("deleted 2 checkins"), "{out}");
    assert!(out.contains("deleted 1 dependents"), "{out}");
    assert!(out.contains("storage: VACUUM done"), "{out}");
    let o = run(&config, &["service", "status", "--data", d]);
    let status = stdout(&o);
    assert!(
        status.contains("checkins: ended, statement checkins-"),
        "{status}"
    );
    assert!(status.contains("health-code: online"), "{status}");

    runtime().block_on(async {
        let store = SqliteStore::open_dir(&data).await.unwrap();
        assert!(store.dependents(&person.id).await.unwrap().is_empty());
        assert!(store
            .person_checkins(
                &person.id,
                time::OffsetDateTime::UNIX_EPOCH,
                time::OffsetDateTime::now_utc() + time::Duration::days(1)
            )
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.venue(venue.id).await.unwrap(),
            Some(venue.clone()),
            "venues stay"
        );
        assert!(store.person(&person.id).await.unwrap().is_some());
        store.close().await;
    });
}
