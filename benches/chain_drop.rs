//! Criterion, workload `chain`: Drop a 1M-node acyclic chain. Only the columns that survive it on
//! the 8 MiB main-thread stack: cyclegc (auto and manual). `Rc` and every peer overflow in drop (gc
//! in build); `peerbench` reports them. The workload itself is `cyclegc_bench::workloads`; results
//! and how to read them: BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    cyclegc_bench::crit::bench_workload(c, "chain", &["cyclegc", "cyclegc-manual"]);
}

criterion_group! {
    name = benches;
    config = cyclegc_bench::crit::config();
    targets = bench
}
criterion_main!(benches);
