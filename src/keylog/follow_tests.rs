use std::io::Write;

use super::*;
use crate::keylog::{Label, LineProblem};

fn line(seed: u8) -> String {
    let random: String = (0..32).map(|i| format!("{:02x}", seed ^ i)).collect();
    let secret: String = (0..48)
        .map(|i| format!("{:02X}", seed.wrapping_add(i)))
        .collect();
    format!("CLIENT_RANDOM {random} {secret}\n")
}

fn append(path: &Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// The first byte of each entry's random since the last call (`line(seed)` has `seed` there).
fn poll(f: &mut Follower, rep: &mut ParseReport) -> Vec<u8> {
    let mut out = Vec::new();
    f.poll(&mut out, rep).unwrap();
    assert!(out.iter().all(|e| e.label == Label::ClientRandom));
    out.iter().map(|e| e.client_random[0]).collect()
}

#[test]
fn appended_lines_are_read_as_they_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.log");
    let l2 = line(2);
    append(&path, &format!("{}{}", line(1), &l2[..50]));
    let mut f = Follower::open(&path).unwrap();
    let mut rep = ParseReport::default();
    assert_eq!(f.state(), FollowState::Following);
    assert_eq!(poll(&mut f, &mut rep), [1], "the half line waits");
    assert!(f.caught_up());
    assert_eq!(poll(&mut f, &mut rep), [0u8; 0]);
    append(&path, &l2[50..]);
    assert_eq!(poll(&mut f, &mut rep), [2]);
    append(&path, &format!("{}{}", line(3), line(4)));
    assert_eq!(poll(&mut f, &mut rep), [3, 4]);
    assert_eq!(rep.total_problems(), 0, "{rep}");
    assert_eq!(f.reopens(), 0);
    assert_eq!(f.bytes_read(), fs::metadata(&path).unwrap().len());
    // A line never ended is parsed at finish only.
    append(&path, line(5).trim_end());
    assert_eq!(poll(&mut f, &mut rep), [0u8; 0]);
    let mut out = Vec::new();
    f.finish(&mut out, &mut rep);
    assert_eq!(out.len(), 1);
}

#[test]
fn a_truncated_file_is_read_again_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.log");
    append(&path, &format!("{}{}", line(1), line(2)));
    let mut f = Follower::open(&path).unwrap();
    let mut rep = ParseReport::default();
    assert_eq!(poll(&mut f, &mut rep), [1, 2]);
    // Truncated, seen empty, then written again.
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert_eq!(poll(&mut f, &mut rep), [0u8; 0]);
    assert_eq!(f.reopens(), 1);
    append(&path, &line(3));
    assert_eq!(poll(&mut f, &mut rep), [3]);
    // Truncated and rewritten longer between two polls: the changed start gives it away.
    fs::write(&path, format!("{}{}{}", line(7), line(8), line(9))).unwrap();
    assert_eq!(poll(&mut f, &mut rep), [7, 8, 9]);
    assert_eq!(f.reopens(), 2);
    assert_eq!(rep.total_problems(), 0, "{rep}");
}

#[test]
fn a_file_replaced_by_rename_is_read_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.log");
    append(&path, &line(1));
    let mut f = Follower::open(&path).unwrap();
    let mut rep = ParseReport::default();
    assert_eq!(poll(&mut f, &mut rep), [1]);
    // The same first line, longer: only the inode tells.
    let new = dir.path().join("keys.new");
    append(&new, &format!("{}{}", line(1), line(2)));
    fs::rename(&new, &path).unwrap();
    assert_eq!(poll(&mut f, &mut rep), [1, 2]);
    assert_eq!(f.reopens(), 1);
    assert_eq!(f.state(), FollowState::Following);
}

#[test]
fn a_deleted_file_is_read_while_unlinked_then_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.log");
    append(&path, &line(1));
    let mut f = Follower::open(&path).unwrap();
    let mut rep = ParseReport::default();
    assert_eq!(poll(&mut f, &mut rep), [1]);
    // A writer that holds the file open goes on appending after the unlink.
    let mut writer = fs::OpenOptions::new().append(true).open(&path).unwrap();
    fs::remove_file(&path).unwrap();
    writer.write_all(line(2).as_bytes()).unwrap();
    assert_eq!(poll(&mut f, &mut rep), [2]);
    assert_eq!(f.state(), FollowState::Unlinked);
    append(&path, &line(3));
    assert_eq!(poll(&mut f, &mut rep), [3]);
    assert_eq!(f.state(), FollowState::Following);
    assert_eq!(f.reopens(), 1);
}

#[test]
fn a_missing_file_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let mut f = Follower::open(&path).unwrap();
    let mut rep = ParseReport::default();
    assert_eq!(f.state(), FollowState::Missing);
    assert_eq!(poll(&mut f, &mut rep), [0u8; 0]);
    assert_eq!(f.state(), FollowState::Missing);
    append(&path, &line(4));
    assert_eq!(poll(&mut f, &mut rep), [4]);
    assert_eq!(f.state(), FollowState::Following);
    assert_eq!(f.reopens(), 0);
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Follower::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    // And when a directory later takes the path.
    let path = dir.path().join("keys.log");
    let mut f = Follower::open(&path).unwrap();
    fs::create_dir(&path).unwrap();
    assert!(f
        .poll(&mut Vec::new(), &mut ParseReport::default())
        .is_err());
}

#[test]
fn one_poll_reads_at_most_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.log");
    let text: String = (0..10).map(line).collect();
    append(&path, &text);
    let mut f = Follower::open(&path).unwrap();
    f.max_read = 300;
    let mut rep = ParseReport::default();
    let mut seen = Vec::new();
    let mut polls = 0;
    loop {
        let before = f.bytes_read();
        seen.extend(poll(&mut f, &mut rep));
        polls += 1;
        assert!(f.bytes_read() - before <= 300);
        if f.caught_up() {
            break;
        }
    }
    assert_eq!(seen, (0..10).collect::<Vec<u8>>());
    assert!(polls >= text.len() / 300, "{polls}");
    assert_eq!(rep.count(LineProblem::LineTooLong), 0);
}

#[test]
fn read_keylog_file_takes_a_last_line_without_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.log");
    append(&path, &format!("{}{}", line(1), line(2).trim_end()));
    let (mut out, mut rep) = (Vec::new(), ParseReport::default());
    read_keylog_file(&path, &mut out, &mut rep).unwrap();
    assert_eq!(out.len(), 2);
    assert!(read_keylog_file(&dir.path().join("none"), &mut out, &mut rep).is_err());
}
