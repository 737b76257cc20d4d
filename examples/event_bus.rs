//! An event bus whose subscribers are trait objects (`Gc<dyn Subscriber>`, made with
//! `unsize!`) and hold the bus to publish follow-up events: every subscriber is on a cycle
//! through the bus. With `Rc<dyn Subscriber>` this leaks; here `collect()` reclaims it.
//!
//! Run with `cargo run --example event_bus`.

use std::cell::{Cell, RefCell};

use cyclegc::{unsize, Gc, Trace};

/// Something that reacts to events on a bus.
trait Subscriber: Trace {
    fn name(&self) -> &str;
    fn on_event(&self, event: &str);
}

#[derive(Trace)]
struct Bus {
    subscribers: RefCell<Vec<Gc<dyn Subscriber>>>,
    /// Events published while a delivery is running, delivered after it.
    queue: RefCell<Vec<String>>,
    delivered: Cell<u32>,
}

impl Bus {
    fn new() -> Gc<Bus> {
        Gc::new(Bus {
            subscribers: RefCell::new(Vec::new()),
            queue: RefCell::new(Vec::new()),
            delivered: Cell::new(0),
        })
    }

    fn subscribe(&self, subscriber: Gc<dyn Subscriber>) {
        self.subscribers.borrow_mut().push(subscriber);
    }

    /// Delivers `event`, and then every event the subscribers published meanwhile.
    fn publish(&self, event: &str) {
        self.queue.borrow_mut().push(event.to_owned());
        loop {
            let Some(event) = self.queue.borrow_mut().pop() else {
                break;
            };
            // Clone the list, so that subscribers may publish (or subscribe) while notified.
            let subscribers = self.subscribers.borrow().clone();
            for subscriber in &subscribers {
                subscriber.on_event(&event);
                self.delivered.set(self.delivered.get() + 1);
            }
        }
    }
}

/// Logs every event.
#[derive(Trace)]
struct Logger {
    bus: Gc<Bus>,
    lines: RefCell<Vec<String>>,
}

impl Subscriber for Logger {
    fn name(&self) -> &str {
        "logger"
    }
    fn on_event(&self, event: &str) {
        self.lines.borrow_mut().push(event.to_owned());
        println!("logger: {event}");
    }
}

/// Answers every "ping" with a "pong" on the same bus.
#[derive(Trace)]
struct Ponger {
    bus: Gc<Bus>,
}

impl Subscriber for Ponger {
    fn name(&self) -> &str {
        "ponger"
    }
    fn on_event(&self, event: &str) {
        if event == "ping" {
            self.bus.queue.borrow_mut().push("pong".to_owned());
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        println!("dropping the bus after {} deliveries", self.delivered.get());
    }
}

fn main() {
    let bus = Bus::new();
    let logger = Gc::new(Logger {
        bus: bus.clone(),
        lines: RefCell::new(Vec::new()),
    });
    bus.subscribe(unsize!(logger.clone() => dyn Subscriber));
    bus.subscribe(unsize!(Gc::new(Ponger { bus: bus.clone() }) => dyn Subscriber));

    bus.publish("ping");
    bus.publish("hello");
    assert_eq!(*logger.lines.borrow(), ["ping", "pong", "hello"]);
    let names: Vec<String> = bus
        .subscribers
        .borrow()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    println!("subscribers: {names:?}");

    // The bus and its subscribers keep each other alive.
    drop((bus, logger));
    let freed = cyclegc::collect();
    println!("collect() freed {freed} objects");
    assert_eq!(freed, 3, "the bus and both subscribers");
    let stats = cyclegc::stats();
    println!(
        "collections: {}, objects collected: {}",
        stats.collections, stats.collected
    );
}
