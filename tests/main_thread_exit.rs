//! The main thread's exit (after `main` returns) runs the same exit collection as any
//! thread: garbage left behind is dropped, cycles dropped by thread-local destructors too,
//! and a panicking `Drop` there does not abort the process (DESIGN.md §4, §6).
//!
//! A test with its own `main` (`harness = false`), so that the scenario runs on the real
//! main thread. Natively it re-runs itself as a child process and checks what the child
//! printed and how it exited; under Miri (no processes) it runs the scenario itself, and
//! Miri checks that the process ends without an abort or a leak.

use std::cell::RefCell;
use std::io::Write;

use cyclegc::{Gc, Trace, Tracer};

const CHILD: &str = "CYCLEGC_MAIN_THREAD_EXIT_CHILD";

struct Node {
    name: &'static str,
    next: RefCell<Option<Gc<Node>>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        // Plain stderr writes: the output is what the parent checks.
        let _ = writeln!(std::io::stderr(), "dropped {}", self.name);
        if self.name == "panicking" {
            panic!("a garbage node panics in drop after main returned");
        }
    }
}

// SAFETY: reports its one owned `Gc`.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
}

fn cycle(first: &'static str, second: &'static str) -> Gc<Node> {
    let a = Gc::new(Node {
        name: first,
        next: RefCell::new(None),
    });
    let b = Gc::new(Node {
        name: second,
        next: RefCell::new(Some(a.clone())),
    });
    *a.next.borrow_mut() = Some(b);
    a
}

thread_local! {
    static KEEPER: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
}

/// Leaves garbage and a thread-local holding a cycle behind, then returns from `main`.
fn scenario() {
    KEEPER.with(|k| k.borrow().is_none()); // torn down after the collector's first hook
    drop(cycle("panicking", "garbage"));
    KEEPER.with(|k| *k.borrow_mut() = Some(cycle("kept", "kept too")));
}

fn main() {
    // Enough of libtest's command line for test runners (nextest lists tests first).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        if !args.iter().any(|arg| arg == "--ignored") {
            println!("main_thread_exit: test");
        }
        return;
    }
    if cfg!(miri) || std::env::var_os(CHILD).is_some() {
        scenario();
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the child failed: {output:?}");
    for name in ["panicking", "garbage", "kept", "kept too"] {
        assert!(
            stderr.lines().any(|line| line == format!("dropped {name}")),
            "{name} was not dropped at exit:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("panics in drop after main returned"),
        "{stderr}"
    );
    println!("main_thread_exit: ok");
}
