mod common;
use common::*;

#[test]
fn two_cycle() {
    let d0 = drops();
    let a = Node::new(1);
    let b = Node::new(2);
    Node::link(&a, &b);
    Node::link(&b, &a);
    drop(a);
    drop(b);
    assert_eq!(drops(), d0);
    assert_eq!(cyclegc::collect(), 2);
    assert_eq!(drops(), d0 + 2);
}
