package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/socialkit/messaging"
)

// open opens the store. Only send may create it: reading a store that is not
// there is an error, and must not leave an empty one behind.
func (c *cli) open(create bool) (*messaging.Inboxes, error) {
	if !create {
		if _, err := os.Stat(c.path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no store at %s", c.path)
		}
	}
	return messaging.Open(c.path)
}

// exists reports whether the store is there already.
func (c *cli) exists() bool { return storeSpec(c.path).exists() }

// storeSpec is what -db or -to names: a bbolt file path.
type storeSpec string

func (s storeSpec) exists() bool {
	_, err := os.Stat(string(s))
	return err == nil
}

// openStore opens the store spec names; only create may make a new one.
func (c *cli) openStore(spec string, create bool) (messaging.Store, error) {
	if !create && !storeSpec(spec).exists() {
		return nil, fmt.Errorf("no store at %s", spec)
	}
	return messaging.OpenBoltStore(spec, nil)
}

// removeNew removes a store file this run created for nothing.
func (c *cli) removeNew() { _ = os.Remove(c.path) }

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
