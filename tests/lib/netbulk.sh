# Host side of the bulk TCP transfer (tests/guest/net_bulk.c) shared by
# tests/realguest/net-offload.sh and bench/net-throughput.sh, sourced from
# the repository root. Link-local IPv6 only: the host end is fe80::1.
#
#   nb_build DIR        builds the host's net_bulk as DIR/net_bulk, sets nb
#   nb_tap NAME [multi_queue]  creates tap NAME (multi-queue if asked), up,
#                       with fe80::1 (no DAD wait)
#   nb_serve NAME LOG   starts net_bulk serving one transfer on tap NAME
#                       (port 5201) in the background, output in LOG; sets
#                       nb_pid
#   nb_counts NAME      prints the tap's "rx_bytes rx_packets tx_bytes
#                       tx_packets" (host rx: what the guest sent)
#   nb_avg B0 P0 B1 P1  bytes per packet between two counts (0 if none)
nb_build() {
	nb=$1/net_bulk
	gcc -O2 -Wall -o "$nb" tests/guest/net_bulk.c
}

nb_tap() {
	modprobe tun 2>/dev/null
	ip tuntap add "$1" mode tap ${2:+"$2"} || return 1
	sysctl -qw "net.ipv6.conf.$1.accept_dad=0" 2>/dev/null
	ip link set "$1" up
	ip -6 addr add fe80::1/64 dev "$1"
}

nb_serve() {
	"$nb" serve "$1" 5201 600 >"$2" 2>&1 &
	nb_pid=$!
}

nb_counts() {
	local s=/sys/class/net/$1/statistics
	echo "$(cat "$s/rx_bytes") $(cat "$s/rx_packets") $(cat "$s/tx_bytes") $(cat "$s/tx_packets")"
}

nb_avg() { awk -v b="$(($3 - $1))" -v p="$(($4 - $2))" 'BEGIN { print (p > 0 ? int(b / p) : 0) }'; }
