package pgtest

// A throwaway PostgreSQL server: initdb in a temporary directory, trust
// authentication on 127.0.0.1 only, a free port, the unix socket in the
// data directory. As root, initdb and the server run as the postgres user,
// which PostgreSQL requires.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// ServerOptions configures StartServer. The zero value is a plain server.
type ServerOptions struct {
	// HBA lines go before the trust lines initdb writes, so they win for
	// the connections they match (e.g. a role that must give a password).
	HBA []string
	// Settings are extra postgresql.conf lines ("name = value").
	Settings []string
}

// Server is a PostgreSQL server this process started.
type Server struct {
	binDir   string
	dir      string // data directory, removed by Remove
	port     int
	runAs    string // "" or the user to run the binaries as
	watchdog *exec.Cmd
}

// FindBinaries returns the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/*/bin (Debian's layout), or the one on PATH.
func FindBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	_, err2 := exec.LookPath("pg_ctl")
	if err1 == nil && err2 == nil {
		return filepath.Dir(initdb), nil
	}
	return "", errors.New("no PostgreSQL binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&0o111 != 0
}

// StartServer initialises a data directory and starts a server on it. Stop
// it with Remove. A watchdog process stops the server and removes the
// directory if this process dies without doing so (a test timeout, a
// crash), so no server outlives its tests.
func StartServer(opts ServerOptions) (*Server, error) {
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{binDir: binDir}
	if os.Geteuid() == 0 {
		s.runAs = "postgres" // initdb refuses to run as root
	}
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.Remove()
		}
	}()
	if s.runAs != "" {
		if err := chown(s.dir, s.runAs); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := s.configure(data, opts); err != nil {
		return nil, err
	}
	s.startWatchdog()
	// A free port may be taken between the probe and the start: try again.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		if err = s.writePort(data); err != nil {
			return nil, err
		}
		if err = s.Start(); err == nil || attempt == 2 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

func (s *Server) configure(data string, opts ServerOptions) error {
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '" + data + "'",
		"max_connections = 300",
		"shared_buffers = 128MB",
		"logging_collector = off",
	}
	conf = append(conf, opts.Settings...)
	if err := appendFile(filepath.Join(data, "postgresql.conf"), strings.Join(conf, "\n")+"\n"); err != nil {
		return err
	}
	if len(opts.HBA) > 0 {
		hba := filepath.Join(data, "pg_hba.conf")
		old, err := os.ReadFile(hba)
		if err != nil {
			return err
		}
		if err := os.WriteFile(hba, append([]byte(strings.Join(opts.HBA, "\n")+"\n"), old...), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) writePort(data string) error {
	return os.WriteFile(filepath.Join(data, "postgresql.auto.conf"), fmt.Appendf(nil, "port = %d\n", s.port), 0o600)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func chown(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// command runs a PostgreSQL binary as the server's user.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(s.binDir, name)
	if s.runAs != "" {
		return exec.Command("runuser", append([]string{"-u", s.runAs, "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := s.command(name, args...)
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

// URL is the connection URL of the server's postgres database, as the
// postgres superuser.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Port is the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// Start starts the server (again, after Stop) and waits until it accepts
// connections.
func (s *Server) Start() error {
	data := filepath.Join(s.dir, "data")
	out, err := s.run("pg_ctl", "-D", data, "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, tail(log, 2000))
	}
	return nil
}

// Stop stops the server with pg_ctl's shutdown mode: "fast" or
// "immediate" (which is a crash: the next start recovers from the WAL).
func (s *Server) Stop(mode string) error {
	out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", mode, "-w", "-t", "60", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	return nil
}

// Remove stops the server if it runs and deletes its directory.
func (s *Server) Remove() {
	if s.dir == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", "postmaster.pid")); err == nil {
		_ = s.Stop("immediate")
	}
	_ = os.RemoveAll(s.dir)
	if s.watchdog != nil {
		_ = s.watchdog.Process.Kill()
		_ = s.watchdog.Wait()
	}
}

// startWatchdog starts a shell that waits for this process to end and then
// stops the server and removes its directory. It runs in a process group
// of its own, so that a ^C to the tests does not take it down before it
// has cleaned up.
func (s *Server) startWatchdog() {
	stop := s.command("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "stop")
	script := fmt.Sprintf(`while kill -0 %d 2>/dev/null; do sleep 1; done; %s >/dev/null 2>&1; rm -rf %s`,
		os.Getpid(), shellJoin(stop.Args), shellQuote(s.dir))
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Start() == nil {
		s.watchdog = cmd
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return bytes.TrimSpace(b)
}

// Exec runs sql on the server's postgres database as the superuser.
func (s *Server) Exec(ctx context.Context, sql string) error {
	return execURL(ctx, s.URL(), sql)
}

func execURL(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
