//! Known-answer vectors for the crypto tests, each with its source. The record bytes were
//! taken from the RFC text or extracted with tshark from the public captures named (the
//! captures themselves stay in `../shared/corpus`); every record must authenticate, so a
//! mistyped byte fails its test instead of passing silently.

/// Hex to bytes, ignoring whitespace and separators (vectors are laid out as in the RFC).
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|c| match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => c - b'A' + 10,
        })
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// A record split into its 5-byte header and fragment.
pub(crate) fn split_record(rec: &[u8]) -> ([u8; 5], &[u8]) {
    let header: [u8; 5] = rec[..5].try_into().unwrap();
    (header, &rec[5..])
}

// RFC 8448 §3, "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256).
pub(crate) const RFC8448_CLIENT_HS_SECRET: &str =
    "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21";
pub(crate) const RFC8448_SERVER_HS_SECRET: &str =
    "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38";
pub(crate) const RFC8448_CLIENT_AP_SECRET: &str =
    "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5";
pub(crate) const RFC8448_SERVER_AP_SECRET: &str =
    "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";
pub(crate) const RFC8448_SERVER_HS_KEY: &str = "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc";
pub(crate) const RFC8448_SERVER_HS_IV: &str = "5d 31 3e b2 67 12 76 ee 13 00 0b 30";
pub(crate) const RFC8448_CLIENT_HS_KEY: &str = "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01";
pub(crate) const RFC8448_CLIENT_HS_IV: &str = "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f";
pub(crate) const RFC8448_SERVER_AP_KEY: &str = "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56";
pub(crate) const RFC8448_SERVER_AP_IV: &str = "cf 78 2b 88 dd 83 54 9a ad f1 e9 84";
pub(crate) const RFC8448_CLIENT_AP_KEY: &str = "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51";
pub(crate) const RFC8448_CLIENT_AP_IV: &str = "5b 78 92 3d ee 08 57 90 33 e5 23 d9";

/// The server's EncryptedExtensions starts the protected flight (its first 40 bytes).
pub(crate) const RFC8448_ENCRYPTED_EXTENSIONS: &str =
    "08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17
    00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 1c 00 02 40 01 00 00 00 00";
/// The server Finished ends it.
pub(crate) const RFC8448_SERVER_FINISHED: &str = "14 00 00 20 9b 9b 14 1d 90 63 37 fb d2 cb dc e7
    1d f4 de da 4a b4 2c 30 95 72 cb 7f ff ee 54 54 b7 8f 07 18";

/// {server} send handshake record: EE, Certificate, CertificateVerify, Finished (679 octets),
/// server handshake keys, seq 0.
pub(crate) const RFC8448_SERVER_HS_RECORD: &str = "
    17 03 03 02 a2 d1 ff 33 4a 56 f5 bf f6 59 4a 07 cc 87 b5 80 23 3f 50 0f 45 e4 89 e7
    f3 3a f3 5e df 78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca 07 61 2e f9 f9 45 cb 96
    0b 40 68 90 51 23 ea 78 b1 11 b4 29 ba 91 91 cd 05 d2 a3 89 28 0f 52 61 34 aa dc 7f
    c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79
    02 07 16 cf b9 b1 18 3e f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf 51 42
    73 25 25 0c 7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d 2e d6 5b 0e 3c dd 0c ba e8
    bf 2d 0b 22 78 12 cb b3 60 98 72 55 cc 74 41 10 c4 53 ba a4 fc d6 10 92 8d 80 98 10
    e4 b7 ed 1a 8f d9 91 f0 6a a6 24 82 04 79 7e 36 a6 a7 3b 70 a2 55 9c 09 ea d6 86 94
    5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8 94 41 ac 66 27 2f d8 fb 33 0e f8 19
    05 79 b3 68 45 96 c9 60 bd 59 6e ea 52 0a 56 a8 d6 50 f5 63 aa d2 74 09 96 0d ca 63
    d3 e6 88 61 1e a5 e2 2f 44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26 4e d6 54 0c
    84 83 8d 89 f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb 31 7b 66 d9 02 f4 f2 92 a3
    6a c1 b6 39 c6 37 ce 34 31 17 b6 59 62 22 45 31 7b 49 ee da 0c 62 58 f1 00 d7 d9 61
    ff b1 38 64 7e 92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e 1b 7a 6c 71 78 af 36 87
    90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84 c8 b0 37 8b f3 02 44 da 8c 87 c8 43
    f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4
    61 e6 6f 99 88 2b d8 9f c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80 f8 5d
    f8 81 ed be 5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69 18 a3 96 fa 48 a1 81 d6 b6
    fa 4f 9d 62 d5 13 af bb 99 2f 2b 99 2f 67 f8 af e6 7f 76 91 3f a3 88 cb 56 30 c8 ca
    01 e0 c6 5d 11 c6 6a 1e 2a c4 c8 59 77 b7 c7 a6 99 9b bf 10 dc 35 ae 69 f5 51 56 14
    63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38 eb ba 42 f3 b3 8e dc 03 99 f3 a9 f2
    3f aa 63 97 8c 31 7f c9 fa 66 a7 3f 60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee
    34 0b bc 4f dd d5 02 78 40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5 d2 af 93 98
    28 fd 4a e3 79 4e 44 f9 4d f5 a6 31 ed e4 2c 17 19 bf da bf 02 53 fe 51 75 be 89 8e
    75 0e dc 53 37 0d 2b";

/// {client} send handshake record: Finished, client handshake keys, seq 0.
pub(crate) const RFC8448_CLIENT_FINISHED_RECORD: &str = "17 03 03 00 35 75 ec 4d c2 38 cc e6 0b
    29 80 44 a7 1e 21 9c 56 cc 77 b0 51 7f e9 b9 3c 7a 4b fc 44 d8 7f 38 f8 03 38 ac 98 fc 46
    de b3 84 bd 1c ae ac ab 68 67 d7 26 c4 05 46";

/// {client} send application_data record: 00 01 … 31 (50 octets), client app keys, seq 0.
pub(crate) const RFC8448_CLIENT_APP_RECORD: &str = "
    17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea
    42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b
    62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4";

/// {server} send application_data record: the same 50 octets, server app keys, seq 1 (the
/// NewSessionTicket took seq 0).
pub(crate) const RFC8448_SERVER_APP_RECORD: &str = "
    17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc
    32 25 d0 5f 82 aa 1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8
    fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d";

/// RFC 8448's server application secret after one KeyUpdate ("traffic upd"), and that
/// epoch's key and IV: computed independently with Python's `hmac`/`hashlib` (RFC 5869
/// HKDF-Expand written out by hand), not by this crate.
pub(crate) const RFC8448_SERVER_AP_SECRET_1: &str =
    "51921b8aa3001976eb401d0a4319a8516416a6c56001a357e5d162031e84f916";
pub(crate) const RFC8448_SERVER_AP_KEY_1: &str = "2e63be99d67b39097feb9786cf7a15a0";
pub(crate) const RFC8448_SERVER_AP_IV_1: &str = "628a0a8298ac953baef4255a";

// The illustrated TLS 1.3 capture (`it13_tls13-capture.pcap`, TLS_AES_256_GCM_SHA384), its
// key log `it13_tls13-capture.keylog`; records extracted with tshark.
pub(crate) const IT13_SERVER_HS_SECRET: &str = "23323da031634b241dd37d61032b62a4f450584d1f7f47983ba2f7cc0cdcc39a68f481f2b019f9403a3051908a5d1622";
pub(crate) const IT13_CLIENT_HS_SECRET: &str = "db89d2d6df0e84fed74a2288f8fd4d0959f790ff23946cdf4c26d85e51bebd42ae184501972f8d30c4a3e4a3693d0ef0";
pub(crate) const IT13_SERVER_AP_SECRET: &str = "86c967fd7747a36a0685b4ed8d0e6b4c02b4ddaf3cd294aa44e9f6b0183bf911e89a189ba5dfd71fccffb5cc164901f8";
pub(crate) const IT13_CLIENT_AP_SECRET: &str = "9e47af27cb60d818a9ea7d233cb5ed4cc525fcd74614fb24b0ee59acb8e5aa7ff8d88b89792114208fec291a6fa96bad";
/// Server handshake seq 0: EncryptedExtensions (frame 7).
pub(crate) const IT13_SERVER_EE_RECORD: &str =
    "17030300176be02f9da7c2dc9ddef56f2468b90adfa25101ab0344ae";
/// Client handshake seq 0: Finished (frame 9).
pub(crate) const IT13_CLIENT_FINISHED_RECORD: &str = "17030300459ff9b063175177322a46dd9896f3c3bb820ab51743ebc25fdadd53454b73deb54cc7248d411a18bccf657a960824e9a19364837c350a69a88d4bf635c85eb874aebc9dfde8";
/// Client application seq 0: "ping" (frame 11).
pub(crate) const IT13_CLIENT_PING_RECORD: &str =
    "1703030015828139cb7b73aaabf5b82fbf9a2961bcde10038a32";
/// Server application seq 2 (after two NewSessionTickets): "pong" (frame 17).
pub(crate) const IT13_SERVER_PONG_RECORD: &str =
    "17030300150cda85f1447ae23fa66d56f4c5408482b1b1d4c998";

// Zeek's `tls12-decryption.pcap` (TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384), its key log
// `zk_tls12-decryption.keylog`; hello randoms and records extracted with tshark.
pub(crate) const ZK_CLIENT_RANDOM: &str =
    "4d98940fb40a244b48e42eac287144b1b7393057caa131f961a78e38b0e77c1e";
pub(crate) const ZK_SERVER_RANDOM: &str =
    "1a53a25de65a4d2d7b2c4148ea48a74d103ad79d730ea6ce51960adc8d80d943";
pub(crate) const ZK_MASTER_SECRET: &str = "bd01e589d105199e9ab5fc9bd758b5f288db28fd80aa02261e4765ac1357d007fd08c7bdab45450e015a01d08e5e7ca6";
/// Client seq 0: the encrypted Finished after ChangeCipherSpec (frame 8).
pub(crate) const ZK_CLIENT_FINISHED_RECORD: &str =
    "160303002800000000000000003c7754a9f447df08d63cef231ccd78306263eac3cf0ca73ad7e16315c9d5be31";
/// Client seq 1: the first application record, `GET / HTTP/1.1` to heise.de (frame 10).
pub(crate) const ZK_CLIENT_GET: &str = "\
    170303015b000000000000000171f7b367a259a51c24c3c4eb9552f658e4ca05e63c2e38e2027b2a68c217362332e67a\
    77548a1aaf5a44e3678fd30e0bf065d837cf5f94222f8c3603f4c3036cb1636b6dc54b5c915ee071d88fcc24851d1f0b\
    2cb1c9115301d9bad99d374fe297454cf246997e326870d224b0c46584fcc3919d01277a67f61b2ef034343800e57344\
    f7d8a51e0b5531b9d3fbaa937e7f77a9acb6440189645a42b86eae20f252dbb5acb66023460557e02d961db1a79345b6\
    2910f56bd8cdce068dbc8aa795862df0ab35da1a8d60965e5bc1d9beb3bdbad4b8d4bbfb9651d9603a23e741aa5d9e0a\
    a245b8a59b49a5428817bb36de96511503e62a30060102052bfe406b1b69463b1f0b5c42372116c7c96a50bdedfbcba2\
    c23007c5cbd2585a2609fbc0feb4b3b6609603dd604034bc88a6792ef771199cc7b5c3efb13572c23cce29f233ce52cd\
    8286708063f723653033c24c48fd6a5c";
