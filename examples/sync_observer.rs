//! Subjects and observers shared by worker threads: each observer holds its subject, the
//! subject holds its observers, and events arrive from several threads at once. With `Arc`
//! the subject/observer cycles leak when the last outside handle goes; here
//! `cyclegc::sync::collect()` reclaims them — from any thread, also for cycles whose last
//! handles were dropped on threads that have exited.
//!
//! Run with `cargo run --example sync_observer`.

// `cyclegc::sync` needs 64-bit atomics; on a target without them this example only says so.
#[cfg(not(target_has_atomic = "64"))]
fn main() {
    println!("cyclegc::sync needs 64-bit atomics, which this target does not have");
}

#[cfg(target_has_atomic = "64")]
fn main() {
    observers::main();
}

#[cfg(target_has_atomic = "64")]
mod observers {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;
    use std::thread;

    use cyclegc::sync::{self, Gc};
    use cyclegc::Trace;

    #[derive(Trace)]
    struct Subject {
        name: String,
        observers: Mutex<Vec<Gc<Observer>>>,
    }

    #[derive(Trace)]
    struct Observer {
        name: String,
        subject: Gc<Subject>, // a strong back-reference: subject <-> observer is a cycle
        #[trace(skip)]
        seen: AtomicU32,
    }

    impl Subject {
        fn new(name: &str) -> Gc<Subject> {
            Gc::new(Subject {
                name: name.to_owned(),
                observers: Mutex::new(Vec::new()),
            })
        }

        fn notify(&self) {
            // Clone the list out, so that no lock is held while observers run.
            let observers = self.observers.lock().unwrap().clone();
            for observer in observers {
                observer.seen.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn observe(subject: &Gc<Subject>, name: &str) -> Gc<Observer> {
        let observer = Gc::new(Observer {
            name: name.to_owned(),
            subject: subject.clone(),
            seen: AtomicU32::new(0),
        });
        subject.observers.lock().unwrap().push(observer.clone());
        observer
    }

    impl Drop for Observer {
        fn drop(&mut self) {
            // `self.subject` may already be destroyed (it is on the same garbage cycle): use
            // `try_deref`, which says so instead of panicking.
            let subject = Gc::try_deref(&self.subject).map_or("<collected>", |s| s.name.as_str());
            println!(
                "dropping observer {} of {subject} after {} events",
                self.name,
                self.seen.load(Ordering::Relaxed)
            );
        }
    }

    pub fn main() {
        let subjects: Vec<Gc<Subject>> = ["clicks", "keys"].map(Subject::new).into();
        let logger = observe(&subjects[0], "logger");
        observe(&subjects[0], "counter");
        observe(&subjects[1], "recorder");

        // Four workers send events to both subjects, then exit.
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let subjects = subjects.clone();
                thread::spawn(move || {
                    for _ in 0..1000 {
                        for subject in &subjects {
                            subject.notify();
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        println!(
            "logger on {} has seen {} events",
            logger.subject.name,
            logger.seen.load(Ordering::Relaxed)
        );
        assert_eq!(logger.seen.load(Ordering::Relaxed), 4000);

        println!("dropping every handle; the cycles keep each other alive ...");
        drop(logger);
        drop(subjects);
        // Collected on another thread, to show that any thread can.
        let freed = thread::spawn(sync::collect).join().unwrap();
        println!("... until sync::collect() freed {freed} objects");
        assert_eq!(freed, 5);
    }
}
