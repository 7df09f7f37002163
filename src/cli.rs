//! Command-line flags: parsing and validation only (ripgrep's split). `config` holds the
//! resolved values.
//!
//! HttShark's Go-style spellings keep working as its users typed them (`-device eth0`,
//! `-hosts=:80`, `-split-by-host=false`), as do `--device` and the rest.
