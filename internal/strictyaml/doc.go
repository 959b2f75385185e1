// Package strictyaml decodes YAML into Go structs and refuses what does not
// fit, with one line that names the field and what was expected.
//
// yaml.v3's KnownFields reports "field x not found in type pkg.T"; users of
// a job file want "line 7: input.sizee: unknown field (expected one of: name,
// layout, size, color)". The check walks the YAML tree against the Go type
// before decoding, so the message carries the field's full path.
package strictyaml
