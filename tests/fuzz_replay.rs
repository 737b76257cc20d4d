//! Replays the seed corpus of the `ops` fuzz target (`fuzz/corpus/ops/`) through the same
//! harness, so that the differential oracle also runs in `cargo test` and under Miri.
//!
//! Natively every file of the corpus is replayed. Miri runs with isolation, so it cannot list
//! a directory: it replays the inputs embedded below (the native run checks that they still
//! match the files), with the harness's per-input work capped under `cfg(miri)`.

#[path = "../fuzz/src/harness.rs"]
mod harness;

/// The inputs Miri replays: every hand-written scenario, three random inputs and the
/// minimized crashes of fixed bugs (`regression-*`).
macro_rules! seeds {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../fuzz/corpus/ops/", $name)))),*]
    };
}
const MIRI_SEEDS: &[(&str, &[u8])] = seeds![
    "seed-cycle-alloc",
    "seed-cycle-bomb",
    "seed-cycle-collect",
    "seed-cycle-deref",
    "seed-cycle-panic",
    "seed-cycle-plain",
    "seed-cycle-stash",
    "seed-cycle-try-deref",
    "seed-disable",
    "seed-get-mut-dedup",
    "seed-get-mut-push-pop",
    "seed-get-mut-sort",
    "seed-make-mut",
    "seed-release-behaviours",
    "seed-release-chain",
    "seed-threshold",
    "seed-try-unwrap",
    "seed-unlink",
    "seed-weak",
    "seed-random-00",
    "seed-random-01",
    "seed-random-02",
    "regression-bomb-escape-leaves-garbage-undropped",
    "regression-bomb-payload-dropped-escapes",
    "regression-get-mut-dedup-collect-lying-trace",
    "regression-get-mut-sort-collect-lying-trace",
    "regression-two-bombs-abort-in-cleanup",
];

#[cfg(not(miri))]
#[test]
fn replay_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ops");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the seed corpus exists")
        .map(|entry| entry.expect("readable corpus directory").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty seed corpus in {}", dir.display());
    for (name, bytes) in MIRI_SEEDS {
        let on_disk = std::fs::read(dir.join(name)).expect("embedded seeds exist on disk");
        assert_eq!(&on_disk[..], *bytes, "embedded seed {name} is stale");
    }
    for file in files {
        let data = std::fs::read(&file).expect("readable corpus file");
        // Straight to stderr (not captured): an oracle failure aborts the process.
        let line = format!("replaying {}\n", file.display());
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        harness::run(&data);
    }
}

#[cfg(miri)]
#[test]
fn replay_corpus() {
    for (_, bytes) in MIRI_SEEDS {
        harness::run(bytes);
    }
}
