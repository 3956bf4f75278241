# Sourced by .ci/run: starts a throwaway PostgreSQL 15 on 127.0.0.1 for the
# tests that need one (package pgstore), exports MESSAGING_TEST_PG_URL, and
# stops the server and removes its files when the sourcing shell exits.
# initdb refuses to run as root: as root, the server runs as postgres.

pg_bin=/usr/lib/postgresql/15/bin
if [ ! -x "$pg_bin/initdb" ]; then
	echo "== installing postgresql-15"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi

pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_dir=$(mktemp -d /tmp/ci-postgres.XXXXXX)
if [ "$(id -u)" = 0 ]; then
	chown postgres "$pg_dir"
fi

pg_stop() {
	pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$pg_dir"
}
trap pg_stop EXIT

pg_as_owner "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync --no-instructions >/dev/null
cat >>"$pg_dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_dir/data'
max_connections = 300
fsync = off
CONF

# A free port: try a few at random until the server starts on one.
pg_port=
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 30000))
	echo "port = $port" >"$pg_dir/data/postgresql.auto.conf"
	if pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 60 start >/dev/null; then
		pg_port=$port
		break
	fi
done
if [ -z "$pg_port" ]; then
	echo "could not start PostgreSQL:"
	cat "$pg_dir/log"
	exit 1
fi
export MESSAGING_TEST_PG_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
