//! The key log parser and the pcapng Decryption Secrets Block walker on arbitrary bytes.
//! Input: the first byte picks a chunk size (1 to 256), the rest is the input. The rest is
//! parsed whole and in chunks of that size, which must give the same entries and report
//! (the parser's output does not depend on how the bytes arrive); every entry must have a
//! secret length its label allows; a bounded store takes them. The same bytes are walked
//! as a pcapng file: no panic, and the texts found are parsed in turn.

use crate::keylog::{scan_pcapng_secrets, KeyStore, ParseReport, Parser};

/// Runs one input; panics when an invariant above breaks.
pub fn check(data: &[u8]) {
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    let chunk = pick as usize + 1;

    let (mut whole, mut whole_rep) = (Vec::new(), ParseReport::default());
    let mut p = Parser::new();
    p.push(input, &mut whole, &mut whole_rep);
    p.finish(&mut whole, &mut whole_rep);

    let (mut split, mut split_rep) = (Vec::new(), ParseReport::default());
    let mut p = Parser::new();
    for c in input.chunks(chunk) {
        p.push(c, &mut split, &mut split_rep);
    }
    p.finish(&mut split, &mut split_rep);
    assert_eq!(whole, split, "entries depend on the chunking");
    assert_eq!(whole_rep, split_rep, "report depends on the chunking");
    assert_eq!(whole_rep.entries, whole.len() as u64);
    for e in &whole {
        assert!(e.label.secret_len_ok(e.secret.len()));
    }
    let _ = whole_rep.to_string();

    let mut store = KeyStore::with_limit(4);
    store.extend(whole);
    assert!(store.len() <= 4);

    let scan = scan_pcapng_secrets(input).expect("reading a slice cannot fail");
    let total: usize = scan.texts.iter().map(|t| t.len()).sum();
    assert!(total <= input.len());
    let (mut out, mut rep) = (Vec::new(), ParseReport::default());
    scan.parse(&mut out, &mut rep);
    assert_eq!(rep.entries, out.len() as u64);
}
