// Package pgstore is a messaging.Store in PostgreSQL, for applications that
// run several processes over one database.
package pgstore
