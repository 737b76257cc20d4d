//! A tree whose nodes know their parent through a `Weak`: no cycle of strong references, so
//! everything is freed by reference counting alone, the moment the root goes.
//!
//! Run with `cargo run --example tree`.

use std::cell::RefCell;

use cyclegc::{Gc, Trace, Weak};

#[derive(Trace)]
struct Node {
    name: String,
    parent: RefCell<Weak<Node>>,
    children: RefCell<Vec<Gc<Node>>>,
}

impl Node {
    fn new(name: &str) -> Gc<Node> {
        Gc::new(Node {
            name: name.to_owned(),
            parent: RefCell::new(Weak::new()),
            children: RefCell::new(Vec::new()),
        })
    }

    fn add_child(parent: &Gc<Node>, child: Gc<Node>) {
        *child.parent.borrow_mut() = Gc::downgrade(parent);
        parent.children.borrow_mut().push(child);
    }

    /// The path from the root, found by walking the parent pointers.
    fn path(&self) -> String {
        match self.parent.borrow().upgrade() {
            Some(parent) => format!("{}/{}", parent.path(), self.name),
            None => self.name.clone(),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        println!("dropping {}", self.name);
    }
}

fn main() {
    let root = Node::new("root");
    let usr = Node::new("usr");
    let bin = Node::new("bin");
    Node::add_child(&root, usr.clone());
    Node::add_child(&usr, bin.clone());
    Node::add_child(&root, Node::new("etc"));

    println!("{}", bin.path());
    println!(
        "root: {} strong, {} weak (one per child's parent pointer)",
        Gc::strong_count(&root),
        Gc::weak_count(&root)
    );

    drop((usr, bin));
    println!("dropping the root frees the whole tree:");
    drop(root);
    assert_eq!(cyclegc::collect(), 0, "nothing was left for the collector");
}
