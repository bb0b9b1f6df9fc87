//! The roles a child program plays: this test binary, run again by
//! [`child`](super::child), plays the [`Role`] named in [`ROLE_VAR`](super::ROLE_VAR).

#![allow(dead_code, unreachable_pub)]

use super::*;
use std::time::Duration;

/// Defines [`Role`] and its names, in one list.
macro_rules! roles {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// A part a child program plays; see each arm of [`play`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Role {
            $($(#[$doc])* $variant,)*
        }

        impl Role {
            /// The name the env var carries.
            pub fn name(self) -> &'static str {
                match self {
                    $(Role::$variant => $name,)*
                }
            }

            /// The role named `name`, if any.
            #[allow(clippy::should_implement_trait)]
            pub fn from_name(name: &str) -> Option<Role> {
                match name {
                    $($name => Some(Role::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

roles! {
    /// The `abort` role.
    Abort => "abort",
    /// The `clap-arg` role.
    ClapArg => "clap-arg",
    /// The `clap-derive` role.
    ClapDerive => "clap-derive",
    /// The `create-named-and-say-where` role.
    CreateNamedAndSayWhere => "create-named-and-say-where",
    /// The `exit` role.
    Exit => "exit",
    /// The `exit-nonzero` role.
    ExitNonzero => "exit-nonzero",
    /// The `from-env` role.
    FromEnv => "from-env",
    /// The `grandchild-then-report` role.
    GrandchildThenReport => "grandchild-then-report",
    /// The `grandchild-then-exit` role.
    GrandchildThenExit => "grandchild-then-exit",
    /// The `hang` role.
    Hang => "hang",
    /// The `json-config` role.
    JsonConfig => "json-config",
    /// The `panic` role.
    Panic => "panic",
    /// The `parent-then-killed` role.
    ParentThenKilled => "parent-then-killed",
    /// The `parent-then-killed-bash` role.
    ParentThenKilledBash => "parent-then-killed-bash",
    /// The `postcard-hex` role.
    PostcardHex => "postcard-hex",
    /// The `relay` role.
    Relay => "relay",
    /// The `report-then-exit` role.
    ReportThenExit => "report-then-exit",
    /// The `report-twice` role.
    ReportTwice => "report-twice",
    /// The `report-when-orphaned` role.
    ReportWhenOrphaned => "report-when-orphaned",
    /// The `report-when-told` role.
    ReportWhenTold => "report-when-told",
    /// The `report-when-told-default-sigpipe` role.
    ReportWhenToldDefaultSigpipe => "report-when-told-default-sigpipe",
    /// The `report-with-text` role.
    ReportWithText => "report-with-text",
    /// The `segv` role.
    Segv => "segv",
    /// The `serve` role.
    Serve => "serve",
    /// The `serve-any` role.
    ServeAny => "serve-any",
    /// The `remote-out-of-fds` role.
    RemoteOutOfFds => "remote-out-of-fds",
    /// The `serve-async-std` role.
    ServeAsyncStd => "serve-async-std",
    /// The `serve-smol` role.
    ServeSmol => "serve-smol",
    /// The `serve-tokio-mt` role.
    ServeTokioMt => "serve-tokio-mt",
    /// The `serve-tokio-ct` role.
    ServeTokioCt => "serve-tokio-ct",
    /// The `serve-two` role.
    ServeTwo => "serve-two",
    /// The `serve-v6` role.
    ServeV6 => "serve-v6",
    /// The `stale-text-over-foreign-pipe` role.
    StaleTextOverForeignPipe => "stale-text-over-foreign-pipe",
    /// A parent that starts a [`Server`](dynamic_port::Server) whose program
    /// starts a grandchild, says both pids, and waits to be killed.
    ServerThenWait => "server-then-wait",
    /// A parent that keeps a `Server` in a `static`, says its pids, and
    /// exits without dropping it.
    StaticServerThenExit => "static-server-then-exit",
}

/// The program of [`Role::ServerThenWait`] and [`Role::StaticServerThenExit`]:
/// a grandchild that says its pid, a line on stderr, a report, then waiting.
pub const SERVER_WITH_GRANDCHILD: &str = r#"
    sleep 300 &
    echo "GRANDCHILD: $!"
    echo "a line from the server's stderr" >&2
    echo 4000 >&"${2%%:*}"
    wait
"#;

/// A `Server` running [`SERVER_WITH_GRANDCHILD`], its pid said.
fn start_server_with_grandchild() -> dynamic_port::Server {
    let server = dynamic_port::Server::start(&mut bash(SERVER_WITH_GRANDCHILD)).unwrap();
    say("SERVER", server.id());
    server
}

/// The roles a child program can play.
pub(super) fn play(role: Role) {
    match role {
        Role::ServerThenWait => {
            let _server = start_server_with_grandchild();
            say("READY", 1);
            std::thread::sleep(Duration::from_secs(300));
        }
        Role::StaticServerThenExit => {
            static SERVER: std::sync::OnceLock<dynamic_port::Server> = std::sync::OnceLock::new();
            SERVER.get_or_init(start_server_with_grandchild);
            say("READY", 1);
            // Returns: the process exits, and statics are never dropped.
        }
        // Bind 127.0.0.1:0, report, serve one connection.
        Role::Serve => serve_one(given_writer().where_to_listen().unwrap()),
        Role::ServeV6 => serve_one(
            given_writer()
                .where_to_listen_on(std::net::Ipv6Addr::LOCALHOST.into())
                .unwrap(),
        ),
        // Two real listeners (admin on ::1 where there is IPv6), reported by
        // name; each answers one connection with its name and port.
        Role::ServeTwo => {
            let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let admin = std::net::TcpListener::bind("[::1]:0")
                .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            given_writer()
                .report_addrs(&[
                    ("http", http.local_addr().unwrap()),
                    ("admin", admin.local_addr().unwrap()),
                ])
                .unwrap();
            for (name, listener) in [("http", http), ("admin", admin)] {
                let (mut stream, _) = listener.accept().unwrap();
                let port = listener.local_addr().unwrap().port();
                write!(stream, "{name} {}", port_line(port)).unwrap();
            }
        }
        // Listen on every interface (as a server on another host would),
        // say when the report went, and serve one connection.
        // A parent of a remote writer that runs out of fds: it waits for a
        // report while it cannot accept, and says how much CPU that took.
        Role::RemoteOutOfFds => {
            let (writer, port) =
                DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
            let cpu = || {
                // SAFETY: getrusage fills the struct it is given.
                let usage = unsafe {
                    let mut usage = std::mem::zeroed::<libc::rusage>();
                    libc::getrusage(libc::RUSAGE_SELF, &mut usage);
                    usage
                };
                let time = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
                time(usage.ru_utime) + time(usage.ru_stime)
            };
            // No fd may be opened from here on: `accept` fails with EMFILE.
            // The lowest free fd number becomes the limit.
            // SAFETY: dup of stdin returns a new fd (the lowest free), closed at once.
            let lowest_free = unsafe {
                let fd = libc::dup(0);
                libc::close(fd);
                fd
            };
            // SAFETY: getrlimit fills the struct; setrlimit reads a valid one.
            unsafe {
                let mut limit = std::mem::zeroed::<libc::rlimit>();
                assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
                limit.rlim_cur = lowest_free as libc::rlim_t;
                assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
            }
            say("ADDR", writer.remote_addr().unwrap());
            wait_for_go(); // the parent has connected meanwhile
                           // Under wait(), then under an executor, a second each.
            let before = cpu();
            let result = port.timeout(Duration::from_secs(1)).wait();
            say("CPU_MS", ((cpu() - before) * 1000.0) as u64);
            say("RESULT", kind_name(&result));
            let (_writer, port) = {
                // An fd for the new listener, freed from the limit a moment.
                // SAFETY: an all-zero rlimit is valid; getrlimit fills it.
                let mut limit = unsafe { std::mem::zeroed::<libc::rlimit>() };
                // SAFETY: a valid, writable rlimit.
                unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
                let saved = limit;
                limit.rlim_cur += 16;
                // SAFETY: a valid rlimit.
                unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
                let made =
                    DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
                say("ADDR2", made.0.remote_addr().unwrap());
                // The reactor's own fds, made now, before the limit returns.
                futures::executor::block_on(async_io::Timer::after(Duration::from_millis(1)));
                // SAFETY: restores the saved limit.
                unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &saved) };
                made
            };
            wait_for_go();
            let before = cpu();
            let result = futures::executor::block_on(port.timeout(Duration::from_secs(1)));
            say("CPU_MS_AWAITED", ((cpu() - before) * 1000.0) as u64);
            say("RESULT_AWAITED", kind_name(&result));
        }
        Role::ServeAny => {
            let listener = given_writer()
                .where_to_listen_on(std::net::Ipv4Addr::UNSPECIFIED.into())
                .unwrap();
            let sent = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            say("REPORTED_AT", sent.as_nanos());
            serve_one(listener);
        }
        // Die before reporting, in every way.
        Role::Exit => std::process::exit(0),
        // Make a named writer, say where its directory is, and resolve it.
        Role::CreateNamedAndSayWhere => {
            let (writer, port) = DynamicPortWriter::create_named().unwrap();
            say("DIR", writer.path().unwrap().parent().unwrap().display());
            writer.report(80).unwrap();
            assert_eq!(port.wait().unwrap(), 80);
        }
        // Report a port without listening, then exit with code 7 at once.
        Role::ReportThenExit => {
            given_writer().report(4242).unwrap();
            std::process::exit(7)
        }
        Role::ExitNonzero => std::process::exit(3),
        Role::Panic => {
            // Quietly: this panic is the point, not a failure to report.
            std::panic::set_hook(Box::new(|_| {}));
            panic!("the child panics before reporting")
        }
        Role::Abort => std::process::abort(),
        Role::Segv => {
            // Rust's own SIGSEGV handler (for stack overflows) would swallow a
            // raised signal, so restore the default action first, as in C.
            // SAFETY: setting a disposition and raising a signal are sound;
            // SIGSEGV's default action kills the process.
            unsafe {
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::raise(libc::SIGSEGV);
            }
        }
        Role::Hang => {
            let _writer = given_writer();
            say("READY", "hanging");
            std::thread::sleep(SAFETY * 2);
        }
        // Parse, wait until told, then report and say how it went.
        Role::ReportWhenTold | Role::ReportWhenToldDefaultSigpipe => {
            if role == Role::ReportWhenToldDefaultSigpipe {
                default_sigpipe();
            }
            let writer = given_writer();
            say("READY", "waiting");
            wait_for_go();
            let result = writer.where_to_listen();
            say("REPORT", kind_name(&result));
            say("ALIVE", "after the report");
        }
        Role::ReportTwice => {
            let writer = given_writer();
            let copy = writer.clone();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            say("FIRST", kind_name(&writer.report(port)));
            say("SECOND", kind_name(&copy.report(port)));
            say("THIRD", kind_name(&given_writer().report(port)));
            serve_one(listener);
        }
        // Report through a writer text given in DP_TEST_TEXT instead of the real one.
        Role::ReportWithText => {
            let text = std::env::var("DP_TEST_TEXT").unwrap();
            let writer: DynamicPortWriter = text.parse().unwrap();
            say("REPORT", kind_name(&writer.report(4321)));
        }
        Role::FromEnv => say(
            "FROM_ENV",
            match DynamicPortWriter::from_env() {
                Ok(None) => "None".to_owned(),
                Ok(Some(writer)) => format!("Some({writer})"),
                Err(err) => format!("{:?}", err.kind()),
            },
        ),
        // Parse the writer, start a grandchild, and then report or die.
        Role::GrandchildThenReport | Role::GrandchildThenExit => {
            let writer = given_writer();
            let grandchild = Command::new("sleep")
                .arg("30")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            say("GRANDCHILD", grandchild.id());
            if role == Role::GrandchildThenReport {
                serve_one(writer.where_to_listen().unwrap());
            }
            std::mem::forget(grandchild); // outlive us; the test kills it
        }
        // Create a writer, drop it, put a foreign pipe at its fd number, and
        // report through the old text: nothing may reach the foreign pipe.
        Role::StaleTextOverForeignPipe => {
            let (writer, port) = DynamicPortWriter::create().unwrap();
            let (read_end, write_end) = raw_pipe(); // before the drop: other numbers
            let (text, fd) = (writer.to_string(), writer.fd().unwrap());
            drop((writer, port));
            // SAFETY: nothing in this single-test process owns `fd` any more.
            assert_eq!(unsafe { libc::dup2(write_end.as_raw_fd(), fd) }, fd);
            // SAFETY: dup2 made `fd` a new fd that only we own.
            let foreign = unsafe { OwnedFd::from_raw_fd(fd) };
            let stale: DynamicPortWriter = text.parse().unwrap();
            say("REPORT", kind_name(&stale.report(4321)));
            say("LEAKED", has_data(&read_end));
            drop(foreign);
        }
        // Pass the writer on to a grandchild, which serves.
        Role::Relay => {
            let writer = given_writer();
            let mut command = child(Role::Serve);
            writer.pass_to(&mut command);
            let mut grandchild = command.spawn().unwrap();
            drop(writer);
            assert!(wait_with_deadline(&mut grandchild).success());
        }
        // A parent that spawns a child that reports once the parent is gone
        // (a Rust child, or a bash one that ignores SIGPIPE), says so, and
        // waits to be killed.
        Role::ParentThenKilled | Role::ParentThenKilledBash => {
            let (writer, port) = DynamicPortWriter::create().unwrap();
            let mut command = if role == Role::ParentThenKilledBash {
                let mut bash = Command::new("bash");
                bash.args([
                    "-c",
                    r#"trap '' PIPE
                    while kill -0 "$DP_TEST_PARENT" 2>/dev/null; do sleep 0.01; done
                    echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}" 2>/dev/null
                    echo "REPORT: echo status $?"
                    echo "ALIVE: after the report""#,
                ]);
                bash
            } else {
                child(Role::ReportWhenOrphaned)
            };
            command
                .stdout(Stdio::inherit())
                .env("DP_TEST_PARENT", std::process::id().to_string());
            writer.pass_to_env(&mut command);
            let mut spawned = command.spawn().unwrap();
            drop(writer);
            say("CHILD", spawned.id());
            // The test kills us long before this ends.
            std::thread::sleep(SAFETY * 2);
            drop(port);
            spawned.wait().unwrap();
        }
        // Wait until our parent is gone (we are reparented), then report.
        Role::ReportWhenOrphaned => {
            let writer = given_writer();
            let parent: u32 = std::env::var("DP_TEST_PARENT").unwrap().parse().unwrap();
            let start = Instant::now();
            while std::os::unix::process::parent_id() == parent && start.elapsed() < SAFETY {
                std::thread::sleep(Duration::from_millis(2));
            }
            let result = writer.where_to_listen();
            say("REPORT", kind_name(&result));
            say("ALIVE", "after the report");
        }
        other => play_with_features(other),
    }
}

/// The roles that need a runtime or an encoding feature.
fn play_with_features(role: Role) {
    match role {
        #[cfg(feature = "rt-tokio")]
        Role::ServeTokioMt | Role::ServeTokioCt => {
            use tokio::io::AsyncWriteExt;
            let runtime = if role == Role::ServeTokioMt {
                tokio::runtime::Builder::new_multi_thread()
            } else {
                tokio::runtime::Builder::new_current_thread()
            }
            .enable_all()
            .build()
            .unwrap();
            runtime.block_on(async {
                let listener = dynamic_port::tokio::where_to_listen(given_writer())
                    .await
                    .unwrap();
                let port = listener.local_addr().unwrap().port();
                let (mut stream, _) = listener.accept().await.unwrap();
                let line = port_line(port);
                stream.write_all(line.as_bytes()).await.unwrap();
            });
        }
        #[cfg(feature = "rt-async-std")]
        Role::ServeAsyncStd => async_std::task::block_on(async {
            use async_std::io::WriteExt;
            let listener = dynamic_port::async_std::where_to_listen(given_writer())
                .await
                .unwrap();
            let port = listener.local_addr().unwrap().port();
            let (mut stream, _) = listener.accept().await.unwrap();
            let line = port_line(port);
            stream.write_all(line.as_bytes()).await.unwrap();
        }),
        #[cfg(feature = "rt-smol")]
        Role::ServeSmol => smol::block_on(async {
            use smol::io::AsyncWriteExt;
            let listener = dynamic_port::smol::where_to_listen(given_writer())
                .await
                .unwrap();
            let port = listener.local_addr().unwrap().port();
            let (mut stream, _) = listener.accept().await.unwrap();
            let line = port_line(port);
            stream.write_all(line.as_bytes()).await.unwrap();
        }),
        #[cfg(feature = "clap")]
        Role::ClapDerive => {
            use clap::Parser;
            #[derive(Parser)]
            struct Cli {
                #[arg(long)]
                dynamic_port_writer: DynamicPortWriter,
            }
            let args = std::iter::once("child".to_owned()).chain(child_args());
            let cli = Cli::parse_from(args);
            serve_one(cli.dynamic_port_writer.where_to_listen().unwrap());
        }
        #[cfg(feature = "clap")]
        Role::ClapArg => {
            let command = clap::Command::new("child").arg(dynamic_port::clap::arg());
            let args = std::iter::once("child".to_owned()).chain(child_args());
            let matches = command.get_matches_from(args);
            let writer = matches
                .get_one::<DynamicPortWriter>("dynamic-port-writer")
                .unwrap()
                .clone();
            serve_one(writer.where_to_listen().unwrap());
        }
        #[cfg(feature = "serde")]
        Role::JsonConfig => {
            let path = std::env::var("DP_TEST_CONFIG").unwrap();
            let config: Config =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            assert_eq!(config.name, "json child");
            serve_one(config.dynamic_port_writer.where_to_listen().unwrap());
        }
        #[cfg(feature = "postcard")]
        Role::PostcardHex => {
            let args = child_args();
            assert_eq!(args[0], "--writer-postcard");
            let writer = DynamicPortWriter::from_postcard(&from_hex(&args[1])).unwrap();
            serve_one(writer.where_to_listen().unwrap());
        }
        other => panic!("the role {other:?} needs a feature this build lacks"),
    }
}
