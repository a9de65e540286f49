# CPU time of processes, for the save scripts (sourced by bench/saves.sh,
# bench/saves_ab.sh and bench/save_statements.sh): clock ticks, user and
# system, as /proc counts them.

# Ticks used so far by process $1 (0 once it is gone).
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Ticks used so far by every PostgreSQL process on the machine.
pg_cpu() {
  local total=0 p
  for p in $(pgrep -u postgres || true); do total=$((total + $(cpu_of "$p"))); done
  echo "$total"
}

# Milliseconds of CPU per save: $1 ticks over $2 saves ("-" for no saves).
ms_per() {
  awk -v d="$1" -v t="$(getconf CLK_TCK)" -v s="$2" 'BEGIN { if (s) printf "%.2f", 1000 * d / t / s; else printf "-" }'
}

# Seconds one core takes for a fixed loop of arithmetic (python3), printed
# beside a run: the machine's speed moves by a third from one minute to the
# next (other tenants of the host), and the same binary's CPU per save with
# it, so a rate is read with the speed it was measured at.
machine_probe() {
  python3 -c 'import time
t = time.perf_counter(); s = 0
for i in range(5_000_000): s += i * i
print(f"{time.perf_counter() - t:.2f}")'
}
