#!/usr/bin/env bash
# A compute worker in bash with psql, one session per statement.
#
# Takes jobs of COMPUTE_QUEUE with a waiting grab and a lease, runs the task
# in the background and heartbeats while it runs, stores the result and
# finishes the job with its attempt token in one transaction (psql -1;
# finish_and_grab takes the next job in the same statement), retries with
# backoff when the server cannot be reached or the connection drops, and on
# SIGTERM finishes its current job and exits 0. Connection: libpq's PG*
# variables. See examples/README.md for the task and the results table.
set -u
QUEUE=${COMPUTE_QUEUE:-examples}
NAME=${WORKER_NAME:-bash-$$}
LEASE=${LEASE_SECONDS:-60}
WAIT=${WAIT_SECONDS:-30}
export PGAPPNAME=$NAME
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

stopping=0
grab_pid=
# SIGTERM: stop after the current job; a waiting grab is cancelled at once
# (psql sends a cancel request on SIGINT; 57014, no job taken).
trap 'stopping=1; [ -z "$grab_pid" ] || kill -INT "$grab_pid" 2>/dev/null' TERM

log() { echo "$NAME $*"; }
now_ms() { date +%s%3N; }

# sql [psql options...] <<<SQL: runs SQL in a new session (-v name=value
# sets :'name'), rows tab-separated in $out. Retries with backoff while the
# server cannot be reached or drops the connection (psql exits 2, or
# SQLSTATE class 08/57P); returns 0, or 1 with the SQLSTATE in $state.
sql() {
	local query rc delay=0.1
	query=$(cat)
	while :; do
		psql -X -qAt -F $'\t' -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -v queue="$QUEUE" -v name="$NAME" \
			-v lease="$LEASE" -v wait="$WAIT" "$@" <<<"$query" >"$tmp/out" 2>"$tmp/err" &
		[ "${grabbing:-0}" = 1 ] && grab_pid=$!
		local pid=$!
		while :; do # wait returns early when a trapped signal arrives
			wait "$pid"
			rc=$?
			kill -0 "$pid" 2>/dev/null || break
		done
		grab_pid=
		out=$(cat "$tmp/out")
		state=$(grep -o -m1 -E '(ERROR|FATAL): +[0-9A-Z]{5}' "$tmp/err" | grep -o -E '[0-9A-Z]{5}$')
		[ "$rc" -eq 0 ] && return 0
		if [ "$rc" -eq 3 ] && [[ ! $state =~ ^(08|57P) ]]; then return 1; fi
		log "connection lost or refused; reconnecting in $delay s: $(head -c 200 "$tmp/err" | tr '\n' ' ')"
		sleep "$delay"
		delay=$(awk "BEGIN { d = $delay * 2; print (d > 5 ? 5 : d) }")
	done
}

JOB="encode(job_id, 'hex'), attempt, config"

# grab: the next job into $out ("" when the wait passed or SIGTERM came).
grab() {
	out=
	[ "$stopping" = 1 ] && return 0
	grabbing=1 sql <<<"SELECT $JOB FROM compute.grab_job(:'queue', 1, make_interval(secs => :lease), make_interval(secs => :wait))" ||
		{ [ "$state" = 57014 ] && [ "$stopping" = 1 ] && out= && return 0; log "grab failed: $state"; exit 1; }
}

# task CONFIG: the real work, run in the background; here it sleeps the
# config's ms and prints n*n, or fails with the config's error text.
task() {
	[[ $1 =~ \"ms\":\ *([0-9]+) ]] && sleep "$(awk "BEGIN { print ${BASH_REMATCH[1]} / 1000 }")"
	if [[ $1 =~ \"fail\":\ *\"([^\"]*)\" ]]; then
		echo "${BASH_REMATCH[1]}"
		return 1
	fi
	[[ $1 =~ \"n\":\ *([0-9]+) ]] && echo $((BASH_REMATCH[1] * BASH_REMATCH[1]))
}

# run ID ATTEMPT CONFIG: runs the task, heartbeating every lease/4; sets
# status and result (or error); returns 1 if the lease was lost.
run() {
	local pid beat next
	task "$3" >"$tmp/task" 2>&1 &
	pid=$!
	beat=$(awk "BEGIN { print int($LEASE * 250) }")
	next=$(($(now_ms) + beat))
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.05
		if [ "$(now_ms)" -ge "$next" ] && kill -0 "$pid" 2>/dev/null; then
			if ! sql -v id="$1" -v attempt="$2" <<<"SELECT compute.heartbeat(decode(:'id', 'hex'), :attempt)"; then
				[ "$state" = 55000 ] || { log "heartbeat failed: $state"; exit 1; }
				kill "$pid" 2>/dev/null
				wait "$pid"
				return 1 # another attempt owns the job
			fi
			next=$(($(now_ms) + beat))
		fi
	done
	if wait "$pid"; then
		status=complete result=$(cat "$tmp/task") error=
	else
		status=failed result= error=$(cat "$tmp/task")
	fi
}

# finish ID ATTEMPT: stores the result and finishes the job in one
# transaction; the next job (finish_and_grab, not waiting) into $out, or ""
# when stopping. Returns 1 if the lease was lost.
finish() {
	local next="SELECT $JOB FROM compute.finish_and_grab(decode(:'id', 'hex'), :'status', :'queue',
	    CASE :'status' WHEN 'complete' THEN ARRAY[:'id' || '.out'] END, :attempt, NULLIF(:'error', ''), 1,
	    make_interval(secs => :lease))"
	[ "$stopping" = 1 ] && next="SELECT FROM compute.finish_job(decode(:'id', 'hex'), :'status',
	    CASE :'status' WHEN 'complete' THEN ARRAY[:'id' || '.out'] END, :attempt, NULLIF(:'error', ''))"
	sql -1 -v id="$1" -v attempt="$2" -v status="$status" -v result="$result" -v error="$error" <<SQL && return 0
INSERT INTO results (job_id, attempt, worker, status, result)
VALUES (decode(:'id', 'hex'), :attempt, :'name', :'status', NULLIF(:'result', ''));
$next;
SQL
	[ "$state" = 55000 ] || { log "finish failed: $state"; exit 1; }
	out=
	return 1
}

grab
while [ "$stopping" = 0 ] || [ -n "$out" ]; do
	if [ -z "$out" ]; then
		grab
		continue
	fi
	IFS=$'\t' read -r id attempt config <<<"$out"
	log took "$id" "$attempt"
	if ! run "$id" "$attempt" "$config"; then
		log lost "$id" "$attempt"
		out=
		continue
	fi
	if finish "$id" "$attempt"; then
		log finished "$id" "$attempt" "$status"
	else
		log lost "$id" "$attempt" # or our own commit went through before the drop
	fi
done
log stopped
exit 0
