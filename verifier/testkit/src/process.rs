//! Running a child process to completion with a hard timeout and a hermetic
//! environment, so that a hang fails the test instead of stalling the suite
//! and the developer's own credentials can never leak into a test.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long any child may run unless a test says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Variables passed through from the test process; everything else is cleared.
/// `LLVM_PROFILE_FILE` keeps coverage runs working.
const PASSED_THROUGH: &[&str] = &["PATH", "TMPDIR", "LLVM_PROFILE_FILE"];

/// A command line to run once, builder style.
///
/// The environment is cleared except for `PATH`, `TMPDIR` and
/// `LLVM_PROFILE_FILE`; `HOME` points to a fresh temporary directory (so
/// `~/.docker/config.json` of whoever runs the tests is never read) unless
/// [`Proc::home`] sets another. Anything else a test needs (`SIGIL_PASSWORD`,
/// `DOCKER_CONFIG`, ...) it sets with [`Proc::env`]. Standard input is null
/// unless [`Proc::stdin`] gives bytes.
pub struct Proc {
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    home: Option<PathBuf>,
    current_dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

/// What a finished child left behind.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    /// The exit code; `None` when the child was ended by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The child ran longer than its timeout and was killed.
#[derive(Debug)]
pub struct TimedOut {
    pub command: String,
    pub timeout: Duration,
    /// Whatever the child had written before it was killed.
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` did not finish within {:?} and was killed (a hang is a bug)\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.timeout, self.stdout, self.stderr
        )
    }
}

impl Proc {
    /// A command running `program` (a path, or a name looked up in `PATH`).
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Proc {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            home: None,
            current_dir: None,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets one environment variable for the child (the last one set wins).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Uses `dir` as `HOME` instead of a fresh temporary directory, for tests
    /// that keep state there between runs.
    pub fn home(mut self, dir: impl AsRef<Path>) -> Self {
        self.home = Some(dir.as_ref().to_owned());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.current_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Feeds `bytes` to standard input, then closes it.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Kills the child and fails after `timeout` (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs the child to completion; panics with its output so far when it
    /// does not finish in time, and when it cannot be started at all.
    pub fn run(self) -> Output {
        match self.try_run() {
            Ok(output) => output,
            Err(timed_out) => panic!("{timed_out}"),
        }
    }

    /// Runs the child to completion, or kills it after the timeout. Panics when
    /// the program cannot be started.
    pub fn try_run(self) -> Result<Output, TimedOut> {
        let command_line = self.command_line();
        // Kept alive until the child is gone.
        let fresh_home;
        let home = match &self.home {
            Some(home) => home.clone(),
            None => {
                fresh_home = TempDir::with_prefix("sigil-e2e-home-").expect("create a temporary HOME");
                fresh_home.path().to_owned()
            }
        };

        let mut command = Command::new(&self.program);
        command.args(&self.args).env_clear().env("HOME", &home);
        for key in PASSED_THROUGH {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());

        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command_line}`: {e}"));
        if let Some(bytes) = self.stdin {
            let mut pipe = child.stdin.take().expect("stdin was requested as a pipe");
            // A child that exits without reading gives EPIPE; that is its business.
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let stdout = collect(child.stdout.take().expect("stdout was requested as a pipe"));
        let stderr = collect(child.stderr.take().expect("stderr was requested as a pipe"));

        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the child") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(5));
        };

        // The pipes close when the child is gone, unless it left a grandchild
        // holding them: do not wait for that one forever.
        let stdout = stdout.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
        let stderr = stderr.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
        match status {
            Some(status) => Ok(Output {
                command: command_line,
                code: status.code(),
                stdout,
                stderr,
            }),
            None => Err(TimedOut {
                command: command_line,
                timeout: self.timeout,
                stdout,
                stderr,
            }),
        }
    }

    fn command_line(&self) -> String {
        let mut line = self.program.display().to_string();
        for arg in &self.args {
            line.push(' ');
            line.push_str(&arg.to_string_lossy());
        }
        line
    }
}

/// Reads a pipe to its end on a thread; the text arrives on the channel.
fn collect(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

impl Output {
    /// Panics, showing both streams, unless the child exited with `code`.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) -> &Self {
        assert!(self.code == Some(code), "expected exit code {code}\n{self}");
        self
    }

    /// Same as `assert_exit(0)`.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_exit(0)
    }

    /// Panics unless stderr is exactly one non-empty line (an optional final
    /// newline allowed), as DESIGN §2 asks of every error; returns that line.
    #[track_caller]
    pub fn assert_one_line_error(&self) -> &str {
        let line = self.stderr.strip_suffix('\n').unwrap_or(&self.stderr);
        assert!(
            !line.trim().is_empty() && !line.contains('\n'),
            "expected exactly one non-empty line on stderr\n{self}"
        );
        line
    }

    /// Panics unless stderr is empty.
    #[track_caller]
    pub fn assert_quiet_stderr(&self) -> &Self {
        assert!(self.stderr.is_empty(), "expected nothing on stderr\n{self}");
        self
    }

    /// Stdout parsed as JSON; panics with both streams when it is not.
    #[track_caller]
    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = match self.code {
            Some(code) => code.to_string(),
            None => "none (killed by a signal)".to_owned(),
        };
        write!(
            f,
            "command: {}\nexit code: {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.stdout, self.stderr
        )
    }
}
