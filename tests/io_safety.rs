//! No safe call closes or writes through an fd the crate cannot show was
//! handed to it: a parsed writer naming an fd some other object owns leaves
//! that fd alone (std would abort with "IO Safety violation" otherwise).
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::fd::AsRawFd;

use dynamic_port::{DynamicPortWriter, ErrorKind};

/// The inode of the open file `fd`.
fn inode_of(fd: i32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .ino()
}

#[test]
fn a_writer_naming_a_std_pipe_of_this_process_refuses_and_leaves_it_open() {
    let (mut reader, mut writer) = std::io::pipe().unwrap();
    let fd = writer.as_raw_fd();
    for text in [fd.to_string(), format!("{fd}:pipe:{}", inode_of(fd))] {
        let parsed: DynamicPortWriter = text.parse().unwrap();
        // A bare fd that is a pipe's write end learns its pipe, and is not
        // the creator's.
        assert_eq!(parsed.to_string(), format!("{fd}:pipe:{}", inode_of(fd)));
        assert!(
            format!("{parsed:?}").contains("creator: false"),
            "{parsed:?}"
        );
        let err = parsed.report(4321).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotInherited, "{text}: {err}");
        assert!(err.to_string().contains("not inherited"), "{err}");
        let err = text
            .parse::<DynamicPortWriter>()
            .unwrap()
            .where_to_listen()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotInherited, "{text}: {err}");
    }
    // The pipe is untouched: still open, and nothing was written to it.
    writer.write_all(b"still mine\n").unwrap();
    drop(writer);
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, "still mine\n");
}

#[test]
fn a_writer_naming_a_file_of_this_process_refuses_and_leaves_it_open() {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("io-safety-{}", std::process::id()));
    let mut file = std::fs::File::create(&path).unwrap();
    let parsed: DynamicPortWriter = file.as_raw_fd().to_string().parse().unwrap();
    assert_eq!(
        parsed.report(80).unwrap_err().kind(),
        ErrorKind::NotInherited
    );
    file.write_all(b"ok").unwrap();
    drop(file);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "ok");
    std::fs::remove_file(path).unwrap();
}
