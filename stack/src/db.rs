//! SQLite storage.
//!
//! # Durability
//! The database runs in WAL mode with `synchronous=NORMAL`. A transaction's
//! commit appends it to the WAL with `write(2)` before the call returns, so once
//! a handler has awaited a write (and only then sends its 2xx), the data survives
//! the process or its container being killed: the kernel still holds the pages
//! and the next open replays the WAL. Only a crash of the whole machine (power
//! loss, kernel panic) can lose the last commits, which is the documented trade
//! of `synchronous=NORMAL` and acceptable for this stack.
//!
//! # Concurrency
//! One dedicated writer thread owns the only writing connection. Requests send it
//! jobs over a channel and await a oneshot answer, so the async runtime never
//! blocks on SQLite. The writer groups whatever jobs are queued into one
//! transaction (each job inside its own savepoint, so one failing job does not
//! undo the others) and answers only after the `COMMIT`: group commit is what lets
//! one core sustain thousands of agent runs per second. Reads run on a small pool
//! of read-only connections inside `spawn_blocking`; WAL lets them proceed while
//! the writer writes.
//!
//! # The `volatile_messages` fault
//! With that fault, messages are kept in a map in memory instead of the
//! `messages` table, so a restart loses them. Nothing else changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

/// Storage failures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    /// The writer has shut down (the process is stopping).
    #[error("the database is closed")]
    Closed,
    /// A unique constraint refused the write.
    #[error("unique constraint violated")]
    Conflict,
    /// Anything else SQLite said.
    #[error("database error: {0}")]
    Sqlite(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => Self::Conflict,
            _ => Self::Sqlite(e.to_string()),
        }
    }
}

/// Role of a user account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Ordinary user.
    User,
    /// Administrator (may restart the stack).
    Admin,
}

impl Role {
    /// The claim / column spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
    /// Parses the claim / column spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Opaque id (UUID).
    pub id: String,
    /// Lower-cased email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Creation time.
    pub created_at: String,
}

/// A stored thread.
#[derive(Debug, Clone)]
pub struct ThreadRow {
    /// Opaque id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Title.
    pub title: String,
    /// Creation time.
    pub created_at: String,
}

/// A stored message.
#[derive(Debug, Clone)]
pub struct MessageRow {
    /// Opaque id.
    pub id: String,
    /// Thread it belongs to.
    pub thread_id: String,
    /// `user` or `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
    /// Creation time.
    pub created_at: String,
}

/// A stored agent run.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// Opaque id.
    pub id: String,
    /// Thread the run answers in.
    pub thread_id: String,
    /// Owner.
    pub user_id: String,
    /// `started`, `running`, `completed` or `failed`.
    pub status: String,
    /// The answer, once completed.
    pub result: Option<String>,
}

/// Row counts for the dashboard's `stats_update`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Users.
    pub users: u64,
    /// Threads.
    pub threads: u64,
    /// Messages.
    pub messages: u64,
    /// Runs.
    pub runs: u64,
}

type Deliver = Box<dyn FnOnce(Result<(), DbError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Deliver + Send>;

enum Cmd {
    Job(Job),
    Shutdown(oneshot::Sender<()>),
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<Cmd>>>,
    readers: Mutex<Vec<Connection>>,
    volatile: Option<Mutex<HashMap<String, Vec<MessageRow>>>>,
}

const MAX_BATCH: usize = 1024;
const MAX_IDLE_READERS: usize = 16;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS threads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS threads_by_user ON threads(user_id, seq);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_thread ON messages(thread_id, seq);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status);
PRAGMA user_version = 1;
";

impl Db {
    /// Opens (creating if needed) the database at `path`, applies the schema and
    /// marks runs that a previous process left unfinished as failed. Returns the
    /// handle and how many runs were marked failed.
    pub fn open(path: &Path, volatile_messages: bool) -> Result<(Self, usize), DbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::Sqlite(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        let failed = conn.execute(
            "UPDATE runs SET status = 'failed', error = 'interrupted by a restart', updated_at = ?1
             WHERE status IN ('started', 'running')",
            params![crate::now()],
        )?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| DbError::Sqlite(format!("cannot start the writer thread: {e}")))?;
        let db = Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(Some(tx)),
                readers: Mutex::new(Vec::new()),
                volatile: volatile_messages.then(|| Mutex::new(HashMap::new())),
            }),
        };
        Ok((db, failed))
    }

    /// Finishes every queued write, commits, checkpoints and closes the writer.
    /// Writes sent afterwards fail with [`DbError::Closed`].
    pub async fn close(&self) {
        let sender = self.inner.writer.lock().expect("writer lock").take();
        if let Some(sender) = sender {
            let (ack, done) = oneshot::channel();
            if sender.send(Cmd::Shutdown(ack)).is_ok() {
                let _ = done.await;
            }
        }
        self.inner.readers.lock().expect("readers lock").clear();
    }

    /// Runs `f` on the writer connection, inside the writer's current
    /// transaction; resolves once that transaction has committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, DbError>>();
        let job: Job = Box::new(move |conn: &Connection| {
            let res = in_savepoint(conn, f);
            Box::new(move |commit: Result<(), DbError>| {
                let _ = tx.send(commit.and(res));
            })
        });
        let sent = {
            let guard = self.inner.writer.lock().expect("writer lock");
            match guard.as_ref() {
                Some(sender) => sender.send(Cmd::Job(job)).is_ok(),
                None => false,
            }
        };
        if !sent {
            return Err(DbError::Closed);
        }
        rx.await.map_err(|_| DbError::Closed)?
    }

    /// Runs `f` on a pooled read-only connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().expect("readers lock").pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_reader(&inner.path)?,
            };
            let res = f(&conn);
            let mut pool = inner.readers.lock().expect("readers lock");
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
            res
        })
        .await
        .map_err(|e| DbError::Sqlite(format!("read task failed: {e}")))?
    }

    /// Health probe: the file is still there and answers a query.
    pub async fn check(&self) -> Result<(), DbError> {
        let path = self.inner.path.clone();
        if !path.exists() {
            return Err(DbError::Sqlite(format!("{} is missing", path.display())));
        }
        self.read(|c| {
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(())
        })
        .await
    }

    // ---- users ----

    /// Inserts a user; [`DbError::Conflict`] when the email is taken.
    pub async fn insert_user(&self, user: UserRow) -> Result<(), DbError> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO users (id, email, display_name, password_hash, role, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                user.id,
                user.email,
                user.display_name,
                user.password_hash,
                user.role.as_str(),
                user.created_at
            ])?;
            Ok(())
        })
        .await
    }

    /// Sets a user's password hash and role.
    pub async fn update_user_credentials(
        &self,
        id: String,
        password_hash: String,
        role: Role,
    ) -> Result<(), DbError> {
        self.write(move |c| {
            c.execute(
                "UPDATE users SET password_hash = ?2, role = ?3 WHERE id = ?1",
                params![id, password_hash, role.as_str()],
            )?;
            Ok(())
        })
        .await
    }

    /// Finds a user by (lower-cased) email.
    pub async fn user_by_email(&self, email: String) -> Result<Option<UserRow>, DbError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, email, display_name, password_hash, role, created_at
                 FROM users WHERE email = ?1",
            )?
            .query_row([email], |r| {
                Ok(UserRow {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    display_name: r.get(2)?,
                    password_hash: r.get(3)?,
                    role: Role::parse(&r.get::<_, String>(4)?).unwrap_or(Role::User),
                    created_at: r.get(5)?,
                })
            })
            .optional()?)
        })
        .await
    }

    /// Every user's id and role (loaded once at start-up for token checks).
    pub async fn user_roles(&self) -> Result<Vec<(String, Role)>, DbError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, role FROM users")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Role::parse(&r.get::<_, String>(1)?).unwrap_or(Role::User),
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    // ---- threads ----

    /// Inserts a thread.
    pub async fn insert_thread(&self, thread: ThreadRow) -> Result<(), DbError> {
        self.write(move |c| insert_thread(c, &thread)).await
    }

    /// A thread by id, whoever owns it.
    pub async fn thread(&self, id: String) -> Result<Option<ThreadRow>, DbError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, user_id, title, created_at FROM threads WHERE id = ?1",
            )?
            .query_row([id], thread_from_row)
            .optional()?)
        })
        .await
    }

    /// A user's threads, oldest first.
    pub async fn threads_of(&self, user_id: String) -> Result<Vec<ThreadRow>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, user_id, title, created_at FROM threads WHERE user_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map([user_id], thread_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    // ---- messages ----

    /// Stores a message (durably, unless the `volatile_messages` fault is set).
    pub async fn insert_message(&self, msg: MessageRow) -> Result<(), DbError> {
        if let Some(vol) = &self.inner.volatile {
            push_volatile(vol, msg);
            return Ok(());
        }
        self.write(move |c| insert_message(c, &msg)).await
    }

    /// A thread's messages, oldest first.
    pub async fn messages_of(&self, thread_id: String) -> Result<Vec<MessageRow>, DbError> {
        if let Some(vol) = &self.inner.volatile {
            let map = vol.lock().expect("volatile lock");
            return Ok(map.get(&thread_id).cloned().unwrap_or_default());
        }
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, thread_id, role, content, created_at FROM messages
                 WHERE thread_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map([thread_id], |r| {
                    Ok(MessageRow {
                        id: r.get(0)?,
                        thread_id: r.get(1)?,
                        role: r.get(2)?,
                        content: r.get(3)?,
                        created_at: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    // ---- runs ----

    /// In one transaction: the new thread (if any), the user's message and the
    /// run in status `started`.
    pub async fn start_run(
        &self,
        new_thread: Option<ThreadRow>,
        message: MessageRow,
        run: RunRow,
        now: String,
    ) -> Result<(), DbError> {
        let message = match &self.inner.volatile {
            Some(vol) => {
                push_volatile(vol, message);
                None
            }
            None => Some(message),
        };
        self.write(move |c| {
            if let Some(t) = &new_thread {
                insert_thread(c, t)?;
            }
            if let Some(m) = &message {
                insert_message(c, m)?;
            }
            c.prepare_cached(
                "INSERT INTO runs (id, thread_id, user_id, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![run.id, run.thread_id, run.user_id, run.status, now])?;
            Ok(())
        })
        .await
    }

    /// Sets a run's status (and error text when it failed).
    pub async fn set_run_status(
        &self,
        run_id: String,
        status: &'static str,
        error: Option<String>,
    ) -> Result<(), DbError> {
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE runs SET status = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![run_id, status, error, crate::now()])?;
            Ok(())
        })
        .await
    }

    /// In one transaction: the assistant's answer and the run `completed`.
    pub async fn complete_run(&self, run_id: String, answer: MessageRow) -> Result<(), DbError> {
        let answer = match &self.inner.volatile {
            Some(vol) => {
                push_volatile(vol, answer.clone());
                Err(answer.content)
            }
            None => Ok(answer),
        };
        self.write(move |c| {
            let result = match &answer {
                Ok(m) => {
                    insert_message(c, m)?;
                    &m.content
                }
                Err(content) => content,
            };
            c.prepare_cached(
                "UPDATE runs SET status = 'completed', result = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![run_id, result, crate::now()])?;
            Ok(())
        })
        .await
    }

    /// A run by id, whoever owns it.
    pub async fn run(&self, run_id: String) -> Result<Option<RunRow>, DbError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, thread_id, user_id, status, result FROM runs WHERE id = ?1",
            )?
            .query_row([run_id], |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    thread_id: r.get(1)?,
                    user_id: r.get(2)?,
                    status: r.get(3)?,
                    result: r.get(4)?,
                })
            })
            .optional()?)
        })
        .await
    }

    /// Row counts (read once at start-up; the stack keeps them up to date).
    pub async fn counts(&self) -> Result<Counts, DbError> {
        let volatile = self.inner.volatile.as_ref().map(|v| {
            v.lock()
                .expect("volatile lock")
                .values()
                .map(|m| m.len() as u64)
                .sum::<u64>()
        });
        self.read(move |c| {
            let count = |table: &str| -> Result<u64, DbError> {
                Ok(
                    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                        r.get::<_, i64>(0)
                    })? as u64,
                )
            };
            Ok(Counts {
                users: count("users")?,
                threads: count("threads")?,
                messages: match volatile {
                    Some(n) => n,
                    None => count("messages")?,
                },
                runs: count("runs")?,
            })
        })
        .await
    }
}

fn open_reader(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

fn push_volatile(vol: &Mutex<HashMap<String, Vec<MessageRow>>>, msg: MessageRow) {
    vol.lock()
        .expect("volatile lock")
        .entry(msg.thread_id.clone())
        .or_default()
        .push(msg);
}

fn insert_thread(c: &Connection, t: &ThreadRow) -> Result<(), DbError> {
    c.prepare_cached(
        "INSERT INTO threads (id, user_id, title, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![t.id, t.user_id, t.title, t.created_at])?;
    Ok(())
}

fn insert_message(c: &Connection, m: &MessageRow) -> Result<(), DbError> {
    c.prepare_cached(
        "INSERT INTO messages (id, thread_id, role, content, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![m.id, m.thread_id, m.role, m.content, m.created_at])?;
    Ok(())
}

fn thread_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ThreadRow> {
    Ok(ThreadRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        title: r.get(2)?,
        created_at: r.get(3)?,
    })
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    conn.execute_batch("SAVEPOINT job")?;
    let res = f(conn);
    let end = if res.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end)?;
    res
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Cmd>) {
    while let Ok(first) = rx.recv() {
        let mut delivers: Vec<Deliver> = Vec::new();
        let mut shutdown = None;
        let begun = conn.execute_batch("BEGIN IMMEDIATE").map_err(DbError::from);
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd {
                Cmd::Job(job) => {
                    if begun.is_ok() {
                        delivers.push(job(&conn));
                    } else {
                        delivers.push(Box::new(|_| {}));
                        drop(job);
                    }
                }
                Cmd::Shutdown(ack) => {
                    shutdown = Some(ack);
                    break;
                }
            }
            if delivers.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let outcome = begun.and_then(|()| {
            conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                DbError::from(e)
            })
        });
        if let Err(e) = &outcome {
            tracing::error!(error = %e, jobs = delivers.len(), "database batch failed");
        }
        for deliver in delivers {
            deliver(outcome.clone());
        }
        if let Some(ack) = shutdown {
            if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
            }
            drop(conn);
            let _ = ack.send(());
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(thread: &str, content: &str) -> MessageRow {
        MessageRow {
            id: uuid::Uuid::new_v4().to_string(),
            thread_id: thread.into(),
            role: "user".into(),
            content: content.into(),
            created_at: crate::now(),
        }
    }

    #[tokio::test]
    async fn writes_survive_reopen_and_unfinished_runs_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let (db, failed) = Db::open(&path, false).unwrap();
        assert_eq!(failed, 0);
        let t = ThreadRow {
            id: "t1".into(),
            user_id: "u1".into(),
            title: "x".into(),
            created_at: crate::now(),
        };
        let run = RunRow {
            id: "r1".into(),
            thread_id: "t1".into(),
            user_id: "u1".into(),
            status: "started".into(),
            result: None,
        };
        db.start_run(Some(t), msg("t1", "hello"), run, crate::now())
            .await
            .unwrap();
        // Many concurrent writes are grouped and all acknowledged.
        let mut handles = Vec::new();
        for i in 0..200 {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                db.insert_message(msg("t1", &format!("m{i}"))).await
            }));
        }
        for h in handles {
            h.await.unwrap().unwrap();
        }
        db.close().await;
        assert!(matches!(
            db.insert_message(msg("t1", "late")).await,
            Err(DbError::Closed)
        ));
        let (db2, failed) = Db::open(&path, false).unwrap();
        assert_eq!(failed, 1);
        assert_eq!(db2.messages_of("t1".into()).await.unwrap().len(), 201);
        assert_eq!(
            db2.run("r1".into()).await.unwrap().unwrap().status,
            "failed"
        );
        db2.close().await;
    }

    #[tokio::test]
    async fn failing_job_does_not_undo_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = Db::open(&dir.path().join("db.sqlite"), false).unwrap();
        let user = |id: &str, email: &str| UserRow {
            id: id.into(),
            email: email.into(),
            display_name: "n".into(),
            password_hash: "h".into(),
            role: Role::User,
            created_at: crate::now(),
        };
        let (a, b, c) = tokio::join!(
            db.insert_user(user("1", "a@x.io")),
            db.insert_user(user("2", "a@x.io")),
            db.insert_user(user("3", "c@x.io")),
        );
        assert!(a.is_ok());
        assert!(matches!(b, Err(DbError::Conflict)));
        assert!(c.is_ok());
        assert_eq!(db.counts().await.unwrap().users, 2);
        db.close().await;
    }
}
