/*
 * Seed compatibility test (issue 8): the compute platform library runs
 * unchanged on the compute extension.
 *
 * The statements below are copied verbatim (the text of each `SQL` constant,
 * leading newline included) from the public library VEuPathDB/lib-compute-platform
 * at commit 008c6f146f58f6585ab6e1e90f15950a2374e95d (2026-07-07, "Merge pull
 * request #107"), directory
 *   lib/src/main/kotlin/org/veupathdb/lib/compute/platform/intern/db/queries/
 * all 18 of them (util-job-table.kt holds no statement). Only the SQL is
 * copied; the JDBC calls are written here, bound the way the library binds
 * them: setBytes for the 16-byte hash id, createArrayOf("VARCHAR", ...) for
 * file arrays, setObject(OffsetDateTime) for the pruner's cut-off, setString
 * for queue, config and status; Statement (not PreparedStatement) where the
 * library uses one; autocommit, as its Hikari pool hands connections out.
 * `java PlatformCompat --print-sql` prints the statements, so that
 * scripts/check-platform.sh can compare them with a checkout of the library
 * (PLATFORM_LIB_GIT).
 *
 * What it runs (usage: java -cp .:postgresql.jar PlatformCompat JDBC_URL):
 *  1. one client, the whole life the platform gives a job, in the platform's
 *     order (AsyncPlatform.init, submitJob, QueueWrapper.onJob,
 *     JobExecutionHandler, the success/error callbacks, JobPruner,
 *     expireJob, deleteJob): boot (meta table check, version read, the
 *     migrator finding nothing to run at version >= 1.0.0, the dead-job
 *     cleanup, the boot's list of running and queued jobs), submit, queue
 *     positions, lists, dispatch, outputs recorded while in progress, finish
 *     complete and failed, touches, the pruner's expiry, the API's expiry of a
 *     failed and of a queued job, resubmission of failed and expired jobs, a
 *     restart that requeues a running job, delete; and the calls compute
 *     refuses on purpose (finishing twice, ...), each with its SQLSTATE and
 *     the row left unchanged. Every result is checked against what the
 *     platform expects.
 *  2. CLIENTS clients (threads, each with its own connection) at once: each
 *     runs the same life on its own jobs, and all of them race on shared jobs
 *     stage by stage (submit, dispatch, duplicate finish, pruner, resubmit,
 *     dispatch, expire a failed job, delete); on a shared job exactly one
 *     client may win each step, the others get the documented refusal. The
 *     whole table is checked at the end.
 * It prints every failed check, then one summary line, and exits 1 on any
 * failure or if any of the 18 statements was never run.
 */

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

public final class PlatformCompat {

	// ------------------------------------------------------------------
	// The platform's statements, verbatim. Each text block closes at column
	// 0, so that Java strips no indentation; "\n" + restores the newline
	// that follows Kotlin's opening """.

	// delete/delete-job.kt (DeleteJob)
	static final String DELETE_JOB = "\n" + """
  DELETE FROM
    compute.jobs
  WHERE
    job_id = ?
""";

	// insert/submit-job.kt (RecordNewJob)
	static final String SUBMIT_JOB = "\n" + """
  INSERT INTO
    compute.jobs (
      job_id
    , status
    , queue
    , config
    , input_files
    , created
    , last_accessed
    )
  VALUES
    (
      ?        -- 1 - job_id
    , 'queued' --   - status
    , ?        -- 2 - queue
    , ?        -- 3 - config
    , ?        -- 4 - input_files
    , now()    --   - created
    , now()    --   - last_accessed
    )
""";

	// select/get-expired-jobs.kt (GetExpiredJobs)
	static final String GET_EXPIRED_JOBS = "\n" + """
  SELECT
    job_id
  FROM
    compute.jobs
  WHERE
    status = 'complete'
    AND last_accessed < ?
""";

	// select/get-job.kt (LookupJob)
	static final String GET_JOB = "\n" + """
  SELECT
    job_id
  , status
  , queue
  , config
  , input_files
  , created
  , last_accessed
  , grabbed
  , finished
  FROM
    compute.jobs
  WHERE
    job_id = ?
""";

	// select/get-queue-position.kt (GetJobQueuePosition)
	static final String GET_QUEUE_POSITION = "\n" + """
  WITH cutoff AS (
    SELECT
      created
    FROM
      compute.jobs
    WHERE
      job_id = ?
  )
  SELECT
    count(1)
  FROM
    compute.jobs
  WHERE
    status = 'queued'
    AND created < coalesce((SELECT created FROM cutoff), now())
""";

	// select/get-version.kt (LookupDatabaseVersion)
	static final String GET_VERSION = "\n" + """
  SELECT
    value
  FROM
    compute.meta
  WHERE
    key = 'version'
""";

	// select/list-all-jobs.kt (ListAllJobs)
	static final String LIST_ALL_JOBS = "\n" + """
  SELECT
    job_id
  , status
  , queue
  , config
  , input_files
  , created
  , last_accessed
  , grabbed
  , finished
  FROM
    compute.jobs
  ORDER BY
    created ASC
""";

	// select/list-failed-jobs.kt (ListFailedJobs)
	static final String LIST_FAILED_JOBS = "\n" + """
  SELECT
    job_id
  , status
  , queue
  , config
  , input_files
  , created
  , last_accessed
  , grabbed
  , finished
  FROM
    compute.jobs
  WHERE
    status = 'failed'
  ORDER BY
    created ASC
""";

	// select/list-queued-jobs.kt (ListQueuedJobs)
	static final String LIST_QUEUED_JOBS = "\n" + """
  SELECT
    job_id
  , status
  , queue
  , config
  , input_files
  , created
  , last_accessed
  , grabbed
  , finished
  FROM
    compute.jobs
  WHERE
    status = 'queued'
  ORDER BY
    created ASC
""";

	// select/list-running-jobs.kt (ListRunningJobs)
	static final String LIST_RUNNING_JOBS = "\n" + """
  SELECT
    job_id
  , status
  , queue
  , config
  , input_files
  , created
  , last_accessed
  , grabbed
  , finished
  FROM
    compute.jobs
  WHERE
    status = 'in-progress'
  ORDER BY
    created ASC
""";

	// select/meta-table-exists.kt (MetaDBTableExists)
	static final String META_TABLE_EXISTS = "\n" + """
  SELECT
    count(1)
  FROM
    information_schema.tables
  WHERE
    table_schema = 'compute'
    AND table_type = 'BASE TABLE'
    AND table_name = 'meta'
""";

	// update/append-out-files.kt (SetJobOutputFiles)
	static final String SET_OUTPUT_FILES = "\n" + """
  UPDATE
    compute.jobs
  SET
    output_files = ?
  WHERE
    job_id = ?
""";

	// update/expire-job.kt (MarkJobExpired)
	static final String EXPIRE_JOB = "\n" + """
  UPDATE
    compute.jobs
  SET
    status = 'expired'
  WHERE
    job_id = ?
""";

	// update/finish-job.kt (MarkJobFinished)
	static final String FINISH_JOB = "\n" + """
  UPDATE
    compute.jobs
  SET
    status = ?
  , finished = now()
  WHERE
    job_id = ?
""";

	// update/grab-job.kt (MarkJobInProgress)
	static final String GRAB_JOB = "\n" + """
  UPDATE
    compute.jobs
  SET
    status = 'in-progress'
  , grabbed = now()
  WHERE
    job_id = ?
""";

	// update/queue-dead-jobs.kt (QueueDeadJobs)
	static final String QUEUE_DEAD_JOBS = "\n" + """
  UPDATE
    compute.jobs
  SET
    status = 'queued'
  , grabbed = null
  , finished = null
  WHERE
    status = 'in-progress'
""";

	// update/queue-job.kt (MarkJobQueued)
	static final String QUEUE_JOB = "\n" + """
  UPDATE
    compute.jobs
  SET
    queue = ?
  , status = 'queued'
  WHERE
    job_id = ?
""";

	// update/update-last-accessed.kt (UpdateDBLastAccessed)
	static final String UPDATE_LAST_ACCESSED = "\n" + """
  UPDATE
    compute.jobs
  SET
    last_accessed = now()
  WHERE
    job_id = ?
""";

	// Name (the library's file under queries/) -> statement, for the
	// execution counts and --print-sql.
	static final Map<String, String> STATEMENTS = new LinkedHashMap<>();
	static {
		STATEMENTS.put("delete/delete-job.kt", DELETE_JOB);
		STATEMENTS.put("insert/submit-job.kt", SUBMIT_JOB);
		STATEMENTS.put("select/get-expired-jobs.kt", GET_EXPIRED_JOBS);
		STATEMENTS.put("select/get-job.kt", GET_JOB);
		STATEMENTS.put("select/get-queue-position.kt", GET_QUEUE_POSITION);
		STATEMENTS.put("select/get-version.kt", GET_VERSION);
		STATEMENTS.put("select/list-all-jobs.kt", LIST_ALL_JOBS);
		STATEMENTS.put("select/list-failed-jobs.kt", LIST_FAILED_JOBS);
		STATEMENTS.put("select/list-queued-jobs.kt", LIST_QUEUED_JOBS);
		STATEMENTS.put("select/list-running-jobs.kt", LIST_RUNNING_JOBS);
		STATEMENTS.put("select/meta-table-exists.kt", META_TABLE_EXISTS);
		STATEMENTS.put("update/append-out-files.kt", SET_OUTPUT_FILES);
		STATEMENTS.put("update/expire-job.kt", EXPIRE_JOB);
		STATEMENTS.put("update/finish-job.kt", FINISH_JOB);
		STATEMENTS.put("update/grab-job.kt", GRAB_JOB);
		STATEMENTS.put("update/queue-dead-jobs.kt", QUEUE_DEAD_JOBS);
		STATEMENTS.put("update/queue-job.kt", QUEUE_JOB);
		STATEMENTS.put("update/update-last-accessed.kt", UPDATE_LAST_ACCESSED);
	}

	// The library ships its schema as migrations in db/migrations/<version>/;
	// at this commit there is one directory.
	static final List<String> LIBRARY_MIGRATIONS = List.of("1.0.0");

	// ------------------------------------------------------------------
	// Bookkeeping.

	static final int CLIENTS = Integer.getInteger("clients", 6);
	static final int JOBS_PER_CLIENT = Integer.getInteger("jobs", 40); // a multiple of 5 (five lives)
	static final int SHARED_JOBS = Integer.getInteger("shared", 24);

	static final Map<String, LongAdder> executions = new ConcurrentHashMap<>();
	static final LongAdder refusals = new LongAdder(); // refused on purpose, as expected
	static final AtomicInteger passed = new AtomicInteger();
	static final AtomicInteger failed = new AtomicInteger();

	// Failures are printed up to 3 of a kind (the message without its
	// numbers and job ids), so that one broken step does not hide another.
	static final Map<String, AtomicInteger> failureKinds = new ConcurrentHashMap<>();

	static void check(boolean ok, String what) {
		if (ok) {
			passed.incrementAndGet();
			return;
		}
		failed.incrementAndGet();
		String kind = what.replaceAll("[0-9a-f]{32}", "#").replaceAll("[0-9]+", "#").replaceAll("\\[.*", "");
		if (failureKinds.computeIfAbsent(kind, k -> new AtomicInteger()).incrementAndGet() <= 3) {
			System.out.println("FAIL: " + what);
		}
	}

	// A sanity check of every row read: counted only when it fails.
	static void sane(boolean ok, String what) {
		if (!ok) {
			check(false, what);
		}
	}

	static void ran(String sql) {
		for (Map.Entry<String, String> e : STATEMENTS.entrySet()) {
			if (e.getValue() == sql) {
				executions.computeIfAbsent(e.getKey(), k -> new LongAdder()).increment();
				return;
			}
		}
		throw new IllegalStateException("not a platform statement");
	}

	static byte[] hashId(String config) {
		try {
			return MessageDigest.getInstance("MD5").digest(config.getBytes(StandardCharsets.UTF_8));
		} catch (Exception e) {
			throw new IllegalStateException(e);
		}
	}

	static String hex(byte[] id) {
		StringBuilder s = new StringBuilder();
		for (byte b : id) {
			s.append(String.format("%02x", b));
		}
		return s.toString();
	}

	// A row as the platform reads it (its InternalJobRecord), read with the
	// JDBC getters it uses.
	record Row(byte[] id, String status, String queue, String config, String[] inputs, OffsetDateTime created,
	           OffsetDateTime lastAccessed, OffsetDateTime grabbed, OffsetDateTime finished) {
		String hexId() {
			return hex(id);
		}

		@Override
		public String toString() {
			return hexId() + " " + status + " queue=" + queue + " config=" + config + " inputs=" + Arrays.toString(inputs)
			       + " created=" + created + " last_accessed=" + lastAccessed + " grabbed=" + grabbed + " finished=" + finished;
		}
	}

	static final Set<String> PLATFORM_STATUSES = Set.of("queued", "in-progress", "complete", "failed", "expired");

	static Row readRow(ResultSet rs) throws SQLException {
		Row row = new Row(rs.getBytes(1), rs.getString(2), rs.getString(3), rs.getString(4),
		                  (String[]) rs.getArray(5).getArray(), rs.getObject(6, OffsetDateTime.class),
		                  rs.getObject(7, OffsetDateTime.class), rs.getObject(8, OffsetDateTime.class),
		                  rs.getObject(9, OffsetDateTime.class));
		sane(PLATFORM_STATUSES.contains(row.status), "job " + row.hexId() + ": a status the platform cannot parse: " + row.status);
		sane(row.id.length == 16, "job " + row.hexId() + ": id of " + row.id.length + " bytes");
		sane(row.created != null && row.lastAccessed != null, "job " + row.hexId() + ": created/last_accessed NULL");
		return row;
	}

	// ------------------------------------------------------------------
	// The platform's calls, one method per statement, bound as it binds them.

	static final class Platform {
		final Connection con;

		Platform(Connection con) {
			this.con = con;
		}

		boolean metaTableExists() throws SQLException {
			ran(META_TABLE_EXISTS);
			try (Statement st = con.createStatement(); ResultSet rs = st.executeQuery(META_TABLE_EXISTS)) {
				rs.next();
				return rs.getInt(1) > 0;
			}
		}

		String version() throws SQLException {
			ran(GET_VERSION);
			try (Statement st = con.createStatement(); ResultSet rs = st.executeQuery(GET_VERSION)) {
				return rs.next() ? rs.getString(1) : null;
			}
		}

		int deadJobCleanup() throws SQLException {
			ran(QUEUE_DEAD_JOBS);
			try (Statement st = con.createStatement()) {
				st.execute(QUEUE_DEAD_JOBS);
				return st.getUpdateCount();
			}
		}

		List<Row> list(String sql) throws SQLException {
			ran(sql);
			List<Row> rows = new ArrayList<>();
			try (Statement st = con.createStatement(); ResultSet rs = st.executeQuery(sql)) {
				while (rs.next()) {
					rows.add(readRow(rs));
				}
			}
			return rows;
		}

		Row getJob(byte[] id) throws SQLException {
			ran(GET_JOB);
			try (PreparedStatement ps = con.prepareStatement(GET_JOB)) {
				ps.setBytes(1, id);
				try (ResultSet rs = ps.executeQuery()) {
					return rs.next() ? readRow(rs) : null;
				}
			}
		}

		int queuePosition(byte[] id) throws SQLException {
			ran(GET_QUEUE_POSITION);
			try (PreparedStatement ps = con.prepareStatement(GET_QUEUE_POSITION)) {
				ps.setBytes(1, id);
				try (ResultSet rs = ps.executeQuery()) {
					rs.next();
					return rs.getInt(1);
				}
			}
		}

		List<byte[]> expiredBefore(OffsetDateTime cutoff) throws SQLException {
			ran(GET_EXPIRED_JOBS);
			List<byte[]> ids = new ArrayList<>();
			try (PreparedStatement ps = con.prepareStatement(GET_EXPIRED_JOBS)) {
				ps.setObject(1, cutoff);
				try (ResultSet rs = ps.executeQuery()) {
					while (rs.next()) {
						ids.add(rs.getBytes(1));
					}
				}
			}
			return ids;
		}

		int submit(byte[] id, String queue, String config, List<String> inputs) throws SQLException {
			ran(SUBMIT_JOB);
			try (PreparedStatement ps = con.prepareStatement(SUBMIT_JOB)) {
				ps.setBytes(1, id);
				ps.setString(2, queue);
				ps.setString(3, config);
				ps.setArray(4, con.createArrayOf("VARCHAR", inputs.toArray(new String[0])));
				ps.execute();
				return ps.getUpdateCount();
			}
		}

		int setOutputFiles(byte[] id, String[] files) throws SQLException {
			ran(SET_OUTPUT_FILES);
			try (PreparedStatement ps = con.prepareStatement(SET_OUTPUT_FILES)) {
				ps.setArray(1, con.createArrayOf("VARCHAR", files));
				ps.setBytes(2, id);
				ps.execute();
				return ps.getUpdateCount();
			}
		}

		int markFinished(byte[] id, String status) throws SQLException {
			ran(FINISH_JOB);
			try (PreparedStatement ps = con.prepareStatement(FINISH_JOB)) {
				ps.setString(1, status);
				ps.setBytes(2, id);
				ps.execute();
				return ps.getUpdateCount();
			}
		}

		int markQueued(byte[] id, String queue) throws SQLException {
			ran(QUEUE_JOB);
			try (PreparedStatement ps = con.prepareStatement(QUEUE_JOB)) {
				ps.setString(1, queue);
				ps.setBytes(2, id);
				ps.execute();
				return ps.getUpdateCount();
			}
		}

		int byId(String sql, byte[] id) throws SQLException {
			ran(sql);
			try (PreparedStatement ps = con.prepareStatement(sql)) {
				ps.setBytes(1, id);
				ps.execute();
				return ps.getUpdateCount();
			}
		}

		int markInProgress(byte[] id) throws SQLException {
			return byId(GRAB_JOB, id);
		}

		int markExpired(byte[] id) throws SQLException {
			return byId(EXPIRE_JOB, id);
		}

		int touch(byte[] id) throws SQLException {
			return byId(UPDATE_LAST_ACCESSED, id);
		}

		int delete(byte[] id) throws SQLException {
			return byId(DELETE_JOB, id);
		}
	}

	// ------------------------------------------------------------------
	// The test's own reads and set-up writes (not the platform's): columns
	// the platform never selects, and ageing a job for the pruner.

	static final class Look {
		final Connection con;

		Look(Connection con) {
			this.con = con;
		}

		String[] outputs(byte[] id) throws SQLException {
			try (PreparedStatement ps = con.prepareStatement("SELECT output_files FROM compute.jobs WHERE job_id = ?")) {
				ps.setBytes(1, id);
				try (ResultSet rs = ps.executeQuery()) {
					if (!rs.next()) {
						return null;
					}
					Array a = rs.getArray(1);
					return a == null ? null : (String[]) a.getArray();
				}
			}
		}

		String row(byte[] id) throws SQLException {
			try (PreparedStatement ps = con.prepareStatement("SELECT j::text FROM compute.jobs j WHERE job_id = ?")) {
				ps.setBytes(1, id);
				try (ResultSet rs = ps.executeQuery()) {
					return rs.next() ? rs.getString(1) : null;
				}
			}
		}

		long count(String where) throws SQLException {
			try (Statement st = con.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM compute.jobs WHERE " + where)) {
				rs.next();
				return rs.getLong(1);
			}
		}

		// compute's additions underneath the platform: the attempt (the grab's
		// fencing token) and whether a lease runs.
		int attempt(byte[] id) throws SQLException {
			try (PreparedStatement ps = con.prepareStatement("SELECT attempt FROM compute.jobs WHERE job_id = ?")) {
				ps.setBytes(1, id);
				try (ResultSet rs = ps.executeQuery()) {
					return rs.next() ? rs.getInt(1) : -1;
				}
			}
		}

		boolean leased(byte[] id) throws SQLException {
			try (PreparedStatement ps = con.prepareStatement("SELECT lease_expires IS NOT NULL FROM compute.jobs WHERE job_id = ?")) {
				ps.setBytes(1, id);
				try (ResultSet rs = ps.executeQuery()) {
					return rs.next() && rs.getBoolean(1);
				}
			}
		}

		void set(byte[] id, String assignment) throws SQLException {
			try (PreparedStatement ps = con.prepareStatement("UPDATE compute.jobs SET " + assignment + " WHERE job_id = ?")) {
				ps.setBytes(1, id);
				ps.executeUpdate();
			}
		}

		void age(byte[] id, int days) throws SQLException {
			set(id, "last_accessed = now() - interval '" + days + " days'");
		}
	}

	interface Call {
		void run() throws SQLException;
	}

	// Runs a call that compute must refuse with `sqlstate`, leaving the row
	// as it was.
	static void refused(String sqlstate, Look look, byte[] id, String what, Call call) throws SQLException {
		String before = look.row(id);
		String got = null;
		try {
			call.run();
		} catch (SQLException e) {
			got = e.getSQLState();
			if (sqlstate.equals(got) && !e.getMessage().contains(hex(id))) {
				check(false, what + ": the message does not name the job: " + e.getMessage());
			}
		}
		check(sqlstate.equals(got), what + ": expected SQLSTATE " + sqlstate + ", got " + (got == null ? "success" : got));
		check(java.util.Objects.equals(before, look.row(id)), what + ": the refused call changed the row");
		if (sqlstate.equals(got) && sqlstate.startsWith("55")) {
			refusals.increment(); // compute's own refusals (not the primary key's)
		}
	}

	static List<String> hexes(List<Row> rows) {
		List<String> out = new ArrayList<>();
		for (Row r : rows) {
			out.add(r.hexId());
		}
		return out;
	}

	static List<String> hexIds(byte[]... ids) {
		List<String> out = new ArrayList<>();
		for (byte[] id : ids) {
			out.add(hex(id));
		}
		return out;
	}

	// The migrator's rule (DatabaseMigrator.listMigrations): a migration
	// directory runs when its name sorts after the recorded version, as a
	// string; "0.0.0" when there is no version row.
	static List<String> pendingMigrations(String version) {
		String v = version == null ? "0.0.0" : version;
		List<String> out = new ArrayList<>();
		for (String m : LIBRARY_MIGRATIONS) {
			if (m.compareTo(v) > 0) {
				out.add(m);
			}
		}
		return out;
	}

	static boolean atLeast(String version, int major, int minor, int patch) {
		String[] p = version.split("\\.");
		if (p.length != 3) {
			return false;
		}
		int[] v = {Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2])};
		int[] w = {major, minor, patch};
		for (int i = 0; i < 3; i++) {
			if (v[i] != w[i]) {
				return v[i] > w[i];
			}
		}
		return true;
	}

	// Boot, as AsyncPlatform.init does it: the migrator (meta table check,
	// version read, nothing to run), the dead-job cleanup, then the running
	// and queued jobs it resubmits. Returns what the cleanup requeued.
	static int boot(Platform p, String who) throws SQLException {
		check(p.metaTableExists(), who + ": the migrator's meta table check does not find compute.meta");
		String version = p.version();
		check(version != null && atLeast(version, 1, 0, 0), who + ": version row " + version + " is not >= 1.0.0");
		check(pendingMigrations(version).isEmpty(), who + ": the migrator would run " + pendingMigrations(version));
		int requeued = p.deadJobCleanup();
		check(p.list(LIST_RUNNING_JOBS).isEmpty(), who + ": running jobs left after the dead-job cleanup");
		for (Row r : p.list(LIST_QUEUED_JOBS)) {
			check(r.status.equals("queued") && r.grabbed == null && r.finished == null,
			      who + ": queued job " + r.hexId() + " with grabbed/finished set");
		}
		return requeued;
	}

	// ------------------------------------------------------------------
	// Part 1: one client, every step checked in detail.

	static void single(Connection con) throws SQLException {
		Platform p = new Platform(con);
		Look look = new Look(con);

		check(look.count("true") == 0, "the database is not empty at the start");
		int requeued = boot(p, "boot");
		check(requeued == 0, "boot: the dead-job cleanup of an empty table requeued " + requeued);

		// Submit: the platform looks the job up (unknown), then records it.
		String[] names = {"A", "B", "C", "D", "E", "F"};
		byte[][] id = new byte[names.length][];
		List<List<String>> inputs = List.of(List.of("a.txt", "b.txt"), List.of(), List.of("c.fa"),
		                                    List.of("d1", "d2", "d3"), List.of(), List.of("f"));
		Map<String, OffsetDateTime> created = new HashMap<>();
		for (int i = 0; i < names.length; i++) {
			String config = i == 1 ? null : "{\"job\":\"" + names[i] + "\",\"n\":" + i + "}";
			id[i] = hashId("single " + names[i]);
			String queue = i < 3 ? "alpha" : "beta";
			check(p.getJob(id[i]) == null, "submit " + names[i] + ": an unknown job was found");
			check(p.submit(id[i], queue, config, inputs.get(i)) == 1, "submit " + names[i] + ": no row inserted");
			Row r = p.getJob(id[i]);
			check(r != null && r.status.equals("queued") && r.queue.equals(queue) && java.util.Objects.equals(r.config, config)
			      && Arrays.equals(r.inputs, inputs.get(i).toArray(new String[0])) && r.grabbed == null && r.finished == null,
			      "submit " + names[i] + ": the job reads back as " + r);
			check(r != null && look.outputs(id[i]) == null, "submit " + names[i] + ": output files set");
			created.put(names[i], r == null ? null : r.created);
		}
		for (int i = 1; i < names.length; i++) {
			check(created.get(names[i]).isAfter(created.get(names[i - 1])), "created times do not increase in submission order");
		}
		// A second INSERT of a known job id (a lost race of two submitters):
		// the primary key refuses it.
		refused("23505", look, id[0], "a second INSERT of job A", () -> p.submit(id[0], "alpha", "{}", List.of()));
		for (int i = 0; i < names.length; i++) {
			check(p.queuePosition(id[i]) == i, "queue position of " + names[i] + " is not " + i);
		}
		check(p.queuePosition(hashId("nobody")) == names.length, "queue position of an unknown job is not the queue length");
		check(hexes(p.list(LIST_QUEUED_JOBS)).equals(hexIds(id)), "list of queued jobs is not A..F in created order");
		check(hexes(p.list(LIST_ALL_JOBS)).equals(hexIds(id)), "list of all jobs is not A..F in created order");
		check(p.list(LIST_RUNNING_JOBS).isEmpty() && p.list(LIST_FAILED_JOBS).isEmpty(), "running or failed jobs listed");

		// Dispatch (QueueWrapper.onJob): mark A..E in progress; F stays queued.
		int[] firstAttempt = new int[names.length];
		for (int i = 0; i < 5; i++) {
			check(p.markInProgress(id[i]) == 1, "dispatch " + names[i] + ": no row updated");
			Row r = p.getJob(id[i]);
			check(r.status.equals("in-progress") && r.grabbed != null && r.finished == null,
			      "dispatch " + names[i] + ": reads back as " + r);
			firstAttempt[i] = look.attempt(id[i]);
			check(firstAttempt[i] > 0 && look.leased(id[i]),
			      "dispatch " + names[i] + ": compute did not start an attempt with a lease underneath");
		}
		refused("55000", look, id[0], "dispatching in-progress job A again (a redelivered job message)",
		        () -> p.markInProgress(id[0]));
		check(p.queuePosition(id[5]) == 0, "queue position of F after the dispatch is not 0");
		check(hexes(p.list(LIST_RUNNING_JOBS)).equals(hexIds(id[0], id[1], id[2], id[3], id[4])), "running list is not A..E");
		check(hexes(p.list(LIST_QUEUED_JOBS)).equals(hexIds(id[5])), "queued list is not F");

		// The executor (JobExecutionHandler): the job is still runnable, it
		// ran; the outputs are recorded while the job is in progress, then
		// the job is checked once more. E's executor threw: no outputs.
		String[][] outs = {{"out.txt", "log.txt"}, {}, {"partial.txt"}, {"d.out"}, null};
		for (int i = 0; i < 5; i++) {
			check("in-progress".equals(p.getJob(id[i]).status), "executor: " + names[i] + " is not runnable");
			if (outs[i] == null) {
				continue;
			}
			int n = -1;
			try {
				n = p.setOutputFiles(id[i], outs[i]);
			} catch (SQLException e) {
				check(false, "outputs of in-progress job " + names[i] + " refused: " + e.getSQLState() + " " + e.getMessage());
			}
			check(n == 1, "outputs of in-progress job " + names[i] + ": " + n + " rows updated");
			check(Arrays.equals(look.outputs(id[i]), outs[i]), "outputs of " + names[i] + " read back as "
			      + Arrays.toString(look.outputs(id[i])));
			Row r = p.getJob(id[i]);
			check(r != null && r.status.equals("in-progress") && r.finished == null,
			      "outputs of " + names[i] + ": the job is no longer in progress");
		}

		// The lease compute gives a plain grab is not the platform's concern:
		// a platform job that outlives it still finishes (nobody calls
		// requeue_stale on the platform's behalf).
		look.set(id[0], "lease_expires = now() - interval '1 hour'");

		// The success and error callbacks: A, B, D complete; C (it recorded
		// outputs, then its executor reported failure) and E fail.
		String[] finishAs = {"complete", "complete", "failed", "complete", "failed"};
		for (int i = 0; i < 5; i++) {
			int n = -1;
			try {
				n = p.markFinished(id[i], finishAs[i]);
			} catch (SQLException e) {
				check(false, "finish " + names[i] + " as " + finishAs[i] + " refused: " + e.getSQLState() + " " + e.getMessage());
			}
			check(n == 1, "finish " + names[i] + ": " + n + " rows updated");
			Row r = p.getJob(id[i]);
			check(r.status.equals(finishAs[i]) && r.finished != null && r.grabbed != null && !r.finished.isBefore(r.grabbed),
			      "finish " + names[i] + ": reads back as " + r);
			check(Arrays.equals(look.outputs(id[i]), outs[i]), "finish " + names[i] + " did not keep the outputs "
			      + Arrays.toString(outs[i]) + ": " + Arrays.toString(look.outputs(id[i])));
		}

		// Calls compute refuses on purpose (55000, the row unchanged).
		refused("55000", look, id[0], "finishing complete job A a second time (a redelivered success)",
		        () -> p.markFinished(id[0], "complete"));
		refused("55000", look, id[2], "finishing failed job C as complete", () -> p.markFinished(id[2], "complete"));
		refused("55000", look, id[0], "dispatching complete job A again", () -> p.markInProgress(id[0]));
		refused("55000", look, id[5], "finishing queued job F", () -> p.markFinished(id[5], "complete"));
		refused("55000", look, id[5], "output files for queued job F", () -> p.setOutputFiles(id[5], new String[] {"x"}));

		// Touches (JobManager.getAndReconcileJob).
		for (int i : new int[] {0, 2, 5}) {
			OffsetDateTime before = p.getJob(id[i]).lastAccessed;
			check(p.touch(id[i]) == 1, "touch " + names[i] + ": no row updated");
			OffsetDateTime after = p.getJob(id[i]).lastAccessed;
			check(after.isAfter(before), "touch " + names[i] + ": last_accessed did not move forward");
		}
		check(p.touch(hashId("nobody")) == 0, "touch of an unknown job updated a row");

		// Lists.
		check(p.list(LIST_RUNNING_JOBS).isEmpty(), "running jobs listed after every dispatched job finished");
		check(hexes(p.list(LIST_FAILED_JOBS)).equals(hexIds(id[2], id[4])), "failed list is not C, E");
		check(hexes(p.list(LIST_QUEUED_JOBS)).equals(hexIds(id[5])), "queued list is not F");
		check(hexes(p.list(LIST_ALL_JOBS)).equals(hexIds(id)), "list of all jobs is not A..F");

		// The pruner (JobPruner.run): complete jobs last accessed before now -
		// 30 days. Nothing is old yet; then A and B (complete), C (failed) and
		// F (queued) are aged 40 days: only A and B are prunable.
		check(p.expiredBefore(OffsetDateTime.now().minusDays(30)).isEmpty(), "pruner found jobs before any was old");
		for (int i : new int[] {0, 1, 2, 5}) {
			look.age(id[i], 40);
		}
		// The cut-off in another time zone than the server's: the same instant.
		List<byte[]> prunable = p.expiredBefore(OffsetDateTime.now(ZoneOffset.ofHours(-7)).minusDays(30));
		List<String> prunableHex = new ArrayList<>();
		for (byte[] b : prunable) {
			prunableHex.add(hex(b));
		}
		Collections.sort(prunableHex);
		List<String> wantPrunable = hexIds(id[0], id[1]);
		Collections.sort(wantPrunable);
		check(prunableHex.equals(wantPrunable), "pruner found " + prunableHex + ", not A and B");
		for (byte[] b : prunable) {
			check(p.markExpired(b) == 1, "pruner: expiring " + hex(b) + " updated no row");
		}
		for (int i : new int[] {0, 1}) {
			Row r = p.getJob(id[i]);
			check(r.status.equals("expired") && r.finished != null, "pruned " + names[i] + " reads back as " + r);
			check(Arrays.equals(look.outputs(id[i]), outs[i]), "pruned " + names[i] + " lost its outputs");
		}
		check(p.expiredBefore(OffsetDateTime.now().minusDays(30)).isEmpty(), "pruner finds jobs it expired already");

		// The API's expireJob: a failed job (C) and a queued one (F).
		for (int i : new int[] {2, 5}) {
			int n = -1;
			try {
				n = p.markExpired(id[i]);
			} catch (SQLException e) {
				check(false, "expireJob of " + p.getJob(id[i]).status + " job " + names[i] + " refused: " + e.getSQLState()
				      + " " + e.getMessage());
			}
			check(n == 1, "expireJob " + names[i] + ": " + n + " rows updated");
			check("expired".equals(p.getJob(id[i]).status), "expireJob " + names[i] + ": not expired");
		}
		refused("55000", look, id[0], "expiring expired job A again", () -> p.markExpired(id[0]));
		refused("55000", look, id[5], "finishing expired job F (a run that outlived its job)",
		        () -> p.markFinished(id[5], "failed"));
		check(p.markExpired(hashId("nobody")) == 0, "expireJob of an unknown job updated a row");

		// Resubmission (AsyncPlatform.submitJob of a job it owns): look up,
		// touch, mark queued on the new queue. E failed; C expired after
		// failing; A expired by the pruner.
		for (int i : new int[] {4, 2, 0}) {
			Row old = p.getJob(id[i]);
			check(p.touch(id[i]) == 1, "resubmit " + names[i] + ": touch updated no row");
			int n = -1;
			try {
				n = p.markQueued(id[i], "gamma");
			} catch (SQLException e) {
				check(false, "resubmit " + old.status + " job " + names[i] + " refused: " + e.getSQLState() + " " + e.getMessage());
			}
			check(n == 1, "resubmit " + names[i] + ": " + n + " rows updated");
			Row r = p.getJob(id[i]);
			check(r.status.equals("queued") && r.queue.equals("gamma") && r.grabbed == null && r.finished == null
			      && r.created.equals(old.created) && java.util.Objects.equals(r.config, old.config)
			      && Arrays.equals(r.inputs, old.inputs),
			      "resubmit " + names[i] + ": reads back as " + r);
			check(look.outputs(id[i]) == null, "resubmit " + names[i] + ": output files not cleared");
		}
		// A, C, E are queued again and keep their places (created).
		check(p.queuePosition(id[0]) == 0 && p.queuePosition(id[2]) == 1 && p.queuePosition(id[4]) == 2,
		      "queue positions of the resubmitted A, C, E are not 0, 1, 2");
		check(hexes(p.list(LIST_QUEUED_JOBS)).equals(hexIds(id[0], id[2], id[4])), "queued list is not A, C, E");

		// They run again: A and C complete with new outputs; E is dispatched
		// and records its outputs when the platform "crashes".
		for (int i : new int[] {0, 2, 4}) {
			check(p.markInProgress(id[i]) == 1, "second dispatch of " + names[i] + ": no row updated");
			check(look.attempt(id[i]) > firstAttempt[i], "second dispatch of " + names[i] + ": compute's attempt did not grow");
			int n = -1;
			try {
				n = p.setOutputFiles(id[i], new String[] {"second-" + names[i]});
			} catch (SQLException e) {
				check(false, "outputs of the second run of " + names[i] + " refused: " + e.getSQLState());
			}
			check(n == 1, "outputs of the second run of " + names[i] + ": no row updated");
			if (i != 4) {
				check(p.markFinished(id[i], "complete") == 1, "second finish of " + names[i] + ": no row updated");
				check(Arrays.equals(look.outputs(id[i]), new String[] {"second-" + names[i]}),
				      "second run of " + names[i] + ": outputs not kept");
			}
		}

		// Restart: the boot requeues E (in progress when the platform died),
		// and E's outputs go with its run. E's workspace is gone from S3, so
		// the boot deletes it (AsyncPlatform.init).
		requeued = boot(p, "restart");
		check(requeued == 1, "restart: the dead-job cleanup requeued " + requeued + " jobs, not 1");
		Row e = p.getJob(id[4]);
		check(e != null && e.status.equals("queued") && e.grabbed == null && e.finished == null,
		      "restart: E reads back as " + e);
		check(look.outputs(id[4]) == null, "restart: E kept the outputs of the run that died");
		check(hexes(p.list(LIST_QUEUED_JOBS)).equals(hexIds(id[4])), "restart: queued list is not E");
		check(p.delete(id[4]) == 1, "restart: deleting E updated no row");

		// deleteJob: A, then everything else.
		check(p.delete(id[0]) == 1, "delete A: no row deleted");
		check(p.getJob(id[0]) == null, "delete A: still found");
		check(p.delete(id[0]) == 0, "delete A twice: a row deleted");
		for (Row r : p.list(LIST_ALL_JOBS)) {
			check(p.delete(r.id) == 1, "delete " + r.hexId() + ": no row deleted");
		}
		check(p.list(LIST_ALL_JOBS).isEmpty() && look.count("true") == 0, "jobs left after deleting all");
	}

	// ------------------------------------------------------------------
	// Part 2: several clients at once.

	static final String[] SHARED_STAGES = {"submit", "dispatch", "duplicate finish", "pruner", "resubmit",
	                                       "dispatch again", "expire failed", "delete"};

	// Per shared job and stage: how many clients' calls succeeded.
	static final ConcurrentHashMap<String, AtomicInteger> wins = new ConcurrentHashMap<>();
	static final ConcurrentHashMap<String, String> winner = new ConcurrentHashMap<>();
	static final Map<String, OffsetDateTime> sharedCreated = new ConcurrentHashMap<>();
	static final Map<String, Integer> sharedAttempt = new ConcurrentHashMap<>();

	static void win(String stage, byte[] id, int client) {
		wins.computeIfAbsent(stage + " " + hex(id), k -> new AtomicInteger()).incrementAndGet();
		winner.put(stage + " " + hex(id), "client" + client);
	}

	static int winsOf(String stage, byte[] id) {
		AtomicInteger n = wins.get(stage + " " + hex(id));
		return n == null ? 0 : n.get();
	}

	static byte[] sharedId(int k) {
		return hashId("shared " + k);
	}

	static byte[] ownId(int client, int i) {
		return hashId("client " + client + " job " + i);
	}

	// A call that may lose a race: true when it changed the row, false when
	// it was refused with one of `expected` (or changed nothing); anything
	// else is a failure.
	static boolean race(String what, Call call, int[] count, String... expected) {
		try {
			call.run();
			return count[0] == 1;
		} catch (SQLException e) {
			boolean ok = Arrays.asList(expected).contains(e.getSQLState());
			check(ok, what + ": unexpected error " + e.getSQLState() + " " + e.getMessage());
			return false;
		}
	}

	// One job's life on a client's own job; `i % 5` picks which life.
	static void ownLife(Platform p, Look look, int client, int i) throws SQLException {
		byte[] id = ownId(client, i);
		String tag = "client" + client + " job " + i;
		String queue = "q" + (i % 2);
		List<String> inputs = i % 3 == 0 ? List.of() : List.of("in-" + i + ".txt");
		check(p.getJob(id) == null, tag + ": found before submission");
		check(p.submit(id, queue, "{\"client\":" + client + ",\"i\":" + i + "}", inputs) == 1, tag + ": submit inserted no row");
		Row r = p.getJob(id);
		check(r != null && r.status.equals("queued") && Arrays.equals(r.inputs, inputs.toArray(new String[0])),
		      tag + ": after submit reads back as " + r);
		// Other clients move the queue meanwhile: part 1 checks exact positions.
		int pos = p.queuePosition(id);
		check(pos >= 0, tag + ": queue position " + pos);
		check(p.touch(id) == 1, tag + ": touch updated no row");
		int life = i % 5;
		if (life == 0) { // queued, expired by the API
			check(p.markExpired(id) == 1, tag + ": expireJob of a queued job updated no row");
			check("expired".equals(p.getJob(id).status), tag + ": not expired");
			return;
		}
		check(p.markInProgress(id) == 1, tag + ": dispatch updated no row");
		check("in-progress".equals(p.getJob(id).status), tag + ": not in progress after dispatch");
		check(hexes(p.list(LIST_RUNNING_JOBS)).contains(hex(id)), tag + ": not in the running list");
		String[] outs = {"client" + client + "-" + i + ".out"};
		int[] n = {-1};
		race(tag + ": outputs while in progress", () -> n[0] = p.setOutputFiles(id, outs), n);
		check(n[0] == 1 && Arrays.equals(look.outputs(id), outs), tag + ": outputs while in progress not recorded");
		String status = life == 1 || life == 3 ? "complete" : "failed";
		check(p.markFinished(id, status) == 1, tag + ": finish as " + status + " updated no row");
		check(status.equals(p.getJob(id).status) && Arrays.equals(look.outputs(id), outs),
		      tag + ": after finishing as " + status + ": " + p.getJob(id) + " " + Arrays.toString(look.outputs(id)));
		check(!hexes(p.list(LIST_RUNNING_JOBS)).contains(hex(id)), tag + ": still in the running list");
		switch (life) {
		case 1: // complete, stays complete
			break;
		case 2: { // failed; the API expires it; resubmitted; runs again; complete
			check(hexes(p.list(LIST_FAILED_JOBS)).contains(hex(id)), tag + ": not in the failed list");
			int[] m = {-1};
			race(tag + ": expireJob of a failed job", () -> m[0] = p.markExpired(id), m);
			check(m[0] == 1 && "expired".equals(p.getJob(id).status), tag + ": expireJob of a failed job did not expire it");
			p.getJob(id);
			p.touch(id);
			check(p.markQueued(id, queue) == 1, tag + ": resubmission updated no row");
			check("queued".equals(p.getJob(id).status) && look.outputs(id) == null, tag + ": resubmitted job not queued and clean");
			check(p.markInProgress(id) == 1, tag + ": second dispatch updated no row");
			String[] again = {"client" + client + "-" + i + ".again"};
			int[] k = {-1};
			race(tag + ": outputs of the second run", () -> k[0] = p.setOutputFiles(id, again), k);
			check(k[0] == 1, tag + ": outputs of the second run not recorded");
			check(p.markFinished(id, "complete") == 1, tag + ": second finish updated no row");
			break;
		}
		case 3: { // complete; old; the pruner expires it; resubmitted; stays queued
			look.age(id, 40);
			List<String> found = new ArrayList<>();
			for (byte[] b : p.expiredBefore(OffsetDateTime.now().minusDays(30))) {
				found.add(hex(b));
			}
			check(found.contains(hex(id)), tag + ": the pruner did not find the old complete job");
			check(p.markExpired(id) == 1, tag + ": the pruner's expiry updated no row");
			check(Arrays.equals(look.outputs(id), outs), tag + ": the pruned job lost its outputs");
			p.getJob(id);
			p.touch(id);
			check(p.markQueued(id, "requeued") == 1, tag + ": resubmission of an expired job updated no row");
			Row q = p.getJob(id);
			check(q.status.equals("queued") && q.queue.equals("requeued") && q.grabbed == null && q.finished == null
			      && look.outputs(id) == null, tag + ": resubmitted expired job reads back as " + q);
			check(hexes(p.list(LIST_QUEUED_JOBS)).contains(hex(id)), tag + ": not in the queued list");
			break;
		}
		case 4: // failed; a redelivered failure is refused; deleted
			refused("55000", look, id, tag + ": finishing a failed job again", () -> p.markFinished(id, "failed"));
			check(p.delete(id) == 1 && p.getJob(id) == null, tag + ": delete did not remove the job");
			break;
		default:
			break;
		}
	}

	// What each own job must look like at the end: status (null: deleted)
	// and output files.
	static String finalStatus(int i) {
		switch (i % 5) {
		case 0: return "expired";
		case 1: case 2: return "complete";
		case 3: return "queued";
		default: return null;
		}
	}

	static String[] finalOutputs(int client, int i) {
		switch (i % 5) {
		case 1: return new String[] {"client" + client + "-" + i + ".out"};
		case 2: return new String[] {"client" + client + "-" + i + ".again"};
		default: return null;
		}
	}

	static void sharedStage(Platform p, Look look, int client, int stage, Random rnd) throws SQLException {
		List<Integer> order = new ArrayList<>();
		for (int k = 0; k < SHARED_JOBS; k++) {
			order.add(k);
		}
		Collections.shuffle(order, rnd);
		String name = SHARED_STAGES[stage];
		for (int k : order) {
			byte[] id = sharedId(k);
			String tag = "client" + client + " shared " + k + " (" + name + ")";
			int[] n = {-1};
			switch (stage) {
			case 0: // submit: look up, record if unknown (the loser of the race hits the primary key)
				if (p.getJob(id) == null
				    && race(tag, () -> n[0] = p.submit(id, "shared", "{\"shared\":" + k + "}", List.of("s" + k)), n, "23505")) {
					win(name, id, client);
				}
				break;
			case 1: // dispatch; the winner runs it, records outputs, completes it
			case 5: // dispatch again; the winner fails it (after recording outputs)
				if (race(tag, () -> n[0] = p.markInProgress(id), n, "55000")) {
					win(name, id, client);
					int[] m = {-1};
					race(tag + " outputs", () -> m[0] = p.setOutputFiles(id, new String[] {"by-client" + client}), m);
					check(m[0] == 1, tag + ": the winner could not record its outputs");
					check(p.markFinished(id, stage == 1 ? "complete" : "failed") == 1, tag + ": the winner could not finish");
				}
				break;
			case 2: // a redelivered success for every client: all refused
				if (race(tag, () -> n[0] = p.markFinished(id, "complete"), n, "55000")) {
					win(name, id, client);
				} else {
					refusals.increment();
				}
				p.touch(id);
				int pos = p.queuePosition(id);
				check(pos >= 0, tag + ": negative queue position");
				break;
			case 3: // the pruner of every client finds the old jobs and expires them
				for (byte[] b : p.expiredBefore(OffsetDateTime.now().minusDays(30))) {
					if (Arrays.equals(b, id) && race(tag, () -> n[0] = p.markExpired(id), n, "55000")) {
						win(name, id, client);
					}
				}
				break;
			case 4: // resubmit: every client re-queues it (queued -> queued is a re-route)
				p.getJob(id);
				p.touch(id);
				if (race(tag, () -> n[0] = p.markQueued(id, "shared"), n)) {
					win(name, id, client);
				}
				break;
			case 6: // the API expires the failed job: one wins, the rest find it expired
				if (race(tag, () -> n[0] = p.markExpired(id), n, "55000")) {
					win(name, id, client);
				}
				break;
			case 7: // delete
				if (race(tag, () -> n[0] = p.delete(id), n)) {
					win(name, id, client);
				}
				break;
			default:
				break;
			}
		}
	}

	// Client 0 checks the shared jobs between stages, while the others wait.
	static void checkShared(Look look, int stage) throws SQLException {
		String name = SHARED_STAGES[stage];
		for (int k = 0; k < SHARED_JOBS; k++) {
			byte[] id = sharedId(k);
			String tag = "shared " + k + " after " + name;
			int w = winsOf(name, id);
			String row = look.row(id);
			switch (stage) {
			case 0:
				check(w == 1, tag + ": " + w + " submissions succeeded, not 1");
				check(row != null && look.count("status = 'queued' AND job_id = '\\x" + hex(id) + "'") == 1, tag + ": not queued");
				break;
			case 1:
			case 5: {
				String status = stage == 1 ? "complete" : "failed";
				check(w == 1, tag + ": " + w + " clients dispatched it, not 1");
				check(look.count("status = '" + status + "' AND job_id = '\\x" + hex(id) + "'") == 1, tag + ": not " + status);
				String[] outs = look.outputs(id);
				String who = winner.get(name + " " + hex(id));
				check(outs != null && outs.length == 1 && ("by-" + who).equals(outs[0]),
				      tag + ": outputs " + Arrays.toString(outs) + " are not those of the winner " + who);
				int attempt = look.attempt(id);
				check(stage == 1 ? attempt > 0 : attempt > sharedAttempt.get(hex(id)),
				      tag + ": compute's attempt is " + attempt + " (after the first run: " + sharedAttempt.get(hex(id)) + ")");
				if (stage == 1) {
					sharedAttempt.put(hex(id), attempt);
				}
				break;
			}
			case 2:
				check(w == 0, tag + ": a second finish succeeded " + w + " times");
				break;
			case 3:
				check(w == 1, tag + ": " + w + " pruners expired it, not 1");
				check(look.count("status = 'expired' AND output_files IS NOT NULL AND job_id = '\\x" + hex(id) + "'") == 1,
				      tag + ": not expired with its outputs");
				break;
			case 4:
				check(w == CLIENTS, tag + ": " + w + " of " + CLIENTS + " resubmissions succeeded");
				check(look.count("status = 'queued' AND output_files IS NULL AND grabbed IS NULL AND finished IS NULL"
				                 + " AND job_id = '\\x" + hex(id) + "'") == 1, tag + ": not queued and clean");
				check(look.count("created = '" + sharedCreated.get(hex(id)) + "' AND job_id = '\\x" + hex(id) + "'") == 1,
				      tag + ": created changed");
				break;
			case 6:
				check(w == 1, tag + ": " + w + " clients expired the failed job, not 1");
				check(look.count("status = 'expired' AND job_id = '\\x" + hex(id) + "'") == 1, tag + ": not expired");
				break;
			case 7:
				check(w == 1, tag + ": " + w + " clients deleted it, not 1");
				check(row == null, tag + ": still there");
				break;
			default:
				break;
			}
			if (stage == 0) {
				try (PreparedStatement ps = look.con.prepareStatement("SELECT created FROM compute.jobs WHERE job_id = ?")) {
					ps.setBytes(1, id);
					try (ResultSet rs = ps.executeQuery()) {
						if (rs.next()) {
							sharedCreated.put(hex(id), rs.getObject(1, OffsetDateTime.class));
						}
					}
				}
			}
			if (stage == 2) { // old, for the pruners of the next stage
				look.age(id, 40);
			}
		}
	}

	static void await(CyclicBarrier barrier) throws Exception {
		barrier.await(120, TimeUnit.SECONDS);
	}

	static void clients(String url) throws Exception {
		CyclicBarrier barrier = new CyclicBarrier(CLIENTS);
		List<Thread> threads = new ArrayList<>();
		AtomicInteger crashed = new AtomicInteger();
		int chunk = JOBS_PER_CLIENT / SHARED_STAGES.length + 1;
		for (int c = 0; c < CLIENTS; c++) {
			final int client = c;
			Thread t = new Thread(() -> {
				try (Connection con = DriverManager.getConnection(url)) {
					Platform p = new Platform(con);
					Look look = new Look(con);
					Random rnd = new Random(1000 + client);
					int requeued = boot(p, "client" + client + " boot");
					check(requeued == 0, "client" + client + " boot: the dead-job cleanup requeued " + requeued);
					await(barrier);
					int next = 0;
					for (int stage = 0; stage < SHARED_STAGES.length; stage++) {
						// Some own jobs' lives, then the shared stage, all at once.
						for (int i = 0; i < chunk && next < JOBS_PER_CLIENT; i++, next++) {
							ownLife(p, look, client, next);
						}
						sharedStage(p, look, client, stage, rnd);
						await(barrier);
						if (client == 0) {
							checkShared(look, stage);
						}
						await(barrier);
					}
				} catch (Exception e) {
					crashed.incrementAndGet();
					check(false, "client" + client + " stopped: " + e);
					barrier.reset();
				}
			});
			threads.add(t);
			t.start();
		}
		for (Thread t : threads) {
			t.join();
		}
		check(crashed.get() == 0, crashed.get() + " clients stopped early");
	}

	// The whole table after the clients: every own job as its life left it,
	// no shared job, nothing in progress.
	static void checkTable(Connection con) throws SQLException {
		Platform p = new Platform(con);
		Look look = new Look(con);
		int want = 0;
		Set<String> expected = new HashSet<>();
		for (int c = 0; c < CLIENTS; c++) {
			for (int i = 0; i < JOBS_PER_CLIENT; i++) {
				byte[] id = ownId(c, i);
				String status = finalStatus(i);
				Row r = p.getJob(id);
				String tag = "end: client" + c + " job " + i;
				if (status == null) {
					check(r == null, tag + ": deleted job is back");
					continue;
				}
				want++;
				expected.add(hex(id));
				check(r != null && r.status.equals(status), tag + ": " + (r == null ? "missing" : r.status) + ", not " + status);
				check(Arrays.equals(look.outputs(id), finalOutputs(c, i)), tag + ": outputs " + Arrays.toString(look.outputs(id))
				      + ", not " + Arrays.toString(finalOutputs(c, i)));
			}
		}
		List<Row> all = p.list(LIST_ALL_JOBS);
		check(all.size() == want, "end: " + all.size() + " jobs in the table, not " + want);
		check(new HashSet<>(hexes(all)).equals(expected), "end: the table holds other jobs than the clients' own");
		check(look.count("status = 'in-progress'") == 0, "end: jobs left in progress");
		for (int i = 1; i < all.size(); i++) {
			check(!all.get(i).created.isBefore(all.get(i - 1).created), "end: list of all jobs not in created order");
		}
	}

	public static void main(String[] args) throws Exception {
		if (args.length == 1 && args[0].equals("--print-sql")) {
			for (Map.Entry<String, String> e : STATEMENTS.entrySet()) {
				System.out.print("-- " + e.getKey() + "\n" + e.getValue() + "\u0000\n");
			}
			return;
		}
		if (args.length != 1) {
			System.err.println("usage: java PlatformCompat JDBC_URL | --print-sql");
			System.exit(2);
		}
		String url = args[0];
		long t0 = System.nanoTime();
		try (Connection con = DriverManager.getConnection(url)) {
			single(con);
		}
		int singleChecks = passed.get() + failed.get();
		int singleFailed = failed.get();
		long t1 = System.nanoTime();
		clients(url);
		try (Connection con = DriverManager.getConnection(url)) {
			checkTable(con);
		}
		long t2 = System.nanoTime();
		List<String> never = new ArrayList<>();
		long total = 0;
		for (String name : STATEMENTS.keySet()) {
			LongAdder n = executions.get(name);
			if (n == null || n.sum() == 0) {
				never.add(name);
			} else {
				total += n.sum();
			}
		}
		check(never.isEmpty(), "statements never run: " + never);
		StringBuilder counts = new StringBuilder();
		for (String name : STATEMENTS.keySet()) {
			LongAdder n = executions.get(name);
			counts.append(String.format("  %-32s %7d%n", name, n == null ? 0 : n.sum()));
		}
		System.out.print("executions per statement:\n" + counts);
		System.out.printf("platform: %s: %d of %d platform statements replayed, %d executions, %d checks (%d single-client,"
		                  + " %d with %d clients x %d own jobs + %d shared jobs), %d failed (%d single-client),"
		                  + " %d refusals as expected;"
		                  + " %.1f s single, %.1f s clients%n",
		                  failed.get() == 0 ? "passed" : "FAILED", STATEMENTS.size() - never.size(), STATEMENTS.size(),
		                  total, passed.get() + failed.get(), singleChecks, passed.get() + failed.get() - singleChecks,
		                  CLIENTS, JOBS_PER_CLIENT, SHARED_JOBS, failed.get(), singleFailed, refusals.sum(), (t1 - t0) / 1e9,
		                  (t2 - t1) / 1e9);
		System.exit(failed.get() == 0 ? 0 : 1);
	}
}
