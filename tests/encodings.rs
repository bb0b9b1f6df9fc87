//! Every way of passing the writer besides the flag and the env var: clap
//! (derive and builder), a JSON config file with serde, postcard bytes; and
//! junk in each, which is an error and never a panic.
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(all(feature = "clap", feature = "postcard"))]

mod support;

use dynamic_port::{DynamicPortWriter, ErrorKind};
use support::Role;
use support::{child, greeting, spawn_and_wait_for_port, to_hex, wait_with_deadline};

/// Spawns a `role` child given the writer by `prepare`, and checks that it
/// serves the port it reports.
fn child_serves(role: Role, prepare: impl FnOnce(&DynamicPortWriter, &mut std::process::Command)) {
    let (mut spawned, port) = spawn_and_wait_for_port(child(role), prepare);
    let port = port.unwrap_or_else(|e| panic!("{role}: {e}"));
    assert_eq!(greeting(port), support::port_line(port), "{role}");
    assert!(wait_with_deadline(&mut spawned).success(), "{role}");
}

#[test]
fn clap_derive_field_child() {
    child_serves(Role::ClapDerive, |writer, command| {
        writer.pass_to(command);
    });
}

#[test]
fn clap_builder_arg_child() {
    child_serves(Role::ClapArg, |writer, command| {
        writer.pass_to(command);
    });
}

#[test]
fn json_config_file_child() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("config-{}.json", std::process::id()));
    child_serves(Role::JsonConfig, |writer, command| {
        let config = support::Config {
            name: "json child".to_owned(),
            dynamic_port_writer: writer.clone(),
        };
        std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
        command.env("DP_TEST_CONFIG", &path);
        writer.inherit(command);
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn postcard_bytes_as_a_hex_argument_child() {
    child_serves(Role::PostcardHex, |writer, command| {
        command.args(["--writer-postcard", &to_hex(&writer.to_postcard())]);
        writer.inherit(command);
    });
}

#[test]
fn clap_reports_a_missing_or_malformed_flag_as_a_clap_error() {
    let command = clap::Command::new("server").arg(dynamic_port::clap::arg());
    let err = command
        .clone()
        .try_get_matches_from(["server"])
        .unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    assert!(err.to_string().contains("--dynamic-port-writer"), "{err}");

    let err = command
        .try_get_matches_from(["server", "--dynamic-port-writer", "7x"])
        .unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    assert!(
        err.to_string().contains("not a dynamic port writer"),
        "{err}"
    );
}

#[test]
fn clap_derive_field_parses_both_forms() {
    use clap::Parser;
    #[derive(Parser, Debug)]
    struct Cli {
        #[arg(long)]
        dynamic_port_writer: DynamicPortWriter,
    }
    let cli = Cli::try_parse_from(["s", "--dynamic-port-writer", "1000000:pipe:42"]).unwrap();
    assert_eq!(cli.dynamic_port_writer.to_string(), "1000000:pipe:42");
    let cli = Cli::try_parse_from(["s", "--dynamic-port-writer=1000001"]).unwrap();
    assert_eq!(cli.dynamic_port_writer.fd(), Some(1000001));
    let err = Cli::try_parse_from(["s"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
}

/// A writer named by text, for fds not open in this test process (so the
/// parse finds nothing to mark and the result does not depend on other tests).
fn named(text: &str) -> DynamicPortWriter {
    text.parse().unwrap()
}

#[test]
fn postcard_bytes_are_exactly_these() {
    // (fd as a u32 varint, pipe as Option<u64> varint): a change to the
    // format must show up here.
    assert_eq!(
        named("1000000:pipe:123456").to_postcard(),
        [0xc0, 0x84, 0x3d, 0x01, 0xc0, 0xc4, 0x07]
    );
    assert_eq!(named("1000000").to_postcard(), [0xc0, 0x84, 0x3d, 0x00]);
    assert_eq!(
        named("2147483647:pipe:18446744073709551615").to_postcard(),
        [
            0xff, 0xff, 0xff, 0xff, 0x07, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0x01
        ]
    );
    assert_eq!(
        named("2147483647:pipe:18446744073709551615")
            .to_postcard()
            .len(),
        DynamicPortWriter::MAX_POSTCARD_LEN
    );
}

#[test]
fn postcard_round_trips() {
    let (writer, _port) = DynamicPortWriter::create().unwrap();
    for writer in [writer, named("1000000:pipe:9"), named("1000000")] {
        let bytes = writer.to_postcard();
        assert!(bytes.len() <= DynamicPortWriter::MAX_POSTCARD_LEN);
        assert_eq!(DynamicPortWriter::from_postcard(&bytes).unwrap(), writer);
    }
}

#[test]
fn json_carries_the_text_and_accepts_a_bare_fd_number() {
    let writer = named("1000000:pipe:123456");
    assert_eq!(
        serde_json::to_string(&writer).unwrap(),
        r#""1000000:pipe:123456""#
    );
    let parsed: DynamicPortWriter = serde_json::from_str(r#""1000000:pipe:123456""#).unwrap();
    assert_eq!(parsed, writer);
    let bare: DynamicPortWriter = serde_json::from_str("1000000").unwrap();
    assert_eq!(bare.to_string(), "1000000");
}

#[test]
fn junk_postcard_bytes_are_malformed_writer_errors() {
    let junk: [&[u8]; 15] = [
        &[],
        &[0x80],                                     // truncated varint
        &[0x07],                                     // no option tag
        &[0x07, 0x02],                               // bad option tag
        &[0x07, 0x01],                               // no inode
        &[0x07, 0x01, 0x80],                         // truncated inode
        &[0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],       // u32 varint overflow
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00], // u32 varint far too long
        &[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00],       // fd 4294967295 > i32::MAX
        &[0x80, 0x80, 0x80, 0x80, 0x08, 0x00],       // fd 2147483648 > i32::MAX
        &[
            0x07, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
        ], // u64 overflow
        &[0x07, 0x00, 0x00],                         // trailing byte
        &[0x87, 0x00, 0x00],                         // padded varint for 7
        &[0x07; 17],                                 // over 16 bytes
        &[0x00; 1 << 20],                            // a megabyte
    ];
    for bytes in junk {
        let err = DynamicPortWriter::from_postcard(bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedWriter, "{bytes:x?}");
        assert!(err.to_string().contains("postcard"), "{err}");
    }
}

#[test]
fn random_postcard_bytes_never_panic() {
    // A quick deterministic sweep; the property tests try many more.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 20) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|i| (state >> (i % 8 * 8)) as u8 ^ i as u8)
            .collect();
        if let Ok(writer) = DynamicPortWriter::from_postcard(&bytes) {
            // Anything accepted re-encodes to the same bytes.
            assert_eq!(writer.to_postcard(), bytes);
        }
    }
}

#[test]
fn junk_json_is_an_error() {
    for junk in [
        "true",
        "null",
        "{}",
        "[]",
        "[7]",
        "[7, 1, 2]",
        "-1",
        "1.5",
        "1e100",
        "4294967296",
        "2147483648",
        r#""7x""#,
        r#""""#,
        r#""-1""#,
        r#""7:pipe:""#,
        r#"""#,
        r#"{"fd": 7}"#,
    ] {
        assert!(
            serde_json::from_str::<DynamicPortWriter>(junk).is_err(),
            "{junk}"
        );
    }
    let config = r#"{"name": "x", "dynamic_port_writer": "seven"}"#;
    let err = serde_json::from_str::<support::Config>(config).unwrap_err();
    assert!(
        err.to_string().contains("not a dynamic port writer"),
        "{err}"
    );
}
