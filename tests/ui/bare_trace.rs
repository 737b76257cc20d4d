use cyclegc::Trace;

#[derive(Trace)]
struct S {
    #[trace]
    a: u8,
    #[trace = "skip"]
    b: u8,
}

fn main() {}
