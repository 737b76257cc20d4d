//! Criterion, workload `deref`: Read the payload through one of 1024 pointers, 10M times; all
//! columns. The workload itself is `cyclegc_bench::workloads`; results and how to read them:
//! BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    cyclegc_bench::crit::bench_workload(c, "deref", cyclegc_bench::peers::ALL);
}

criterion_group! {
    name = benches;
    config = cyclegc_bench::crit::config();
    targets = bench
}
criterion_main!(benches);
