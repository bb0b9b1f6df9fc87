//! The roles a child program plays: this test binary, run again by
//! [`child`](super::child), plays the [`Role`] named in [`ROLE_VAR`](super::ROLE_VAR).
//!
//! Each role is one function below, in the order of the `roles!` list.
//! To add a role, add a line to the list (its doc, variant, name and
//! function) and write the function.
//!
//! The children say what they saw as `KEY: value` lines on stdout
//! ([`say`]); a parent finds them with [`marker`] or [`wait_for_marker`].

use super::*;
use std::time::Duration;

/// Defines [`Role`], the name of each role, and [`play`], from one list.
///
/// `every_build` lists the roles that any build plays; `with_features` the
/// ones that need a Cargo feature: their functions exist only with it, and
/// [`play_with_features`] panics for them in a build without it.
macro_rules! roles {
    (
        every_build {
            $($(#[$doc:meta])* $variant:ident => $name:literal, $play:ident;)*
        }
        with_features {
            $($(#[$feature_doc:meta])* $feature_variant:ident => $feature_name:literal,
                $feature_play:ident, feature = $feature:literal;)*
        }
    ) => {
        /// A part a child program plays; each variant's doc says what the child does.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Role {
            $($(#[$doc])* $variant,)*
            $($(#[$feature_doc])* $feature_variant,)*
        }

        impl Role {
            /// The name the env var carries.
            pub fn name(self) -> &'static str {
                match self {
                    $(Role::$variant => $name,)*
                    $(Role::$feature_variant => $feature_name,)*
                }
            }

            /// The role named `name`, if any.
            pub fn from_name(name: &str) -> Option<Role> {
                match name {
                    $($name => Some(Role::$variant),)*
                    $($feature_name => Some(Role::$feature_variant),)*
                    _ => None,
                }
            }
        }

        /// Plays `role`: runs its function.
        pub(super) fn play(role: Role) {
            match role {
                $(Role::$variant => $play(),)*
                other => play_with_features(other),
            }
        }

        /// Plays `role`, one that needs a feature: runs its function, or
        /// panics if this build lacks the feature.
        fn play_with_features(role: Role) {
            match role {
                $(
                    #[cfg(feature = $feature)]
                    Role::$feature_variant => $feature_play(),
                    #[cfg(not(feature = $feature))]
                    Role::$feature_variant => panic!(
                        "the role {} needs the feature {:?}, which this build lacks",
                        $feature_name, $feature,
                    ),
                )*
                other => unreachable!("the role {other} needs no feature"),
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
    every_build {
        // ---- serving children: they report, then answer one connection ----

        /// Binds 127.0.0.1:0 with `where_to_listen` and serves one connection.
        Serve => "serve", serve;
        /// Binds [::1]:0 with `where_to_listen_on` and serves one connection.
        ServeV6 => "serve-v6", serve_v6;
        /// Listens on every interface, says when it reported, and serves one connection.
        ServeAny => "serve-any", serve_any;
        /// Reports two named listeners, `http` and `admin`, and serves one connection on each.
        ServeTwo => "serve-two", serve_two;
        /// Passes its writer on to a `serve` grandchild and waits for it.
        Relay => "relay", relay;

        // ---- children that die before reporting ----

        /// Exits with code 0.
        Exit => "exit", exit;
        /// Exits with code 3.
        ExitNonzero => "exit-nonzero", exit_nonzero;
        /// Panics, quietly: exit code 101.
        Panic => "panic", panic;
        /// Aborts: SIGABRT kills it.
        Abort => "abort", abort;
        /// Raises SIGSEGV, which kills it.
        Segv => "segv", segv;
        /// Says it is ready and sleeps until killed, never reporting.
        Hang => "hang", hang;
        /// Starts a grandchild that outlives it, then serves one connection.
        GrandchildThenReport => "grandchild-then-report", grandchild_then_report;
        /// Starts a grandchild that outlives it, then exits without reporting.
        GrandchildThenExit => "grandchild-then-exit", grandchild_then_exit;

        // ---- children that report in odd ways, and say how it went ----

        /// Reports a port it does not listen on, then exits with code 7 at once.
        ReportThenExit => "report-then-exit", report_then_exit;
        /// Reports three times, through its writer and two copies; then serves.
        ReportTwice => "report-twice", report_twice;
        /// Reports when a line arrives on its stdin, and says how it went.
        ReportWhenTold => "report-when-told", report_when_told;
        /// Fills its inherited pipe (made nonblocking) and reports into it twice.
        ReportIntoAFullPipe => "report-into-a-full-pipe", report_into_a_full_pipe;
        /// `report-when-told` with SIGPIPE's default action (death), as a C program has it.
        ReportWhenToldDefaultSigpipe => "report-when-told-default-sigpipe",
            report_when_told_default_sigpipe;
        /// Reports once its parent is gone, and says how it went.
        ReportWhenOrphaned => "report-when-orphaned", report_when_orphaned;
        /// Reports through the writer text in `DP_TEST_TEXT`, not its own.
        ReportWithText => "report-with-text", report_with_text;
        /// Reports through the text of a dropped writer whose fd is now a foreign pipe.
        StaleTextOverForeignPipe => "stale-text-over-foreign-pipe", stale_text_over_foreign_pipe;
        /// Says what `DynamicPortWriter::from_env` returns.
        FromEnv => "from-env", from_env;
        /// Makes a named writer of its own, says its directory, and reports through it.
        CreateNamedAndSayWhere => "create-named-and-say-where", create_named_and_say_where;

        // ---- parents: the child program is itself a parent ----

        /// A parent whose child reports once the parent is gone; waits to be killed.
        ParentThenKilled => "parent-then-killed", parent_then_killed;
        /// `parent-then-killed`, with a bash child that ignores SIGPIPE.
        ParentThenKilledBash => "parent-then-killed-bash", parent_then_killed_bash;
        /// A parent of a remote writer, out of fds, that says how much CPU its wait took.
        RemoteOutOfFds => "remote-out-of-fds", remote_out_of_fds;
        /// A parent of a `Server` with a grandchild; waits to be killed.
        ServerThenWait => "server-then-wait", server_then_wait;
        /// A parent that keeps a `Server` in a `static` and exits without dropping it.
        StaticServerThenExit => "static-server-then-exit", static_server_then_exit;
    }
    with_features {
        /// `serve` under a multi-thread tokio runtime, with `dynamic_port::tokio`.
        ServeTokioMt => "serve-tokio-mt", serve_tokio_multi_thread, feature = "rt-tokio";
        /// `serve` under a current-thread tokio runtime, with `dynamic_port::tokio`.
        ServeTokioCt => "serve-tokio-ct", serve_tokio_current_thread, feature = "rt-tokio";
        /// `serve` under async-std, with `dynamic_port::async_std`.
        ServeAsyncStd => "serve-async-std", serve_async_std, feature = "rt-async-std";
        /// `serve` under smol, with `dynamic_port::smol`.
        ServeSmol => "serve-smol", serve_smol, feature = "rt-smol";
        /// Reads its writer through a clap `#[derive(Parser)]` field, then serves.
        ClapDerive => "clap-derive", clap_derive, feature = "clap";
        /// Reads its writer through clap's builder and `dynamic_port::clap::arg()`, then serves.
        ClapArg => "clap-arg", clap_arg, feature = "clap";
        /// Reads its writer from a JSON config file, then serves.
        JsonConfig => "json-config", json_config, feature = "serde";
        /// Reads its writer from postcard bytes in hex, then serves.
        PostcardHex => "postcard-hex", postcard_hex, feature = "postcard";
    }
}

// ---- serving children ----

/// [`Role::Serve`]: binds 127.0.0.1:0 with `where_to_listen`, which reports
/// its port, and serves one connection with [`port_line`].
fn serve() {
    serve_one(given_writer().where_to_listen().unwrap());
}

/// [`Role::ServeV6`]: binds [::1]:0 with `where_to_listen_on`, which reports
/// its port, and serves one connection.
fn serve_v6() {
    serve_one(
        given_writer()
            .where_to_listen_on(std::net::Ipv6Addr::LOCALHOST.into())
            .unwrap(),
    );
}

/// [`Role::ServeAny`]: listens on every interface (as a server on another
/// host would), says when the report went (`REPORTED_AT`, in nanoseconds
/// since the epoch), and serves one connection.
fn serve_any() {
    let listener = given_writer()
        .where_to_listen_on(std::net::Ipv4Addr::UNSPECIFIED.into())
        .unwrap();
    let sent = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    say("REPORTED_AT", sent.as_nanos());
    serve_one(listener);
}

/// [`Role::ServeTwo`]: binds `http` on 127.0.0.1 and `admin` on ::1
/// (127.0.0.1 where there is no IPv6), reports both by name, and answers one
/// connection on each with its name and port.
fn serve_two() {
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

/// [`Role::Relay`]: passes its writer on to a [`Role::Serve`] grandchild,
/// drops its own, and waits for the grandchild to succeed.
fn relay() {
    let writer = given_writer();
    let mut command = child(Role::Serve);
    writer.pass_to(&mut command);
    let mut grandchild = command.spawn().unwrap();
    drop(writer);
    assert!(wait_with_deadline(&mut grandchild).success());
}

// ---- children that die before reporting ----

/// [`Role::Exit`]: exits with code 0 before reporting.
fn exit() {
    std::process::exit(0)
}

/// [`Role::ExitNonzero`]: exits with code 3 before reporting.
fn exit_nonzero() {
    std::process::exit(3)
}

/// [`Role::Panic`]: panics before reporting, without printing the panic:
/// exit code 101.
fn panic() {
    // Quietly: this panic is the point, not a failure to report.
    std::panic::set_hook(Box::new(|_| {}));
    panic!("the child panics before reporting")
}

/// [`Role::Abort`]: aborts before reporting (SIGABRT).
fn abort() {
    std::process::abort()
}

/// [`Role::Segv`]: dies of SIGSEGV before reporting.
fn segv() {
    // Rust's own SIGSEGV handler (for stack overflows) would swallow a
    // raised signal, so restore the default action first, as in C.
    // SAFETY: setting a disposition and raising a signal are sound;
    // SIGSEGV's default action kills the process.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
}

/// [`Role::Hang`]: parses its writer, says `READY`, and sleeps twice
/// [`SAFETY`] without reporting; the test kills it.
fn hang() {
    let _writer = given_writer();
    say("READY", "hanging");
    std::thread::sleep(SAFETY * 2);
}

/// [`Role::GrandchildThenReport`]: parses its writer, starts a
/// [sleeping grandchild](start_sleeping_grandchild), then serves one connection.
fn grandchild_then_report() {
    let writer = given_writer();
    let grandchild = start_sleeping_grandchild();
    serve_one(writer.where_to_listen().unwrap());
    std::mem::forget(grandchild); // outlive us; the test kills it
}

/// [`Role::GrandchildThenExit`]: parses its writer, starts a
/// [sleeping grandchild](start_sleeping_grandchild), then exits without reporting.
fn grandchild_then_exit() {
    let _writer = given_writer();
    let grandchild = start_sleeping_grandchild();
    std::mem::forget(grandchild); // outlive us; the test kills it
}

/// Starts a `sleep 30` grandchild, which inherits the writer, and says its
/// pid (`GRANDCHILD`).
fn start_sleeping_grandchild() -> Child {
    let grandchild = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    say("GRANDCHILD", grandchild.id());
    grandchild
}

// ---- children that report in odd ways ----

/// [`Role::ReportThenExit`]: reports port 4242 without listening, then exits
/// with code 7 at once.
fn report_then_exit() {
    given_writer().report(4242).unwrap();
    std::process::exit(7)
}

/// [`Role::ReportTwice`]: reports a listener's port through its writer, a
/// clone, and the writer parsed again, saying each result (`FIRST`,
/// `SECOND`, `THIRD`); then serves one connection.
fn report_twice() {
    let writer = given_writer();
    let copy = writer.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    say("FIRST", kind_name(&writer.report(port)));
    say("SECOND", kind_name(&copy.report(port)));
    say("THIRD", kind_name(&given_writer().report(port)));
    serve_one(listener);
}

/// [`Role::ReportWhenTold`]: parses its writer, says `READY`, waits for a line
/// on stdin, then reports (`where_to_listen`), says the result (`REPORT`) and
/// that it is still alive (`ALIVE`).
fn report_when_told() {
    let writer = given_writer();
    // A pipe writer's fd; a named writer has none.
    let fd = writer.fd();
    say("READY", "waiting");
    wait_for_go();
    let result = writer.where_to_listen();
    say("REPORT", kind_name(&result));
    say("FD_OPEN", fd.map_or("none", fd_open));
    say("ALIVE", "after the report");
}

/// Whether fd `fd` is open in this process.
fn fd_open(fd: i32) -> &'static str {
    // SAFETY: F_GETFD takes no pointers; a closed fd is EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        "no"
    } else {
        "yes"
    }
}

/// [`Role::ReportIntoAFullPipe`]: makes its inherited pipe nonblocking,
/// fills it (the parent does not read), then reports twice, saying what
/// each report returned and whether the fd is still open after each: a
/// write that failed is not a report, so the fd stays for another try.
fn report_into_a_full_pipe() {
    let writer = given_writer();
    let fd = writer.fd().unwrap();
    // SAFETY: F_GETFL/F_SETFL take no pointers; `fd` is the inherited pipe.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let filler = [b'\n'; 4096];
    // SAFETY: `filler` is valid for its length.
    while unsafe { libc::write(fd, filler.as_ptr().cast(), filler.len()) } > 0 {}
    let copy = writer.clone();
    say("FIRST", kind_name(&writer.report(4000)));
    say("FIRST_FD_OPEN", fd_open(fd));
    say("SECOND", kind_name(&copy.report(4000)));
    say("SECOND_FD_OPEN", fd_open(fd));
}

/// [`Role::ReportWhenToldDefaultSigpipe`]: [`report_when_told`] with
/// SIGPIPE's default action (death), as a C program has it.
fn report_when_told_default_sigpipe() {
    default_sigpipe();
    report_when_told();
}

/// [`Role::ReportWhenOrphaned`]: waits until its parent (the pid in
/// `DP_TEST_PARENT`) is gone and it is reparented, then reports
/// (`where_to_listen`), says the result (`REPORT`) and that it is still alive
/// (`ALIVE`).
fn report_when_orphaned() {
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

/// [`Role::ReportWithText`]: reports port 4321 through the writer text given
/// in `DP_TEST_TEXT` instead of its own, and says the result (`REPORT`).
fn report_with_text() {
    let text = std::env::var("DP_TEST_TEXT").unwrap();
    let writer: DynamicPortWriter = text.parse().unwrap();
    say("REPORT", kind_name(&writer.report(4321)));
}

/// [`Role::StaleTextOverForeignPipe`]: makes a pipe writer of its own and
/// drops it, puts a foreign pipe at its fd number, and reports through the
/// old text; says the result (`REPORT`) and whether anything reached the
/// foreign pipe (`LEAKED`): nothing may.
fn stale_text_over_foreign_pipe() {
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

/// [`Role::FromEnv`]: says what `DynamicPortWriter::from_env` returns
/// (`FROM_ENV`): `None`, `Some(TEXT)` or the error's kind.
fn from_env() {
    say(
        "FROM_ENV",
        match DynamicPortWriter::from_env() {
            Ok(None) => "None".to_owned(),
            Ok(Some(writer)) => format!("Some({writer})"),
            Err(err) => format!("{:?}", err.kind()),
        },
    );
}

/// [`Role::CreateNamedAndSayWhere`]: makes a named writer of its own, says
/// its directory (`DIR`), reports 80 through it and checks that its future
/// resolves to 80.
fn create_named_and_say_where() {
    let (writer, port) = DynamicPortWriter::create_named().unwrap();
    say("DIR", writer.path().unwrap().parent().unwrap().display());
    writer.report(80).unwrap();
    assert_eq!(port.wait().unwrap(), 80);
}

// ---- parents ----

/// [`Role::ParentThenKilled`]: a parent that [spawns](spawn_then_wait_to_be_killed)
/// a [`Role::ReportWhenOrphaned`] child and waits to be killed.
fn parent_then_killed() {
    spawn_then_wait_to_be_killed(child(Role::ReportWhenOrphaned));
}

/// [`Role::ParentThenKilledBash`]: a parent that
/// [spawns](spawn_then_wait_to_be_killed) a bash child and waits to be killed.
/// The child ignores SIGPIPE, waits until this parent is gone, reports 8080
/// with `echo`, and says echo's status (`REPORT`) and that it is still alive
/// (`ALIVE`).
fn parent_then_killed_bash() {
    let mut bash = Command::new("bash");
    bash.args([
        "-c",
        r#"trap '' PIPE
        while kill -0 "$DP_TEST_PARENT" 2>/dev/null; do sleep 0.01; done
        echo 8080 >&"${DYNAMIC_PORT_WRITER%%:*}" 2>/dev/null
        echo "REPORT: echo status $?"
        echo "ALIVE: after the report""#,
    ]);
    spawn_then_wait_to_be_killed(bash);
}

/// Spawns `command` with a new pipe writer in its env var, its stdout ours
/// and our pid in `DP_TEST_PARENT`; drops our writer, says the child's pid
/// (`CHILD`), and sleeps until the test kills us.
fn spawn_then_wait_to_be_killed(mut command: Command) {
    let (writer, port) = DynamicPortWriter::create().unwrap();
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

/// [`Role::RemoteOutOfFds`]: a parent of a remote writer that runs out of
/// fds. It waits a second for a report while it cannot accept, under `wait()`
/// and then under an executor, and says how much CPU each wait took
/// (`CPU_MS`, `CPU_MS_AWAITED`) and how it ended (`RESULT`, `RESULT_AWAITED`).
/// It says each listener's address (`ADDR`, `ADDR2`) and waits for a line on
/// stdin (the parent has connected) before each wait.
fn remote_out_of_fds() {
    let (writer, port) = DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
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
        let made = DynamicPortWriter::create_remote("127.0.0.1:0".parse().unwrap()).unwrap();
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

/// The program of [`Role::ServerThenWait`] and [`Role::StaticServerThenExit`]:
/// a grandchild that says its pid, a line on stderr, a report, then waiting.
pub const SERVER_WITH_GRANDCHILD: &str = r#"
    sleep 300 &
    echo "GRANDCHILD: $!"
    echo "a line from the server's stderr" >&2
    echo 4000 >&"${2%%:*}"
    wait
"#;

/// A `Server` running [`SERVER_WITH_GRANDCHILD`], its pid said (`SERVER`).
fn start_server_with_grandchild() -> dynamic_port::Server {
    let server = dynamic_port::Server::start(&mut bash(SERVER_WITH_GRANDCHILD)).unwrap();
    say("SERVER", server.id());
    server
}

/// [`Role::ServerThenWait`]: a parent that starts a
/// [`Server`](dynamic_port::Server) running [`SERVER_WITH_GRANDCHILD`], says
/// both pids (the script says `GRANDCHILD` on the stdout they share, then
/// this parent says `SERVER`) and `READY`, and waits to be killed.
fn server_then_wait() {
    let _server = start_server_with_grandchild();
    say("READY", 1);
    std::thread::sleep(Duration::from_secs(300));
}

/// [`Role::StaticServerThenExit`]: a parent that keeps a `Server` running
/// [`SERVER_WITH_GRANDCHILD`] in a `static`, says both pids (as
/// [`server_then_wait`] does) and `READY`, and exits without dropping it.
fn static_server_then_exit() {
    static SERVER: std::sync::OnceLock<dynamic_port::Server> = std::sync::OnceLock::new();
    SERVER.get_or_init(start_server_with_grandchild);
    say("READY", 1);
    // Returns: the process exits, and statics are never dropped.
}

// ---- roles that need a feature ----

/// [`Role::ServeTokioMt`]: [`serve_tokio`] under a multi-thread runtime.
#[cfg(feature = "rt-tokio")]
fn serve_tokio_multi_thread() {
    serve_tokio(tokio::runtime::Builder::new_multi_thread());
}

/// [`Role::ServeTokioCt`]: [`serve_tokio`] under a current-thread runtime.
#[cfg(feature = "rt-tokio")]
fn serve_tokio_current_thread() {
    serve_tokio(tokio::runtime::Builder::new_current_thread());
}

/// What [`Role::ServeTokioMt`] and [`Role::ServeTokioCt`] do, under the
/// runtime `builder` builds.
#[cfg(feature = "rt-tokio")]
fn serve_tokio(mut builder: tokio::runtime::Builder) {
    use tokio::io::AsyncWriteExt;
    let runtime = builder.enable_all().build().unwrap();
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

/// [`Role::ServeAsyncStd`]: under async-std, binds with
/// `dynamic_port::async_std::where_to_listen`, which reports, and serves one
/// connection.
#[cfg(feature = "rt-async-std")]
fn serve_async_std() {
    async_std::task::block_on(async {
        use async_std::io::WriteExt;
        let listener = dynamic_port::async_std::where_to_listen(given_writer())
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mut stream, _) = listener.accept().await.unwrap();
        let line = port_line(port);
        stream.write_all(line.as_bytes()).await.unwrap();
    });
}

/// [`Role::ServeSmol`]: under smol, binds with
/// `dynamic_port::smol::where_to_listen`, which reports, and serves one
/// connection.
#[cfg(feature = "rt-smol")]
fn serve_smol() {
    smol::block_on(async {
        use smol::io::AsyncWriteExt;
        let listener = dynamic_port::smol::where_to_listen(given_writer())
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mut stream, _) = listener.accept().await.unwrap();
        let line = port_line(port);
        stream.write_all(line.as_bytes()).await.unwrap();
    });
}

/// [`Role::ClapDerive`]: parses its arguments with a clap `#[derive(Parser)]`
/// struct whose field `dynamic_port_writer` takes the writer, then serves one
/// connection.
#[cfg(feature = "clap")]
fn clap_derive() {
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

/// [`Role::ClapArg`]: parses its arguments with a clap builder given
/// `dynamic_port::clap::arg()`, then serves one connection.
#[cfg(feature = "clap")]
fn clap_arg() {
    let command = clap::Command::new("child").arg(dynamic_port::clap::arg());
    let args = std::iter::once("child".to_owned()).chain(child_args());
    let matches = command.get_matches_from(args);
    let writer = matches
        .get_one::<DynamicPortWriter>("dynamic-port-writer")
        .unwrap()
        .clone();
    serve_one(writer.where_to_listen().unwrap());
}

/// [`Role::JsonConfig`]: reads the JSON [`Config`] file named in
/// `DP_TEST_CONFIG`, checks its `name`, and serves one connection through its
/// writer.
#[cfg(feature = "serde")]
fn json_config() {
    let path = std::env::var("DP_TEST_CONFIG").unwrap();
    let config: Config = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(config.name, "json child");
    serve_one(config.dynamic_port_writer.where_to_listen().unwrap());
}

/// [`Role::PostcardHex`]: takes its writer as postcard bytes, in hex after
/// `--writer-postcard`, and serves one connection.
#[cfg(feature = "postcard")]
fn postcard_hex() {
    let args = child_args();
    assert_eq!(args[0], "--writer-postcard");
    let writer = DynamicPortWriter::from_postcard(&from_hex(&args[1])).unwrap();
    serve_one(writer.where_to_listen().unwrap());
}
