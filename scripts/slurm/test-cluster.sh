#!/usr/bin/env bash
# A private one-node Slurm cluster for tests, with ALL its state inside one folder:
#
#   scripts/slurm/test-cluster.sh start DIR   # prints `export SLURM_CONF=...` lines on stdout when ready
#   SADPM_SLURM_ACCOUNTING=1 scripts/slurm/test-cluster.sh start DIR   # with slurmdbd + MariaDB: sacct works
#   scripts/slurm/test-cluster.sh env DIR     # the same lines again (eval "$(... env DIR)")
#   scripts/slurm/test-cluster.sh stop DIR    # cancels its jobs, stops its daemons and what they left running
#
# DIR gets slurm.conf, a munge key and a munged socket of its own, spool/state folders, logs and pid files.
# Daemons listen on 127.0.0.1 only, on ports picked free at start, so two test runs and a host cluster don't
# clash. Needs Debian's slurmctld, slurmd, slurm-client and munge (slurm-wlm 22.05) and node (to pick ports);
# accounting also needs slurmdbd, slurm-wlm-mysql-plugin and mariadb-server-core (a private mariadbd in DIR).
# Runs as root (SlurmUser=root) or as a plain user who owns DIR (SlurmUser = that user); see
# scripts/slurm/README.md for what works without root and what accounting this cluster has.
set -euo pipefail

usage() { echo "usage: $0 start|stop|env DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case "$dir" in /*) ;; *) dir="$(pwd)/$dir" ;; esac
conf="$dir/etc/slurm.conf"
start_timeout=${SADPM_SLURM_START_TIMEOUT:-50}
accounting=${SADPM_SLURM_ACCOUNTING:-0}

log() { echo "test-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

print_env() {
  printf 'export SLURM_CONF=%q\n' "$conf"
}

# Runs a client command against this cluster only (never the host's /etc/slurm).
sl() { SLURM_CONF="$conf" "$@"; }

need() {
  local missing=()
  for b in munged slurmctld slurmd sbatch squeue scontrol sinfo scancel node; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing+=("$b")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (apt-get install slurmctld slurmd slurm-client munge)"
}

# Finds a binary in PATH or /usr/sbin (not on a plain user's PATH on Debian).
bin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

# N distinct free TCP ports on 127.0.0.1, chosen by the kernel. A port could be taken between this and the
# daemon's bind; start() then fails with the daemon's log, and a retry picks new ones.
free_ports() {
  node -e '
    const net = require("net");
    const take = () => new Promise((ok) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => ok(s)); });
    Promise.all(Array.from({ length: Number(process.argv[1]) }, take)).then((ss) => {
      console.log(ss.map((s) => s.address().port).join(" "));
      ss.forEach((s) => s.close());
    });' "$1"
}

wait_for() { # seconds, description, command...
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
  log "$what ready after ${SECONDS}s"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

show_logs() {
  for f in "$dir"/log/*; do
    [ -f "$f" ] || continue
    echo "--- $f (last 20 lines)" >&2
    tail -n 20 "$f" >&2
  done
}

# Starts a daemon in the foreground mode of its own, detached from our stdio and session, and records its pid:
# callers that read our stdout to the end (execFile, $(...)) must not wait on a daemon holding the pipe.
spawn() { # name, program, args...
  local name=$1; shift
  setsid "$@" </dev/null >"$dir/log/$name.out" 2>&1 &
  echo $! >"$dir/run/$name.pid"
}

write_conf() {
  local ctld_port=$1 slurmd_port=$2 dbd_port=${3:-} user cpus mem acct
  user=$(id -un)
  cpus=${SADPM_SLURM_CPUS:-$(nproc)}
  mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
  : >"$dir/etc/plugstack.conf"
  if [ -n "$dbd_port" ]; then
    acct="# slurmdbd (with a private MariaDB) keeps every job: sacct works.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
# The connection to slurmdbd authenticates through this munged too (not the default /run/munge socket).
AccountingStoragePass=$dir/munge/munge.socket"
  else
    acct="# No slurmdbd (it needs MySQL/MariaDB; start with SADPM_SLURM_ACCOUNTING=1 for it): sacct says accounting is
# disabled. Finished jobs stay visible to squeue/scontrol for MinJobAge seconds, and every finished (or requeued)
# job gets a line in the job completion file.
AccountingStorageType=accounting_storage/none"
  fi
  cat >"$conf" <<EOF
# Written by scripts/slurm/test-cluster.sh: a private one-node test cluster, all state under $dir.
ClusterName=sadpmtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
# A requeued job may not start before its old credential expires (cred_expire + 1 s; 120 s by default).
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$dir/etc/plugstack.conf
TmpFS=$dir/tmp
# No cgroups here (containers, CI): processes are tracked through /proc, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Schedule every second (not every 30-60 s), so tests see a submitted or requeued job start at once.
SchedulerParameters=sched_interval=1,bf_interval=1
$acct
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MinJobAge=600
# Grace between SIGTERM and SIGKILL: Slurm's default 30 s. On TERM sadpm finishes the step under way and writes
# a checkpoint; on a loaded 2-core machine a tiny step can take 10-20 s, more than a 5 s grace allows.
# Processes that exit sooner end their job sooner.
KillWait=30
ReturnToService=2
# The node below declares only CPUs and memory; don't drain it over a socket/core layout mismatch.
SlurmdParameters=config_overrides
NodeName=sadpm1 NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
# 'urgent' preempts 'debug' (its jobs are requeued, or cancelled with --no-requeue): tests of preemption.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
PartitionName=debug Nodes=sadpm1 Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=urgent Nodes=sadpm1 MaxTime=INFINITE State=UP PriorityTier=2
EOF
}

write_dbd_conf() {
  local dbd_port=$1 db_port=$2
  # slurmdbd reads slurmdbd.conf beside slurm.conf and insists that only its user can read it.
  cat >"$dir/etc/slurmdbd.conf" <<EOF
# Written by scripts/slurm/test-cluster.sh: the test cluster's accounting daemon and its private MariaDB.
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=$(id -un)
PidFile=$dir/run/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=$(id -un)
StorageLoc=slurm_acct_db
EOF
  chmod 0600 "$dir/etc/slurmdbd.conf"
}

# A MariaDB of the cluster's own: data, socket and logs in DIR, TCP on 127.0.0.1 only. No grant tables: nothing
# but this machine's processes can reach it, and the data is a test's throwaway job records.
start_mariadb() {
  local port=$1 user_opt=()
  [ "$(id -u)" -ne 0 ] || user_opt=(--user=root)
  if [ ! -d "$dir/mysql/data/mysql" ]; then
    mkdir -p -m 0700 "$dir/mysql"
    "$(bin mariadb-install-db)" --no-defaults "${user_opt[@]}" --datadir="$dir/mysql/data" --skip-test-db \
      --auth-root-authentication-method=normal >"$dir/log/mariadb-install.out" 2>&1 \
      || { show_logs; die "mariadb-install-db failed"; }
  fi
  spawn mariadbd "$(bin mariadbd)" --no-defaults "${user_opt[@]}" --datadir="$dir/mysql/data" \
    --socket="$dir/mysql/mysqld.sock" --pid-file="$dir/run/mariadbd.pid.own" --port="$port" --bind-address=127.0.0.1 \
    --skip-grant-tables --log-error="$dir/log/mariadbd.log" --innodb-buffer-pool-size=16M --skip-name-resolve
  wait_for 30 mariadbd test -S "$dir/mysql/mysqld.sock" || { show_logs; stop_daemons; die "mariadbd did not start"; }
}

start() {
  need
  [ ! -f "$dir/run/slurmctld.pid" ] || ! alive "$dir/run/slurmctld.pid" || die "a cluster already runs in $dir"
  mkdir -p "$dir"
  chmod 0700 "$dir"
  mkdir -p -m 0700 "$dir/etc" "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/tmp"
  # munged refuses a key or socket folder others can write; ours are 0700 under a 0700 DIR.
  if [ ! -f "$dir/munge/munge.key" ]; then
    if command -v mungekey >/dev/null 2>&1 || [ -x /usr/sbin/mungekey ]; then
      "$(bin mungekey)" --create --keyfile="$dir/munge/munge.key"
    else
      dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    fi
    chmod 0600 "$dir/munge/munge.key"
  fi
  local ports
  read -r -a ports <<<"$(free_ports 4)"
  [ ${#ports[@]} -eq 4 ] || die "could not pick free ports"
  if [ "$accounting" = 1 ]; then
    write_conf "${ports[0]}" "${ports[1]}" "${ports[2]}"
    write_dbd_conf "${ports[2]}" "${ports[3]}"
  else
    write_conf "${ports[0]}" "${ports[1]}"
  fi

  # --force: munged declines to run as root or beside a lax folder it can still use; the cluster is private.
  spawn munged "$(bin munged)" --foreground --force --socket="$dir/munge/munge.socket" \
    --key-file="$dir/munge/munge.key" --pid-file="$dir/run/munged.pid.own" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed"
  wait_for 10 munged test -S "$dir/munge/munge.socket" || { show_logs; stop_daemons; die "munged did not start"; }

  export SLURM_CONF="$conf"
  if [ "$accounting" = 1 ]; then
    start_mariadb "${ports[3]}"
    spawn slurmdbd "$(bin slurmdbd)" -D
    wait_for "$start_timeout" slurmdbd dbd_up || { show_logs; stop_daemons; die "slurmdbd did not answer (log above)"; }
    # slurmctld registers its cluster with slurmdbd only if the cluster exists there.
    sl sacctmgr -i add cluster sadpmtest >/dev/null || { show_logs; stop_daemons; die "sacctmgr add cluster failed"; }
  fi
  spawn slurmctld "$(bin slurmctld)" -D -f "$conf"
  if ! wait_for "$start_timeout" slurmctld sl scontrol ping; then
    show_logs; stop_daemons; die "slurmctld did not answer (log above)"
  fi
  spawn slurmd "$(bin slurmd)" -D -f "$conf" -N sadpm1
  if ! wait_for "$start_timeout" "node sadpm1" node_idle; then
    show_logs; stop_daemons; die "node sadpm1 did not become idle (log above)"
  fi
  print_env
}

dbd_up() { sl sacctmgr -n list cluster >/dev/null 2>&1; }

node_idle() { [ "$(sl sinfo -h -N -n sadpm1 -p debug -o %T 2>/dev/null)" = idle ]; }

# Every process that belongs to this cluster: daemons from the pid files or by their command line (which names
# this folder's conf or munge socket, even if the folder's files are gone), slurmstepd and job processes by the
# SLURM_CONF=<this cluster's conf> in their environment (jobs also have SLURM_JOB_ID). No other cluster has these
# paths. Processes of other users are unreadable, so never matched.
cluster_pids() {
  local f p env
  for f in "$dir"/run/*.pid; do [ -f "$f" ] && cat "$f"; done
  for p in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null \
      | grep -qxF -e "$conf" -e "--socket=$dir/munge/munge.socket" -e "--datadir=$dir/mysql/data"; then
      echo "${p#/proc/}"
      continue
    fi
    env=$({ tr '\0' '\n' <"$p/environ"; } 2>/dev/null) || continue
    grep -qxF "SLURM_CONF=$conf" <<<"$env" || continue
    case "$(cat "$p/comm" 2>/dev/null)" in slurmstepd | slurmdbd) echo "${p#/proc/}"; continue ;; esac
    if grep -q '^SLURM_JOB_ID=' <<<"$env"; then echo "${p#/proc/}"; fi
  done
}

# This script and the processes that started it (a test runner may carry SLURM_CONF): never stopped.
ancestors() {
  local p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    echo "$p"
    p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null) || break
  done
}

stop_daemons() {
  local pids=() p deadline
  mapfile -t pids < <(cluster_pids | sort -u | grep -vxF -f <(ancestors) || true)
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  deadline=$((SECONDS + 10))
  for p in "${pids[@]}"; do
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -f "$dir"/run/*.pid
}

stop() {
  if [ -f "$conf" ] && alive "$dir/run/slurmctld.pid"; then
    # Cancel first so slurmd's steps end their jobs properly rather than orphaning them.
    local jobs
    local active=PENDING,RUNNING,SUSPENDED,CONFIGURING,COMPLETING,REQUEUED
    jobs=$(sl squeue -h -o %A -t "$active" 2>/dev/null | sort -u || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      sl scancel $jobs 2>/dev/null || true
      wait_for 10 "job cancel" no_active_jobs || log "jobs still active; killing them"
    fi
  fi
  stop_daemons
  log "stopped"
}

no_active_jobs() { [ -z "$(sl squeue -h -o %A -t RUNNING,COMPLETING 2>/dev/null)" ]; }

case "$cmd" in
  start) start ;;
  stop) stop ;;
  env) [ -f "$conf" ] || die "no cluster in $dir"; print_env ;;
  *) usage ;;
esac
