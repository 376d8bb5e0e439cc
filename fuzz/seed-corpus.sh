#!/bin/sh
# Seeds fuzz/corpus/{verify,signed,layers} from testdata/ and from codes
# signed with the fuzz trust store's keys. Safe to re-run: it only adds
# files named seed-*; whatever the fuzzer found stays.
set -eu
cd "$(dirname "$0")/.."
cargo run --quiet --release --manifest-path fuzz/Cargo.toml --example seed_corpus -- \
    fuzz/corpus testdata
