// A compute worker in Java with JDBC (PgJDBC: Debian's libpostgresql-jdbc-java).
//
// Takes jobs of COMPUTE_QUEUE with a waiting grab and a lease, heartbeats
// while the task runs, stores the result and finishes the job with its
// attempt token in one transaction (finish_and_grab takes the next job in
// the same statement), reconnects with backoff when the connection drops,
// and on SIGTERM finishes its current job and exits 0. Connection: PGHOST,
// PGPORT, PGDATABASE, PGUSER (TCP: PgJDBC has no Unix sockets). See
// examples/README.md for the task and the results table.
//
//   javac -d classes Worker.java
//   java -cp classes:/usr/share/java/postgresql.jar Worker

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HexFormat;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class Worker {
    static final Map<String, String> ENV = System.getenv();
    static final String QUEUE = ENV.getOrDefault("COMPUTE_QUEUE", "examples");
    static final String NAME = ENV.getOrDefault("WORKER_NAME", "java-" + ProcessHandle.current().pid());
    static final double LEASE = Double.parseDouble(ENV.getOrDefault("LEASE_SECONDS", "60"));
    static final double WAIT = Double.parseDouble(ENV.getOrDefault("WAIT_SECONDS", "30"));
    static final String URL = "jdbc:postgresql://" + ENV.getOrDefault("PGHOST", "127.0.0.1") + ":"
            + ENV.getOrDefault("PGPORT", "5432") + "/" + ENV.getOrDefault("PGDATABASE", "postgres");

    static volatile boolean stopping = false;
    static volatile PreparedStatement waitingGrab = null; // what SIGTERM may cancel
    static Connection conn;

    record Job(byte[] id, int attempt, String config) {
        String hex() { return HexFormat.of().formatHex(id); }
    }

    record Outcome(String status, String result, String error) {}

    static void log(Object... words) {
        StringBuilder line = new StringBuilder(NAME);
        for (Object w : words) line.append(' ').append(w);
        System.out.println(line);
        System.out.flush();
    }

    // SQLSTATE class 08 (connection) or 57P (operator intervention), or no
    // SQLSTATE at all: the connection is gone.
    static boolean connectionLost(SQLException e) {
        String s = e.getSQLState();
        return s == null || s.startsWith("08") || s.startsWith("57P");
    }

    static Connection connect() throws InterruptedException {
        for (long delay = 100; ; delay = Math.min(delay * 2, 5000)) {
            try {
                java.util.Properties p = new java.util.Properties();
                p.setProperty("user", ENV.getOrDefault("PGUSER", "postgres"));
                p.setProperty("ApplicationName", NAME);
                return DriverManager.getConnection(URL, p);
            } catch (SQLException e) {
                log("connect failed, retrying in", delay / 1000.0, "s:", e.getMessage());
                Thread.sleep(delay);
            }
        }
    }

    static Job first(PreparedStatement st) throws SQLException {
        try (ResultSet rs = st.executeQuery()) {
            return rs.next() ? new Job(rs.getBytes(1), rs.getInt(2), rs.getString(3)) : null;
        }
    }

    static Job grab() throws SQLException {
        try (PreparedStatement st = conn.prepareStatement("SELECT job_id, attempt, config FROM compute.grab_job("
                + "?, 1, make_interval(secs => ?), make_interval(secs => ?))")) {
            st.setString(1, QUEUE);
            st.setDouble(2, LEASE);
            st.setDouble(3, WAIT);
            waitingGrab = st;
            if (stopping) return null;
            return first(st);
        } catch (SQLException e) {
            if ("57014".equals(e.getSQLState()) && stopping) return null; // cancelled by SIGTERM
            throw e;
        } finally {
            waitingGrab = null;
        }
    }

    static String field(String json, String name, String valuePattern) {
        Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*" + valuePattern).matcher(json);
        return m.find() ? m.group(1) : null;
    }

    // The task: sleep config's ms, heartbeating; null if the lease was lost.
    static Outcome run(Job job) throws SQLException, InterruptedException {
        long deadline = System.nanoTime() + Long.parseLong(field(job.config(), "ms", "(\\d+)")) * 1_000_000;
        try (PreparedStatement hb = conn.prepareStatement("SELECT compute.heartbeat(?, ?)")) {
            for (long left; (left = deadline - System.nanoTime()) > 0; ) {
                Thread.sleep(Math.min(left / 1_000_000 + 1, (long) (LEASE * 250)));
                hb.setBytes(1, job.id());
                hb.setInt(2, job.attempt());
                try {
                    hb.execute();
                } catch (SQLException e) {
                    if ("55000".equals(e.getSQLState())) return null; // another attempt owns the job
                    throw e;
                }
            }
        }
        String fail = field(job.config(), "fail", "\"([^\"]*)\"");
        if (fail != null) return new Outcome("failed", null, fail);
        long n = Long.parseLong(field(job.config(), "n", "(\\d+)"));
        return new Outcome("complete", Long.toString(n * n), null);
    }

    // Stores the result and finishes the job in one transaction; returns the
    // next job (finish_and_grab, not waiting) or, when stopping, null.
    static Job finish(Job job, Outcome o) throws SQLException {
        conn.setAutoCommit(false);
        try {
            try (PreparedStatement st = conn.prepareStatement(
                    "INSERT INTO results (job_id, attempt, worker, status, result) VALUES (?, ?, ?, ?, ?)")) {
                st.setBytes(1, job.id());
                st.setInt(2, job.attempt());
                st.setString(3, NAME);
                st.setString(4, o.status());
                st.setString(5, o.result());
                st.executeUpdate();
            }
            java.sql.Array output = o.status().equals("complete")
                    ? conn.createArrayOf("text", new String[] {job.hex() + ".out"}) : null;
            Job next = null;
            String sql = stopping ? "SELECT compute.finish_job(?, ?, ?, ?, ?)"
                    : "SELECT job_id, attempt, config FROM compute.finish_and_grab(?, ?, ?, ?, ?, ?, 1, make_interval(secs => ?))";
            try (PreparedStatement st = conn.prepareStatement(sql)) {
                int i = 1;
                st.setBytes(i++, job.id());
                st.setString(i++, o.status());
                if (!stopping) st.setString(i++, QUEUE);
                st.setArray(i++, output);
                st.setInt(i++, job.attempt());
                st.setString(i++, o.error());
                if (stopping) {
                    st.execute();
                } else {
                    st.setDouble(i, LEASE);
                    next = first(st);
                }
            }
            conn.commit();
            return next;
        } catch (SQLException e) {
            try { conn.rollback(); } catch (SQLException ignored) { /* the connection is gone */ }
            throw e;
        } finally {
            try { conn.setAutoCommit(true); } catch (SQLException ignored) { /* reconnected later */ }
        }
    }

    static void reconnect() throws InterruptedException {
        try { conn.close(); } catch (SQLException ignored) { /* already closed */ }
        conn = connect();
    }

    static void loop() throws Exception {
        conn = connect();
        Job job = null;
        while (!stopping || job != null) {
            try {
                if (job == null) {
                    job = grab();
                    continue;
                }
                log("took", job.hex(), job.attempt());
                Outcome o = run(job);
                if (o == null) {
                    log("lost", job.hex(), job.attempt());
                    job = null;
                    continue;
                }
                while (true) { // the finish is retried over reconnects; 55000 ends it
                    try {
                        Job done = job;
                        job = finish(done, o);
                        log("finished", done.hex(), done.attempt(), o.status());
                        break;
                    } catch (SQLException e) {
                        if ("55000".equals(e.getSQLState())) { // or our own commit went through before the drop
                            log("lost", job.hex(), job.attempt());
                            job = null;
                            break;
                        }
                        if (!connectionLost(e)) throw e;
                        log("connection lost while finishing; reconnecting");
                        reconnect();
                    }
                }
            } catch (SQLException e) {
                if (!connectionLost(e)) throw e;
                log("connection lost; reconnecting:", e.getMessage());
                reconnect();
                // a job in hand keeps its lease until it expires: go on with it
            }
        }
        conn.close();
        log("stopped");
    }

    static volatile boolean failed = false;

    public static void main(String[] args) {
        Thread main = Thread.currentThread();
        // SIGTERM runs the shutdown hooks: let the loop finish its job, then
        // exit 0 (a JVM ended by a signal would otherwise exit 143).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping = true;
            PreparedStatement st = waitingGrab;
            if (st != null) {
                try { st.cancel(); } catch (SQLException ignored) { /* it ended already */ }
            }
            if (!failed) {
                try { main.join(); } catch (InterruptedException ignored) { /* exit anyway */ }
            }
            System.out.flush();
            Runtime.getRuntime().halt(failed ? 1 : 0);
        }));
        try {
            loop();
        } catch (Exception e) {
            failed = true;
            System.err.println(NAME + " failed: " + e);
            e.printStackTrace();
            System.exit(1);
        }
    }
}
