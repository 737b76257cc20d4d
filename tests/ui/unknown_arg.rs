use cyclegc::Trace;

#[derive(Trace)]
struct S {
    #[trace(foo)]
    a: u8,
}

fn main() {}
