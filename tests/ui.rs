// Compile-fail cases for the derive; trybuild needs a real compiler, so not under Miri.
#![cfg(all(feature = "derive", not(miri)))]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
