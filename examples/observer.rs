//! Subjects and observers that hold strong references to each other: the subject notifies
//! its observers, and every observer keeps its subject alive. With `Rc` this leaks; here the
//! cycle collector reclaims it.
//!
//! Run with `cargo run --example observer`.

use std::cell::{Cell, RefCell};

use cyclegc::{Gc, Trace};

#[derive(Trace)]
struct Subject {
    name: String,
    observers: RefCell<Vec<Gc<Observer>>>,
}

#[derive(Trace)]
struct Observer {
    name: String,
    subject: Gc<Subject>, // a strong back-reference: subject <-> observer is a cycle
    seen: Cell<u32>,
}

impl Subject {
    fn new(name: &str) -> Gc<Subject> {
        Gc::new(Subject {
            name: name.to_owned(),
            observers: RefCell::new(Vec::new()),
        })
    }

    fn notify(&self, event: &str) {
        for observer in self.observers.borrow().iter() {
            observer.seen.set(observer.seen.get() + 1);
            println!(
                "{} saw {event:?} from {}",
                observer.name, observer.subject.name
            );
        }
    }
}

fn observe(subject: &Gc<Subject>, name: &str) -> Gc<Observer> {
    let observer = Gc::new(Observer {
        name: name.to_owned(),
        subject: subject.clone(),
        seen: Cell::new(0),
    });
    subject.observers.borrow_mut().push(observer.clone());
    observer
}

impl Drop for Observer {
    fn drop(&mut self) {
        // `self.subject` may already be destroyed: it is on the same garbage cycle.
        println!(
            "dropping observer {} after {} events",
            self.name,
            self.seen.get()
        );
    }
}

fn main() {
    let button = Subject::new("button");
    let logger = observe(&button, "logger");
    let _counter = observe(&button, "counter");
    button.notify("click");
    button.notify("click");
    println!("logger has seen {} events", logger.seen.get());

    println!("dropping every handle; the cycles keep each other alive ...");
    drop(logger);
    drop(_counter);
    drop(button);
    let stats = cyclegc::stats();
    println!("... until the collector runs:");
    let freed = cyclegc::collect();
    println!("collect() freed {freed} objects");
    assert_eq!(freed, 3);

    let after = cyclegc::stats();
    println!("{after:#?}");
    assert_eq!(after.collected, stats.collected + 3);
}
