// Package download keeps files fetched from pinned URLs in a local
// directory, each verified by its SHA-256 before it is used: backbone
// weights, class lists and dataset archives. A file appears whole and
// verified or not at all. Without network access the error is one line
// naming each file, its URL and SHA-256 and the folder to put it in; a
// mirror (FEATURIZER_MIRROR) can stand in for the pinned URLs.
package download
