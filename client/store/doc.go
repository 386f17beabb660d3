// Package store is the Sky client's encrypted local store.
package store
