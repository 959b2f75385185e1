// Package memstat reads the process's peak resident memory.
package memstat
