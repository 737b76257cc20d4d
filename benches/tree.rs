//! Criterion, workload `tree`: Reclaim a 2^20-1 node binary tree with parent pointers; all columns
//! (depth 20: nobody overflows). The workload itself is `cyclegc_bench::workloads`; results and how
//! to read them: BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    cyclegc_bench::crit::bench_workload(c, "tree", cyclegc_bench::peers::ALL);
}

criterion_group! {
    name = benches;
    config = cyclegc_bench::crit::config();
    targets = bench
}
criterion_main!(benches);
