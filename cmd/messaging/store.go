package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/socialkit/messaging"
	"github.com/socialkit/messaging/pgstore"
)

// storeSpec is what -db, MESSAGING_DB or -to names: a bbolt file path, or
// a postgres:// (or postgresql://) URL of a PostgreSQL database, whose
// schema "messaging" holds the store (?schema=NAME names another).
type storeSpec string

func (s storeSpec) postgres() bool {
	return strings.HasPrefix(string(s), "postgres://") || strings.HasPrefix(string(s), "postgresql://")
}

// exists reports whether there is a store there already. A database is
// taken to be there: pgstore creates its tables when they are missing.
func (s storeSpec) exists() bool {
	if s.postgres() {
		return true
	}
	_, err := os.Stat(string(s))
	return err == nil
}

// String is the spec as printed: a URL without its password.
func (s storeSpec) String() string {
	if u, err := url.Parse(string(s)); err == nil && s.postgres() {
		return u.Redacted()
	}
	return string(s)
}

// openStore opens the store spec names. Only create may make a new bbolt
// file: reading a store that is not there is an error, and must not leave
// an empty one behind.
func (c *cli) openStore(spec string, create bool) (messaging.Store, error) {
	s := storeSpec(spec)
	if !create && !s.exists() {
		return nil, fmt.Errorf("no store at %s", s)
	}
	if !s.postgres() {
		return messaging.OpenBoltStore(spec, nil)
	}
	u, err := url.Parse(spec)
	if err != nil {
		return nil, err
	}
	opts := &pgstore.Options{Schema: u.Query().Get("schema")}
	q := u.Query()
	q.Del("schema") // ours, not the driver's
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return pgstore.Open(ctx, u.String(), opts)
}

// open opens the store of -db as Inboxes.
func (c *cli) open(create bool) (*messaging.Inboxes, error) {
	s, err := c.openStore(c.path, create)
	if err != nil {
		return nil, err
	}
	return messaging.New(s), nil
}

// exists reports whether the store of -db is there already.
func (c *cli) exists() bool { return storeSpec(c.path).exists() }

// removeNew removes a store file this run created for nothing.
func (c *cli) removeNew() {
	if !storeSpec(c.path).postgres() {
		_ = os.Remove(c.path)
	}
}

// with opens the store, runs fn, and closes the store, keeping fn's error
// first.
func (c *cli) with(create bool, fn func(x *messaging.Inboxes) error) error {
	x, err := c.open(create)
	if err != nil {
		return err
	}
	err = fn(x)
	if cerr := x.Close(); err == nil {
		err = cerr
	}
	return err
}
