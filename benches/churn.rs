//! Criterion, workload `churn`: 50 root slots, 1M random new/link/unlink/drop ops, then drop all +
//! collect; all columns. The workload itself is `cyclegc_bench::workloads`; results and how to read
//! them: BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    cyclegc_bench::crit::bench_workload(c, "churn", cyclegc_bench::peers::ALL);
}

criterion_group! {
    name = benches;
    config = cyclegc_bench::crit::config();
    targets = bench
}
criterion_main!(benches);
