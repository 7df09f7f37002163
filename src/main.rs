fn main() {
    todo!("cli")
}
