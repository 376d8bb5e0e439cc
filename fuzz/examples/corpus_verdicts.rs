//! How deep does a corpus reach? Verifies every file of a `verify` corpus
//! (as the target does: lossy UTF-8, fixed trust store and clock) and prints
//! how many inputs end at each verdict, with the shortest input of each.
//!
//! Usage: `cargo run --manifest-path fuzz/Cargo.toml --example
//! corpus_verdicts -- fuzz/corpus/verify [MORE_DIRS...]`

use std::collections::BTreeMap;
use std::fs;
use std::io;

use healthcode_fuzz::{now_for, Fixture};

fn main() -> io::Result<()> {
    let mut verifier = Fixture::new().verifier();
    let mut verdicts = BTreeMap::<String, (usize, String)>::new();
    let mut total = 0;
    for dir in std::env::args().skip(1) {
        for entry in fs::read_dir(&dir)?.flatten() {
            let data = fs::read(entry.path())?;
            let input = String::from_utf8_lossy(&data);
            let verdict = match verifier.verify(&input, now_for(&input)) {
                Ok(_) => "valid".to_owned(),
                Err(r) => r.reason.to_string(),
            };
            total += 1;
            let slot = verdicts
                .entry(verdict)
                .or_insert_with(|| (0, input.to_string()));
            slot.0 += 1;
            if input.len() < slot.1.len() {
                slot.1 = input.to_string();
            }
        }
    }
    println!("{total} inputs");
    for (verdict, (count, shortest)) in &verdicts {
        let shown: String = shortest
            .chars()
            .take(if std::env::var_os("FULL").is_some() {
                usize::MAX
            } else {
                100
            })
            .collect();
        println!("{verdict:<22} {count:>6}   shortest: {shown:?}");
    }
    Ok(())
}
