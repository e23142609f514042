#!/bin/sh
# scale-model.sh: what presence on Redis Cluster (doc/scale.md) takes
# for a deployment, from per-operation costs measured on this machine
# (tests/bench/rv-cluster.sh, redis-benchmark).  Every input is a
# variable; the defaults are measured figures and the stated
# assumptions.
#
#   tests/bench/scale-model.sh                 10 M peers, 10 setups a minute
#   PEERS=1000000 tests/bench/scale-model.sh   per million
#   HERE_RATE=3000 tests/bench/scale-model.sh  also the CPU of the sending
#                      instance of rv-cluster.sh at that signal rate
#                      (HERE_HELD, 10,000, peers held), to check the model
#                      against a run it was not fitted on
#
# Instance CPU is a part per held peer (pings, TTL refresh: US_HELD µs a
# second) and a part per signal (US_SEND on the sender's instance,
# US_RECV on the receiver's) and per registration (US_REG); US_HELD and
# US_SEND are the fit of the sending instance's CPU at 2,000 and 4,000
# signals a second across instances with 10,000 peers held.
#
# Prints type=model, and type=check with HERE_RATE, as key=value.
exec awk \
    -v peers="${PEERS:-10000000}" \
    -v per_min="${SETUPS_PER_MIN:-10}" \
    -v sig_per_setup="${SIGNALS_PER_SETUP:-2}" \
    -v us_send="${US_SEND:-45}" \
    -v us_recv="${US_RECV:-35}" \
    -v us_held="${US_HELD:-10}" \
    -v us_reg="${US_REG:-253}" \
    -v regs_hour="${REGS_PER_HOUR:-2}" \
    -v ops_reg="${OPS_PER_REGISTRATION:-5}" \
    -v ops_sig="${OPS_PER_SIGNAL:-2}" \
    -v ops_core="${OPS_PER_CORE:-174000}" \
    -v ttl="${TTL:-15}" \
    -v sess_max="${SESSIONS_PER_INSTANCE:-19900}" \
    -v sess_kb="${KB_PER_SESSION:-4.0}" \
    -v rec_b="${BYTES_PER_RECORD:-1526}" \
    -v replicas="${REPLICAS:-1}" \
    -v sig_b="${BYTES_PER_SIGNAL:-700}" \
    -v relay_frac="${RELAY_FRACTION:-0.05}" \
    -v relay_kbps="${RELAY_KBIT_S:-200}" \
    -v active="${ACTIVE_FRACTION:-0.1}" \
    -v here_rate="${HERE_RATE:-0}" \
    -v here_held="${HERE_HELD:-10000}" '
BEGIN {
	setups = peers * per_min / 60
	signals = setups * sig_per_setup
	regs = peers * regs_hour / 3600
	# Instance CPU: every signal crosses (many instances), sender side
	# and receiver side; every held peer; every registration.
	inst_cores = (signals * (us_send + us_recv) + peers * us_held + \
	    regs * us_reg) / 1e6
	by_fd = peers / sess_max
	instances = by_fd > inst_cores ? by_fd : inst_cores
	# Engine: each signal ops_sig commands, each registration ops_reg;
	# each held peer refreshes two TTLs every TTL/3 seconds.
	ops_signal = signals * ops_sig
	ops_reg_s = regs * ops_reg
	ops_refresh = peers * 2 / (ttl / 3)
	shards = (ops_signal + ops_refresh + ops_reg_s) / ops_core
	eng_gb = peers * rec_b * (1 + replicas) / 1e9
	inst_gb = peers * sess_kb * 1024 / 1e9
	sig_gbit = signals * sig_b * 8 * 2 / 1e9	# in and out of the engine
	relay_gbit = peers * active * relay_frac * relay_kbps * 2 / 1e6
	printf "type=model peers=%d setups_per_s=%.0f signals_per_s=%.0f registrations_per_s=%.0f", peers, setups, signals, regs
	printf " instance_cores=%.0f instances=%.0f instance_mem_gb=%.1f", inst_cores, instances, inst_gb
	printf " engine_ops_per_s=%.0f engine_ops_refresh=%.0f engine_ops_registration=%.0f engine_primaries=%.0f engine_mem_gb=%.1f", ops_signal + ops_refresh + ops_reg_s, ops_refresh, ops_reg_s, shards, eng_gb
	printf " signalling_gbit_s=%.1f relayed_gbit_s=%.1f", sig_gbit, relay_gbit
	m = peers / 1e6
	printf " per_million_cores=%.1f per_million_mem_gb=%.1f per_million_gbit_s=%.2f\n", (inst_cores + shards * (1 + replicas)) / m, (inst_gb + eng_gb) / m, (sig_gbit + relay_gbit) / m
	if (here_rate > 0)
		printf "type=check rate=%d held=%d sender_instance_cpu=%.3f\n", here_rate, here_held, (here_held * us_held + here_rate * us_send) / 1e6
}'
