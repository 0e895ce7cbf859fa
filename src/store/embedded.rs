//! Embedded PostgreSQL: the default meta database when `PG_URL` is not set.
//!
//! Like Bytebase, bytegate runs the machine's own PostgreSQL binaries against a
//! cluster under the data directory, on loopback only, with a generated
//! password. PostgreSQL refuses to run as root, so as root the cluster runs as
//! an unprivileged system user (`postgres` if it exists, else `bytegate`,
//! created on first use) through `runuser`.

use rand::Rng;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;

/// Why the embedded PostgreSQL could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No `initdb`/`pg_ctl`/`postgres` on this machine.
    #[error(
        "no PostgreSQL server binaries found (looked for initdb, pg_ctl and postgres on PATH and under /usr/lib/postgresql/*/bin). \
         Install them (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install postgresql-server`) \
         or set PG_URL to an existing PostgreSQL database"
    )]
    NoBinaries,
    /// Running as root and no unprivileged user could be found or created.
    #[error(
        "PostgreSQL refuses to run as root and no unprivileged user could be used: {0}. \
         Create one (`useradd --system bytegate`), run bytegate as a non-root user, or set PG_URL"
    )]
    NoUser(String),
    /// A file-system step failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A PostgreSQL tool failed.
    #[error("`{command}` failed: {output}")]
    Command {
        /// The program.
        command: String,
        /// What it printed.
        output: String,
    },
}

/// Where the PostgreSQL server programs live.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// Folder holding `initdb`, `pg_ctl` and `postgres`.
    pub dir: PathBuf,
}

impl Binaries {
    /// Finds the server binaries on PATH, then under `/usr/lib/postgresql/*/bin`
    /// (newest version first).
    pub fn find() -> Result<Binaries, EmbeddedError> {
        postgres_bin_dir(&["initdb", "pg_ctl", "postgres"])
            .map(|dir| Binaries { dir })
            .ok_or(EmbeddedError::NoBinaries)
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The first folder holding every one of `tools`: on PATH, then under
/// `/usr/lib/postgresql/*/bin` (newest version first). Shared by the
/// embedded cluster and the client tools (pg_dump, pg_restore).
pub fn postgres_bin_dir(tools: &[&str]) -> Option<PathBuf> {
    let complete = |dir: &Path| tools.iter().all(|b| dir.join(b).is_file());
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|d| complete(d))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            complete(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

/// The unprivileged account the cluster runs as when bytegate runs as root.
#[derive(Debug, Clone)]
pub struct RunAs {
    /// Login name.
    pub name: String,
    uid: u32,
    gid: u32,
}

impl RunAs {
    /// `None` when not root (run directly); otherwise `postgres`, or `bytegate`
    /// created as a system user if neither exists.
    pub fn for_current_process() -> Result<Option<RunAs>, EmbeddedError> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(None);
        }
        for name in ["postgres", "bytegate"] {
            if let Some(u) = lookup_user(name) {
                return Ok(Some(u));
            }
        }
        let out = std::process::Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "bytegate",
            ])
            .output()
            .map_err(|e| EmbeddedError::NoUser(format!("running useradd: {e}")))?;
        if !out.status.success() {
            return Err(EmbeddedError::NoUser(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        lookup_user("bytegate")
            .map(Some)
            .ok_or_else(|| EmbeddedError::NoUser("user `bytegate` not found after useradd".into()))
    }

    /// Whether the account may enter `dir` and every folder above it (owner,
    /// group or other execute bit; supplementary groups and ACLs are not
    /// counted, so a doubt moves the cluster to the fallback).
    fn can_traverse(&self, dir: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        dir.ancestors().all(|d| {
            let Ok(m) = std::fs::metadata(d) else {
                return false;
            };
            let mode = m.mode();
            if m.uid() == self.uid {
                mode & 0o100 != 0
            } else if m.gid() == self.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            }
        })
    }

    /// Gives the account ownership of `path` (recursively not needed: only
    /// folders bytegate creates for it).
    fn own(&self, path: &Path) -> Result<(), EmbeddedError> {
        nix::unistd::chown(
            path,
            Some(nix::unistd::Uid::from_raw(self.uid)),
            Some(nix::unistd::Gid::from_raw(self.gid)),
        )
        .map_err(|e| EmbeddedError::Io {
            what: "changing owner of",
            path: path.to_path_buf(),
            source: std::io::Error::from(e),
        })
    }
}

/// Where clusters live whose data directory the cluster user cannot reach.
pub const FALLBACK_ROOT: &str = "/var/lib/bytegate";

/// The folder of the cluster for `data_dir` (canonical): `data_dir/postgres`,
/// unless bytegate runs as root and the cluster user cannot reach it (a 0700
/// home such as /root): then `/var/lib/bytegate/<hash of data_dir>`, so the
/// default works there too, and the log says where.
fn cluster_root(data_dir: &Path, run_as: Option<&RunAs>) -> Result<PathBuf, EmbeddedError> {
    let inside = data_dir.join("postgres");
    let Some(user) = run_as else {
        return Ok(inside);
    };
    if user.can_traverse(data_dir) {
        return Ok(inside);
    }
    let fallback = fallback_cluster_root(data_dir);
    let base = Path::new(FALLBACK_ROOT);
    std::fs::create_dir_all(base).map_err(io("creating", base))?;
    // Traversable, not listable: the cluster user reaches its own folder only.
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o711))
        .map_err(io("setting permissions of", base))?;
    tracing::info!(
        data_dir = %data_dir.display(),
        cluster = %fallback.display(),
        user = %user.name,
        "the cluster user cannot reach the data directory; keeping the embedded PostgreSQL cluster elsewhere"
    );
    Ok(fallback)
}

/// `/var/lib/bytegate/<first 16 hex digits of sha256(data_dir)>`.
pub fn fallback_cluster_root(data_dir: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    Path::new(FALLBACK_ROOT).join(&hex::encode(digest)[..16])
}

fn lookup_user(name: &str) -> Option<RunAs> {
    let u = nix::unistd::User::from_name(name).ok().flatten()?;
    Some(RunAs {
        name: name.to_string(),
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    })
}

/// A command that runs `program` directly, or through `runuser` as `run_as`.
pub(crate) fn command(run_as: Option<&RunAs>, program: &Path) -> std::process::Command {
    match run_as {
        None => std::process::Command::new(program),
        Some(user) => {
            let mut c = std::process::Command::new("runuser");
            c.args([OsStr::new("-u"), OsStr::new(&user.name), OsStr::new("--")]);
            c.arg(program);
            c
        }
    }
}

async fn run(cmd: std::process::Command, name: &str) -> Result<String, EmbeddedError> {
    let out = Command::from(cmd)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| EmbeddedError::Command {
            command: name.to_string(),
            output: e.to_string(),
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(EmbeddedError::Command {
            command: name.to_string(),
            output: text.trim().to_string(),
        })
    }
}

/// Picks a free loopback port (the kernel's choice, released at once).
pub fn free_port() -> Result<u16, EmbeddedError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| EmbeddedError::Io {
            what: "finding a free port on",
            path: PathBuf::from("127.0.0.1"),
            source,
        })
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> EmbeddedError + 'a {
    move |source| EmbeddedError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A running embedded cluster, owned by this process.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bins: Binaries,
    run_as: Option<RunAs>,
    pgdata: PathBuf,
    log: PathBuf,
    port: u16,
    password: String,
}

impl EmbeddedPostgres {
    /// Starts (initializing on first use) the cluster under `data_dir/postgres`,
    /// or adopts one left running by an earlier process.
    pub async fn start(data_dir: &Path) -> Result<EmbeddedPostgres, EmbeddedError> {
        let bins = Binaries::find()?;
        let run_as = RunAs::for_current_process()?;
        std::fs::create_dir_all(data_dir).map_err(io("creating", data_dir))?;
        let data_dir = data_dir.canonicalize().map_err(io("resolving", data_dir))?;
        let root = cluster_root(&data_dir, run_as.as_ref())?;
        let pgdata = root.join("data");
        let logdir = root.join("log");
        let password_file = data_dir.join("meta-db.password");

        for dir in [&root, &logdir] {
            std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
            if let Some(user) = &run_as {
                user.own(dir)?;
            }
        }

        let password = if pgdata.join("PG_VERSION").is_file() {
            std::fs::read_to_string(&password_file)
                .map_err(io(
                    "reading the meta-database password from",
                    &password_file,
                ))?
                .trim()
                .to_string()
        } else {
            let password = random_password();
            init_cluster(&bins, run_as.as_ref(), &pgdata, &logdir, &password).await?;
            write_private(&password_file, &password)?;
            password
        };

        let mut pg = EmbeddedPostgres {
            bins,
            run_as,
            pgdata,
            log: logdir.join("postgres.log"),
            port: 0,
            password,
        };
        if let Some(port) = pg.running_port().await {
            tracing::info!(port, "adopting the embedded PostgreSQL left running");
            pg.port = port;
        } else {
            pg.port = free_port()?;
            pg.pg_ctl_start().await?;
        }
        pg.ensure_database().await?;
        Ok(pg)
    }

    /// Starts the cluster again after [`EmbeddedPostgres::stop`], on the same
    /// port, so the URL given out before stays valid (a restart of the meta
    /// database under a running bytegate, as the fault drills do).
    pub async fn start_again(&self) -> Result<(), EmbeddedError> {
        self.pg_ctl_start().await
    }

    async fn pg_ctl_start(&self) -> Result<(), EmbeddedError> {
        let mut cmd = command(self.run_as.as_ref(), &self.bins.tool("pg_ctl"));
        cmd.arg("start")
            .arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!("-p {}", self.port));
        run(cmd, "pg_ctl start")
            .await
            .map_err(|e| with_log_tail(e, &self.log))?;
        tracing::info!(port = self.port, data = %self.pgdata.display(), "embedded PostgreSQL started");
        Ok(())
    }

    /// The URL of the `bytegate` database (holds the generated password).
    pub fn url(&self) -> String {
        self.url_for("bytegate")
    }

    fn url_for(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    /// Loopback port of the running cluster.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the cluster (fast shutdown: sessions are ended, data is flushed).
    pub async fn stop(&self) -> Result<(), EmbeddedError> {
        let mut cmd = command(self.run_as.as_ref(), &self.bins.tool("pg_ctl"));
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.pgdata)
            .args(["-m", "fast", "-w", "-t", "60"]);
        run(cmd, "pg_ctl stop").await?;
        tracing::info!("embedded PostgreSQL stopped");
        Ok(())
    }

    /// The port from `postmaster.pid` when `pg_ctl status` says a server runs.
    async fn running_port(&self) -> Option<u16> {
        let mut cmd = command(self.run_as.as_ref(), &self.bins.tool("pg_ctl"));
        cmd.arg("status").arg("-D").arg(&self.pgdata);
        run(cmd, "pg_ctl status").await.ok()?;
        let pid = std::fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        // Line 4 of postmaster.pid is the port.
        pid.lines().nth(3)?.trim().parse().ok()
    }

    async fn ensure_database(&self) -> Result<(), EmbeddedError> {
        use sqlx::Connection;
        let fail = |e: sqlx::Error| EmbeddedError::Command {
            command: "CREATE DATABASE bytegate".into(),
            output: e.to_string(),
        };
        let mut conn = sqlx::PgConnection::connect(&self.url_for("postgres"))
            .await
            .map_err(fail)?;
        let exists: Option<(i32,)> =
            sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = 'bytegate'")
                .fetch_optional(&mut conn)
                .await
                .map_err(fail)?;
        if exists.is_none() {
            sqlx::query("CREATE DATABASE bytegate")
                .execute(&mut conn)
                .await
                .map_err(fail)?;
        }
        conn.close().await.map_err(fail)?;
        Ok(())
    }
}

async fn init_cluster(
    bins: &Binaries,
    run_as: Option<&RunAs>,
    pgdata: &Path,
    scratch: &Path,
    password: &str,
) -> Result<(), EmbeddedError> {
    // initdb reads the superuser password from a file the cluster user can read.
    let pwfile = scratch.join("initdb.pw");
    std::fs::write(&pwfile, password).map_err(io("writing", &pwfile))?;
    if let Some(user) = run_as {
        user.own(&pwfile)?;
    }
    let mut cmd = command(run_as, &bins.tool("initdb"));
    cmd.arg("-D")
        .arg(pgdata)
        .args(["-U", "postgres", "-E", "UTF8", "--locale=C"])
        .args(["--auth-local=scram-sha-256", "--auth-host=scram-sha-256"])
        .arg(format!("--pwfile={}", pwfile.display()));
    let result = run(cmd, "initdb").await;
    let _ = std::fs::remove_file(&pwfile);
    result.map_err(|e| match e {
        EmbeddedError::Command { command, output } => EmbeddedError::Command {
            command,
            output: format!(
                "{output}\n(hint: the cluster user must be able to reach {}; pick a data directory outside private home folders with BYTEBASE_DATA_DIR)",
                pgdata.display()
            ),
        },
        other => other,
    })?;
    // Loopback TCP only: no Unix socket to secure, nothing on other interfaces.
    let conf = pgdata.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).map_err(io("reading", &conf))?;
    text.push_str(
        "\n# bytegate embedded meta database\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n",
    );
    std::fs::write(&conf, text).map_err(io("writing", &conf))?;
    Ok(())
}

fn random_password() -> String {
    let mut rng = rand::rng();
    (0..32)
        .map(|_| {
            let i = rng.random_range(0..62u8);
            char::from(match i {
                0..=9 => b'0' + i,
                10..=35 => b'a' + i - 10,
                _ => b'A' + i - 36,
            })
        })
        .collect()
}

fn write_private(path: &Path, text: &str) -> Result<(), EmbeddedError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io("writing", path))?;
    f.write_all(text.as_bytes()).map_err(io("writing", path))
}

fn with_log_tail(e: EmbeddedError, log: &Path) -> EmbeddedError {
    let tail = std::fs::read_to_string(log)
        .map(|t| {
            let lines: Vec<&str> = t.lines().collect();
            lines[lines.len().saturating_sub(10)..].join("\n")
        })
        .unwrap_or_default();
    match e {
        EmbeddedError::Command { command, output } => EmbeddedError::Command {
            command,
            output: format!("{output}\n--- {} ---\n{tail}", log.display()),
        },
        other => other,
    }
}
